// Fuzz target: the incremental SSE parser and the chunk reader. The input is split into two
// feeds at a point chosen by its first byte, so line ends split across reads are exercised;
// every dispatched event's data is read by ParseChunk, which must never crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/sse/sse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char* bytes = reinterpret_cast<const char*>(data) + 1;
  std::size_t n = size - 1;
  std::size_t split = n == 0 ? 0 : data[0] % (n + 1);
  ib::sse::Parser parser(4096);  // small limit: oversized events are exercised too
  std::size_t events = 0;
  auto on_event = [&](std::string_view event) {
    ++events;
    ib::sse::Chunk chunk;
    ib::sse::ParseChunk(event, &chunk, /*want_content=*/true);
    if (chunk.done && chunk.error) std::abort();  // [DONE] is never an error event
  };
  parser.Feed(bytes, split, on_event);
  parser.Feed(bytes + split, n - split, on_event);
  parser.Finish(on_event);
  if (events > n + 1) std::abort();  // each event needs at least one byte of input
  return 0;
}
