// Turns an experiment config into what ib-provision needs: the pod's LaunchSpec (GPU type
// mapped to RunPod's id through the pricing table) and a run id when none is given.
//
//   auto spec = ib::runpod::LaunchSpecFromConfig(config, pricing, run_id, &error);
//   if (!spec) ...;   // error names the unknown GPU type or provider
#pragma once

#include <ctime>
#include <optional>
#include <string>

#include "lib/config/config.h"
#include "lib/pricing/pricing.h"
#include "lib/runpod/launch.h"

namespace ib::runpod {

// Errors: provider other than runpod, a GPU type the table does not know.
std::optional<LaunchSpec> LaunchSpecFromConfig(const ib::config::ExperimentConfig& config,
                                               const ib::pricing::PricingTable& pricing,
                                               const std::string& run_id, std::string* error);

}  // namespace ib::runpod
