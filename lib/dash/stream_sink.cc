#include "lib/dash/stream_sink.h"

#include "lib/events/stream.h"

namespace ib::dash {

void PumpStream(int fd, const std::string& source, StreamSink& sink) {
  events::EventReader reader(fd, source);
  while (auto item = reader.Next()) {
    sink.OnEvent(source, item->event, item->valid ? std::string_view(item->raw) : std::string_view());
  }
  sink.OnStreamEnd(source);
}

}  // namespace ib::dash
