// Fuzz target: an event line either parses or is rejected with a reason; whatever parses
// serializes to a line that parses again to the same serialization (a fixed point).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/events/events.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  ib::events::ParseResult parsed = ib::events::ParseEvent(line);
  if (!parsed.event) {
    if (parsed.error.empty()) std::abort();
    return 0;
  }
  std::string once = ib::events::Serialize(*parsed.event);
  ib::events::ParseResult again = ib::events::ParseEvent(once);
  if (!again.event) std::abort();
  if (ib::events::Serialize(*again.event) != once) std::abort();
  return 0;
}
