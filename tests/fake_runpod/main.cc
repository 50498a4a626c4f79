// fake_runpod: the fake RunPod API as a process, for end-to-end tests and for trying ib-run
// without an account. Prints nothing on stdout; writes its port to --port-file once it listens.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "lib/cli/flags.h"
#include "lib/proc/proc.h"
#include "tests/fake_runpod/fake_runpod.h"

int main(int argc, char** argv) {
  ib::cli::Flags flags("fake_runpod", "a fake RunPod REST/GraphQL API on 127.0.0.1 whose pods are ib-sim processes");
  std::string port_file, ledger, sim_bin, api_key = "test-key", cost = "0.74", work_dir = "/tmp";
  bool no_sim = false, never_running = false, never_healthy = false;
  double load_time_s = 0.2;
  int64_t running_after_ms = 300, fault_delay_ms = 3000;
  std::vector<std::string> faults, sim_args;
  flags.String("port-file", &port_file, "write the listening port here once ready", true);
  flags.String("ledger", &ledger, "JSON ledger of every pod created and deleted");
  flags.String("sim-bin", &sim_bin, "ib-sim binary (default: found like any ib tool)");
  flags.Bool("no-sim", &no_sim, "pods start no server");
  flags.List("sim-arg", &sim_args, "extra ib-sim flag (repeatable)");
  flags.Double("sim-load-time-s", &load_time_s, "ib-sim --load-time-s");
  flags.Int("running-after-ms", &running_after_ms, "desiredStatus CREATED before, RUNNING after");
  flags.Bool("never-running", &never_running, "pods never reach RUNNING");
  flags.Bool("never-healthy", &never_healthy, "ib-sim never finishes loading");
  flags.List("fault", &faults, "ROUTE=KIND[xN]: route create|get|list|delete|graphql, kind 500|429|timeout|lost|badjson");
  flags.Int("fault-delay-ms", &fault_delay_ms, "how long a timeout fault sleeps");
  flags.String("api-key", &api_key, "bearer token to require (empty: any)");
  flags.String("cost-per-hr", &cost, "costPerHr of every pod");
  flags.String("work-dir", &work_dir, "where ib-sim port files and logs go");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;

  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a test that dies takes its fake (and the sims) along
  ib::fake_runpod::Options options;
  options.ledger_path = ledger;
  options.work_dir = work_dir;
  options.sim_load_time_s = load_time_s;
  options.sim_args = sim_args;
  options.running_after_ms = static_cast<int>(running_after_ms);
  options.never_running = never_running;
  options.never_healthy = never_healthy;
  options.fault_delay_ms = static_cast<int>(fault_delay_ms);
  options.api_key = api_key;
  options.cost_per_hr = cost;
  for (const auto& spec : faults) {
    std::string error;
    auto fault = ib::fake_runpod::ParseFault(spec, &error);
    if (!fault) {
      std::cerr << "fake_runpod: error: " << error << "\n";
      return 2;
    }
    options.faults[fault->first].push_back(fault->second);
  }
  if (!no_sim) {
    options.sim_bin = sim_bin.empty() ? ib::proc::FindTool("ib-sim") : sim_bin;
    if (options.sim_bin.empty()) {
      std::cerr << "fake_runpod: error: ib-sim not found (pass --sim-bin or --no-sim)\n";
      return 2;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server's threads start
  ib::fake_runpod::FakeRunPod fake(options);
  std::string error;
  if (!fake.Start(&error)) {
    std::cerr << "fake_runpod: error: " << error << "\n";
    return 1;
  }
  {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << fake.port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  int sig = 0;
  sigwait(&set, &sig);
  fake.Shutdown(/*fast=*/true);
  ::_exit(0);
}
