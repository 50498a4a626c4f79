// One reader per config section, each turning its part of the merged tree into typed fields
// and diagnostics. ReadConfig runs them in file order. Internal to lib/config.
//
//   Reader r(&diagnostics);
//   ReadConfig(root, config, r);
#pragma once

#include <string>
#include <vector>

#include "lib/config/config.h"
#include "lib/config/reader.h"
#include "lib/config/yaml_tree.h"

namespace ib::config::internal {

void ReadConfig(const Node& root, ExperimentConfig& c, Reader& r);

// Top level: name, description, model, framework, framework_options, infrastructure.
void ReadName(const Node& root, ExperimentConfig& c, Reader& r);
void ReadModel(const Node& root, ExperimentConfig& c, Reader& r);
void ReadFramework(const Node& root, ExperimentConfig& c, Reader& r);
void ReadFrameworkOptions(const Node& root, ExperimentConfig& c, Reader& r);
void ReadInfrastructure(const Node& root, ExperimentConfig& c, Reader& r);
void ReadMetrics(const Node& root, ExperimentConfig& c, Reader& r);

// workload and its sub-blocks (read_workload.cc); `wl` is the workload mapping.
void ReadWorkload(const Node& root, ExperimentConfig& c, Reader& r);
void ReadRequests(const Node* wl, ExperimentConfig::Workload& w, Reader& r);
void ReadParameters(const Node* wl, ExperimentConfig::Workload& w, Reader& r);
void ReadConversation(const Node* wl, ExperimentConfig::Workload& w, Reader& r);
// workload.sweep (sweep.cc).
void ReadSweep(const Node* wl, ExperimentConfig::Workload& w, Reader& r);
// workload.search (read_search.cc); after the sweep, which it excludes.
void ReadSearch(const Node* wl, ExperimentConfig::Workload& w, Reader& r);
// workload.trace, workload.rate_ramp, workload.concurrency_ramp (read_trace.cc).
void ReadTraceAndRamps(const Node* wl, ExperimentConfig::Workload& w, Reader& r);
// Rules across workload fields (a type's required field, a sweep's axis fitting the type).
void CheckWorkloadRules(const Node* wl, ExperimentConfig::Workload& w, Reader& r);

}  // namespace ib::config::internal
