// ib-provision: creates the RunPod pod of an experiment config, waits until its server is
// healthy, emits `phase provisioning_done` with the URL, holds the pod until stdin ends or a
// signal arrives, then terminates it. See docs/ib-provision.md.
#include <signal.h>
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "lib/appconfig/appconfig.h"
#include "lib/cli/exit_codes.h"
#include "lib/cli/flags.h"
#include "lib/config/config.h"
#include "lib/events/stream.h"
#include "lib/pricing/pricing.h"
#include "lib/runid/runid.h"
#include "lib/runpod/client.h"
#include "lib/runpod/from_config.h"
#include "lib/runpod/provisioner.h"

int main(int argc, char** argv) {
  // Signals first: a SIGTERM that arrives while we parse flags must not kill us mid-create.
  ib::runpod::StopToken stop;
  ib::runpod::InstallStopSignals(&stop);
  if (!ib::runpod::StopWhenParentDies()) stop.Request(SIGTERM);

  ib::cli::Flags flags("ib-provision", "creates a RunPod pod for a config, holds it while the run lasts, terminates it");
  std::string config_path, run_id, api_base = ib::runpod::DefaultApiBase(),
              proxy = ib::runpod::DefaultProxyTemplate();
  bool keep = false;
  ib::runpod::ProvisionOptions o;
  int64_t poll_ms = o.poll_interval_ms, api_timeout_ms = o.api_timeout_ms, attempts = o.api_attempts,
          backoff_ms = o.backoff_ms, health_request_ms = o.health_request_timeout_ms;
  flags.String("config", &config_path, "experiment YAML", true);
  flags.String("run-id", &run_id, "run id (default: <name>-YYYYMMDD-HHMMSS); the pod is named ib-<run id>");
  flags.Bool("keep-server", &keep, "do not terminate the pod at the end (prints how to stop it)");
  flags.String("api-base", &api_base, "RunPod REST base URL (env IB_RUNPOD_API_BASE)");
  flags.String("proxy-template", &proxy,
               "server URL template: {pod_id} {port} {public_ip} {public_port} (env IB_RUNPOD_PROXY_TEMPLATE)");
  flags.Int("poll-interval-ms", &poll_ms, "between readiness checks");
  flags.Double("running-timeout-s", &o.running_timeout_s, "limit for the pod to reach RUNNING");
  flags.Double("proxy-timeout-s", &o.proxy_timeout_s, "limit for the server URL to answer");
  flags.Double("health-timeout-s", &o.health_timeout_s, "limit for the health endpoint to answer 200");
  flags.Double("teardown-timeout-s", &o.teardown_timeout_s, "how long to keep retrying the terminate call");
  flags.Int("api-timeout-ms", &api_timeout_ms, "per RunPod API request");
  flags.Int("api-attempts", &attempts, "tries per RunPod API call on 429/5xx/timeouts");
  flags.Int("backoff-ms", &backoff_ms, "first retry delay (doubles)");
  flags.Int("health-request-timeout-ms", &health_request_ms, "per health request");
  flags.Epilog(
      "Holds the pod until stdin reaches EOF or SIGINT/SIGTERM/SIGHUP, then terminates it.\n"
      "The API key comes from RUNPOD_API_KEY or ~/.config/ib/config.yaml; it is never printed.\n"
      "Exit: 0 done (pod terminated or kept), 1 failed (pod terminated) or could not terminate\n"
      "(MANUAL ACTION REQUIRED on stderr), 2 bad usage or config, 130 stopped before ready.\n"
      "Example: sleep infinity | ib-provision --config experiments/examples/quick-smoke-test.yaml");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  ib::runpod::WatchStdinForEof(&stop);

  auto loaded = ib::config::LoadExperiment(config_path);
  if (!loaded.ok()) {
    for (const auto& d : loaded.diagnostics) std::cerr << d.Format("ib-provision") << "\n";
    return ib::exit_code::kUsage;
  }
  const auto& config = *loaded.config;
  std::string error;
  auto key = ib::appconfig::ResolveApiKey(&error);
  if (!key) {
    std::cerr << "ib-provision: error: " << error << "\n";
    return ib::exit_code::kUsage;
  }
  auto pricing = ib::pricing::LoadPricing(&error);
  if (!pricing) {
    std::cerr << "ib-provision: error: " << error << "\n";
    return ib::exit_code::kUsage;
  }
  if (run_id.empty()) run_id = ib::runid::Make(config.name, std::time(nullptr));
  auto launch = ib::runpod::LaunchSpecFromConfig(config, *pricing, run_id, &error);
  if (!launch) {
    std::cerr << "ib-provision: error (at " << config.source_file << "): " << error << "\n";
    return ib::exit_code::kUsage;
  }
  if (auto hf = ib::appconfig::ResolveHfToken(&error)) launch->hf_token = hf->value;

  ib::events::EventWriter writer(STDOUT_FILENO);
  ib::runpod::EventSink emit = [&writer](const ib::events::Event& e) { return writer.Write(e); };
  if (std::string stale = ib::pricing::StalenessWarning(*pricing, std::time(nullptr)); !stale.empty()) {
    emit(ib::events::MakeLog(run_id, "warning", stale, "ib-provision"));
  }
  o.launch = *launch;
  o.gpu_type = config.infrastructure.gpu_type;
  o.api_base = api_base;
  o.api_key = key->value;
  o.proxy_template = proxy;
  o.fallback_cost_per_hr = ib::pricing::HourlyRate(*pricing, config.infrastructure.gpu_type,
                                                   config.infrastructure.gpu_count, config.infrastructure.cloud_type);
  o.poll_interval_ms = static_cast<int>(poll_ms);
  o.api_timeout_ms = api_timeout_ms;
  o.api_attempts = static_cast<int>(attempts);
  o.backoff_ms = static_cast<int>(backoff_ms);
  o.health_request_timeout_ms = health_request_ms;
  o.keep_server = keep;
  return ib::runpod::Provision(o, &stop, emit, std::cerr);
}
