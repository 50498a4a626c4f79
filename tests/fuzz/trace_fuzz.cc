// Fuzz target: the trace reader (lib/trace). The input is a trace file; its first byte picks the
// replay window, scale and speedup. Reading must never crash, hang or leak, must stop at the
// first bad line with a message and its line, and every request it yields must be sane.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "lib/trace/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  int fd = memfd_create("trace", 0);
  if (fd < 0) return 0;
  if (write(fd, data + 1, size - 1) != static_cast<ssize_t>(size - 1)) {
    close(fd);
    return 0;
  }
  ib::trace::Options o;
  o.file = "/proc/self/fd/" + std::to_string(fd);
  const uint8_t knob = data[0];
  o.speedup = (knob & 3) + 0.5;
  o.length_scale = (knob & 4) ? 0.01 : 1;
  o.block_tokens = (knob & 8) ? 16 : 512;
  o.max_requests = (knob & 16) ? 3 : 0;
  o.start_s = (knob & 32) ? 0.5 : 0;
  if (knob & 64) o.duration_s = 2;
  if (!ib::trace::ValidateOptions(o).empty()) std::abort();
  ib::trace::Replay replay(o);
  ib::trace::Request r;
  int64_t n = 0;
  double last = -1;
  while (replay.Next(&r)) {
    if (r.index != n++ || r.offset_s < last || r.offset_s < 0 || r.input_tokens < 1 || r.output_tokens < 1 ||
        r.block_tokens < 1 || r.line < 1)
      std::abort();
    last = r.offset_s;
    if (r.input_tokens <= 100000) {
      std::string text = ib::trace::PromptText(r);
      if (text.size() != static_cast<std::size_t>(r.input_tokens) * 4) std::abort();
    }
  }
  if (!replay.error().empty() && replay.line() < 1) std::abort();  // a bad line is named
  ib::trace::Scan scan = ib::trace::ScanReplay(o);
  if (scan.requests != n || scan.error != replay.error()) std::abort();  // the same pure function
  close(fd);
  return 0;
}
