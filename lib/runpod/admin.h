// The whole-tool commands that ib-run exposes around pods and settings: `server status`,
// `server stop ID|--all-orphans`, `doctor` and `update-pricing` (the settings commands `init`
// and `config set` live beside the settings, in lib/appconfig/commands.h).
// Each Cmd* returns the exit code and writes human text to out/err; none prints a secret.
//
//   ib::runpod::AdminOptions options;               // RunPod URLs from env or defaults
//   return ib::runpod::CmdServerStatus(options, std::cout, std::cerr);
//
// An "ib pod" is a pod whose name starts with "ib-". It is an orphan when nobody holds it: it
// was not kept on purpose (env IB_KEEP), and its owner (env IB_OWNER_HOST/IB_OWNER_PID, set by
// ib-provision) is this host and no ib-provision with that pid is alive, or it has no owner.
// Pods owned by another host are never orphans here (stop them by id).
#pragma once

#include <ctime>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "lib/runpod/client.h"

namespace ib::runpod {

struct AdminOptions {
  AdminOptions();
  std::string api_base;     // DefaultApiBase()
  std::string graphql_url;  // ib::pricing::DefaultGraphqlUrl()
  std::time_t now;          // time(nullptr)
  int api_attempts = 4;
  int backoff_ms = 1000;
  long api_timeout_ms = 15000;
};

struct IbPod {
  Pod pod;
  std::string run_id;
  std::optional<double> age_s;        // since lastStartedAt
  std::optional<double> cost_so_far;  // costPerHr x age
  bool kept = false;
  std::string owner;  // "host:pid" or ""
  bool owner_alive = false;
  bool orphan = false;
};

// Whether an ib-provision with this pid runs on this machine.
bool IsIbProvisionAlive(int64_t pid);
std::string HostName();
// Classifies pods (only names starting with "ib-" are kept).
std::vector<IbPod> ClassifyIbPods(const std::vector<Pod>& pods, std::time_t now);
std::string FormatPodTable(const std::vector<IbPod>& pods);

int CmdServerStatus(const AdminOptions& options, std::ostream& out, std::ostream& err);
int CmdServerStop(const AdminOptions& options, const std::string& pod_id, std::ostream& out, std::ostream& err);
int CmdServerStopOrphans(const AdminOptions& options, std::ostream& out, std::ostream& err);
// Terminates every pod of one run (by its name, "ib-" + run_id): ib-run's last resort when
// ib-provision, which owns the pod, died without tearing it down. 0 when none is left.
int CmdServerStopRun(const AdminOptions& options, const std::string& run_id, std::ostream& out, std::ostream& err);
// Key present (and file private), pricing age, API reachable, ib pods running. Lines
// "OK   ...", "WARN ...", "FAIL ..."; exit 1 if any FAIL.
int CmdDoctor(const AdminOptions& options, std::ostream& out, std::ostream& err);
// Refreshes prices into ~/.config/ib/pricing.json.
int CmdUpdatePricing(const AdminOptions& options, std::ostream& out, std::ostream& err);

}  // namespace ib::runpod
