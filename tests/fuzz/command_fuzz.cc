// Fuzz target: the dashboard's command parser (WebSocket messages from a browser) either
// yields a command or an error, and a parsed command round-trips.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/events/events.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ib::events::ParseCommand(text);
  if (!parsed.command) {
    if (parsed.error.empty()) std::abort();
    return 0;
  }
  auto again = ib::events::ParseCommand(ib::events::Serialize(*parsed.command));
  if (!again.command || again.command->index() != parsed.command->index()) std::abort();
  return 0;
}
