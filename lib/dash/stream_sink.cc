#include "lib/dash/stream_sink.h"

#include "lib/events/stream.h"

namespace ib::dash {

void PumpStream(int fd, const std::string& source, StreamSink& sink) {
  events::EventReader reader(fd, source);
  reader.set_fast_request_complete(true);  // the bulk of a stream; same events, less CPU
  reader.set_before_read([&] {
    sink.Flush(source);
    return true;
  });
  while (auto item = reader.Next()) {
    sink.OnEvent(source, item->event, item->valid ? std::string_view(item->raw) : std::string_view(),
                 /*deferred=*/true);
  }
  sink.Flush(source);
  sink.OnStreamEnd(source);
}

}  // namespace ib::dash
