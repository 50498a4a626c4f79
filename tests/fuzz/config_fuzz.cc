// Fuzz target: the YAML experiment loader must never crash, hang or leak on any input; it
// either returns a config or at least one diagnostic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "lib/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  // A path in a directory with no prompt files and no parents: extends and sources fail
  // cleanly instead of reading the developer's disk.
  auto result = ib::config::LoadExperimentFromString(yaml, "/nonexistent-fuzz-dir/fuzz.yaml");
  if (result.ok() == !result.diagnostics.empty()) std::abort();  // exactly one of the two
  if (result.ok()) {
    auto iterations = ib::config::ExpandSweep(*result.config);
    if (iterations.empty()) std::abort();
    (void)ib::config::ToJson(*result.config).dump();
  }
  for (const auto& d : result.diagnostics) {
    if (d.message.empty()) std::abort();
  }
  return 0;
}
