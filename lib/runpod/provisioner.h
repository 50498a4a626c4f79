// The life of one pod for one run: create it, wait until it runs, its URL answers and the
// server's health endpoint says 200, announce it (phase provisioning_done), hold it until told
// to stop, then terminate it. Every way out after the pod exists goes through the teardown; a
// create whose answer was lost is reconciled by listing pods by name.
//
//   ib::runpod::StopToken stop;  InstallStopSignals(&stop);  WatchStdinForEof(&stop);
//   int rc = ib::runpod::Provision(options, &stop, emit, std::cerr);
//
// Exit codes: 0 the pod was ready and is now terminated (or kept with keep_server);
// 1 provisioning failed (pod terminated) or termination failed ("MANUAL ACTION REQUIRED" on
// `err`); 130 stopped before the pod was ready (pod terminated).
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "lib/events/events.h"
#include "lib/runpod/launch.h"
#include "lib/runpod/stop.h"

namespace ib::runpod {

struct ProvisionOptions {
  LaunchSpec launch;              // launch.run_id names the pod and the events
  std::string gpu_type;           // the config's key ("A100-80GB"), for events
  std::string api_base = "https://rest.runpod.io/v1";
  std::string api_key;
  std::string proxy_template = "https://{pod_id}-{port}.proxy.runpod.net";
  std::optional<double> fallback_cost_per_hr;  // from the pricing table if the pod has no costPerHr
  int poll_interval_ms = 5000;
  long api_timeout_ms = 15000;
  int api_attempts = 4;           // per API call (create: per create round, reconciled by name)
  int backoff_ms = 2000;
  double running_timeout_s = 600;  // until desiredStatus RUNNING (and the URL can be formed)
  double proxy_timeout_s = 600;    // until the URL answers at all
  double health_timeout_s = 1800;  // until the health endpoint is 200 (model download + load)
  double teardown_timeout_s = 300; // how long to keep retrying the DELETE
  long health_request_timeout_ms = 10000;
  std::string health_path = "/health";
  bool keep_server = false;
};

// Returns false when the reader of the events went away.
using EventSink = std::function<bool(const ib::events::Event&)>;

int Provision(ProvisionOptions options, StopToken* stop, const EventSink& emit, std::ostream& err);

}  // namespace ib::runpod
