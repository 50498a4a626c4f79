// Where the streams ib-dash reads (stdin, a FIFO, each ib-run child's stdout) deliver their
// events. `source` names the stream ("stdin", "fifo", "ib-run q-3"); every stream ends with
// exactly one OnStreamEnd, after which the source may start again (a FIFO's next writer).
//
//   class Printer : public ib::dash::StreamSink { /* OnEvent, OnStreamEnd */ };
//   Printer sink;
//   ib::dash::PumpStream(STDIN_FILENO, "stdin", sink);   // returns at end of stream
#pragma once

#include <string>
#include <string_view>

#include "lib/events/events.h"

namespace ib::dash {

class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // raw_line: the line as read when it is a valid event (forwarded as is when it is already
  // stream version 2), else empty. deferred: more lines of the same read follow, so the sink
  // may hold back waking its consumers until Flush (one wake-up per read, not per event).
  virtual void OnEvent(const std::string& source, const events::Event& event,
                       std::string_view raw_line = {}, bool deferred = false) = 0;
  // Called by PumpStream before each read that may block: deferred events must go out now.
  virtual void Flush(const std::string& source) { (void)source; }
  virtual void OnStreamEnd(const std::string& source) = 0;
};

// Reads NDJSON events from fd until end of stream (bad lines become error events), delivers
// them to sink (deferred, with a Flush before each read), then calls OnStreamEnd. Does not
// close fd.
void PumpStream(int fd, const std::string& source, StreamSink& sink);

}  // namespace ib::dash
