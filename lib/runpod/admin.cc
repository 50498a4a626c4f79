#include "lib/runpod/admin.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "lib/appconfig/appconfig.h"
#include "lib/cli/exit_codes.h"
#include "lib/http/http.h"
#include "lib/pricing/pricing.h"
#include "lib/runpod/launch.h"

namespace ib::runpod {
namespace {

std::optional<Client> MakeClient(const AdminOptions& o, std::ostream& err) {
  std::string error;
  auto key = ib::appconfig::ResolveApiKey(&error);
  if (!key) {
    err << "ib-run: error: " << error << "\n";
    return std::nullopt;
  }
  ClientOptions c;
  c.api_base = o.api_base;
  c.api_key = key->value;
  c.max_attempts = o.api_attempts;
  c.backoff_ms = o.backoff_ms;
  c.timeout_ms = o.api_timeout_ms;
  return Client(c);
}

// Every pod of the account; on failure says why on err.
bool ListAllPods(Client& client, std::vector<Pod>* pods, std::ostream& err) {
  ApiError api;
  if (client.ListPods(pods, &api)) return true;
  err << "ib-run: error: cannot list pods: " << api.message << "\n";
  return false;
}

// Terminates one pod; on failure tells the user to do it by hand. A pod already gone counts as
// terminated when gone_is_ok.
bool TerminatePod(Client& client, const std::string& pod_id, bool gone_is_ok, std::ostream& err) {
  ApiError api;
  if (client.DeletePod(pod_id, &api) || (gone_is_ok && api.not_found())) return true;
  err << "ib-run: error: cannot terminate pod " << pod_id << ": " << api.message
      << "\nMANUAL ACTION REQUIRED: terminate it in the RunPod console (https://www.runpod.io/console/pods)\n";
  return false;
}

std::string Money(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.2f", v);
  return buf;
}

std::string Duration(double s) {
  char buf[32];
  if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  }
  return buf;
}

std::string Pad(std::string s, std::size_t n) {
  if (s.size() < n) s.append(n - s.size(), ' ');
  return s;
}

}  // namespace

AdminOptions::AdminOptions()
    : api_base(DefaultApiBase()), graphql_url(ib::pricing::DefaultGraphqlUrl()), now(std::time(nullptr)) {}

std::string HostName() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return host;
}

bool IsIbProvisionAlive(int64_t pid) {
  if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name == "ib-provision";  // a recycled pid belongs to some other program
}

std::vector<IbPod> ClassifyIbPods(const std::vector<Pod>& pods, std::time_t now) {
  std::vector<IbPod> out;
  std::string host = HostName();
  for (const auto& p : pods) {
    if (p.name.rfind(kPodNamePrefix, 0) != 0) continue;
    IbPod ib;
    ib.pod = p;
    ib.run_id = p.name.substr(std::string(kPodNamePrefix).size());
    if (auto started = ParseTimestamp(p.last_started_at)) {
      ib.age_s = std::max(0.0, std::difftime(now, *started));
      if (p.cost_per_hr) ib.cost_so_far = *p.cost_per_hr * *ib.age_s / 3600;
    }
    auto env = [&p](const char* k) {
      auto it = p.env.find(k);
      return it == p.env.end() ? std::string() : it->second;
    };
    ib.kept = env("IB_KEEP") == "1";
    std::string owner_host = env("IB_OWNER_HOST"), owner_pid = env("IB_OWNER_PID");
    if (!owner_host.empty()) ib.owner = owner_host + ":" + owner_pid;
    int64_t pid = std::atoll(owner_pid.c_str());
    ib.owner_alive = owner_host == host && IsIbProvisionAlive(pid);
    bool other_host = !owner_host.empty() && owner_host != host;
    ib.orphan = !ib.kept && !other_host && !ib.owner_alive;
    out.push_back(ib);
  }
  return out;
}

std::string FormatPodTable(const std::vector<IbPod>& pods) {
  if (pods.empty()) return "No ib pods running.\n";
  std::string out = Pad("POD ID", 16) + Pad("NAME", 40) + Pad("STATUS", 10) + Pad("AGE", 9) +
                    Pad("$/HR", 7) + Pad("SO FAR", 8) + "STATE\n";
  for (const auto& p : pods) {
    std::string state = p.kept ? "kept (--keep-server)" : p.owner_alive ? "held by ib-provision " + p.owner
                        : p.orphan ? "ORPHAN" : "owned by " + p.owner;
    out += Pad(p.pod.id, 16) + Pad(p.pod.name, 40) + Pad(p.pod.desired_status, 10) +
           Pad(p.age_s ? Duration(*p.age_s) : "?", 9) + Pad(p.pod.cost_per_hr ? Money(*p.pod.cost_per_hr) : "?", 7) +
           Pad(p.cost_so_far ? Money(*p.cost_so_far) : "?", 8) + state + "\n";
  }
  return out;
}

int CmdServerStatus(const AdminOptions& o, std::ostream& out, std::ostream& err) {
  auto client = MakeClient(o, err);
  if (!client) return exit_code::kUsage;
  std::vector<Pod> pods;
  if (!ListAllPods(*client, &pods, err)) return exit_code::kFailed;
  auto ib = ClassifyIbPods(pods, o.now);
  out << FormatPodTable(ib);
  double total = 0;
  for (const auto& p : ib) total += p.pod.cost_per_hr.value_or(0);
  if (!ib.empty()) out << ib.size() << " ib pod(s) billing " << Money(total) << "/hr. Stop one: ib-run server stop ID\n";
  return exit_code::kOk;
}

int CmdServerStop(const AdminOptions& o, const std::string& pod_id, std::ostream& out, std::ostream& err) {
  auto client = MakeClient(o, err);
  if (!client) return exit_code::kUsage;
  ApiError api;
  Pod pod;
  if (!client->GetPod(pod_id, &pod, &api)) {
    if (api.not_found()) {
      err << "ib-run: error: no pod " << pod_id << " (already terminated?)\n";
      return exit_code::kFailed;
    }
    err << "ib-run: error: " << api.message << "\n";
    return exit_code::kFailed;
  }
  if (!TerminatePod(*client, pod_id, /*gone_is_ok=*/false, err)) return exit_code::kFailed;
  out << "Terminated pod " << pod_id << " (" << pod.name << ")\n";
  return exit_code::kOk;
}

int CmdServerStopRun(const AdminOptions& o, const std::string& run_id, std::ostream& out, std::ostream& err) {
  auto client = MakeClient(o, err);
  if (!client) return exit_code::kUsage;
  std::vector<Pod> pods;
  if (!ListAllPods(*client, &pods, err)) {
    err << "MANUAL ACTION REQUIRED: terminate pod " << kPodNamePrefix << run_id
        << " in the RunPod console (https://www.runpod.io/console/pods)\n";
    return exit_code::kFailed;
  }
  int rc = 0;
  for (const Pod& pod : pods) {
    if (pod.name != kPodNamePrefix + run_id) continue;
    if (TerminatePod(*client, pod.id, /*gone_is_ok=*/true, err)) {
      out << "Terminated pod " << pod.id << " (" << pod.name << ")\n";
    } else {
      rc = 1;
    }
  }
  return rc;
}

int CmdServerStopOrphans(const AdminOptions& o, std::ostream& out, std::ostream& err) {
  auto client = MakeClient(o, err);
  if (!client) return exit_code::kUsage;
  std::vector<Pod> pods;
  if (!ListAllPods(*client, &pods, err)) return exit_code::kFailed;
  ApiError api;
  int stopped = 0, failed = 0;
  for (const auto& p : ClassifyIbPods(pods, o.now)) {
    if (!p.orphan) {
      out << "Skipping " << p.pod.id << " (" << p.pod.name << "): "
          << (p.kept ? "kept on purpose" : p.owner_alive ? "held by a running ib-provision" : "owned by " + p.owner)
          << "\n";
      continue;
    }
    if (client->DeletePod(p.pod.id, &api)) {
      out << "Terminated orphan pod " << p.pod.id << " (" << p.pod.name << ")\n";
      ++stopped;
    } else {
      err << "ib-run: error: cannot terminate pod " << p.pod.id << ": " << api.message << "\n";
      ++failed;
    }
  }
  out << stopped << " orphan pod(s) terminated";
  if (failed > 0) out << ", " << failed << " failed: MANUAL ACTION REQUIRED (RunPod console)";
  out << "\n";
  return failed > 0 ? 1 : 0;
}

int CmdDoctor(const AdminOptions& o, std::ostream& out, std::ostream& err) {
  bool fail = false;
  std::string error;
  auto key = ib::appconfig::ResolveApiKey(&error);
  if (key) {
    out << "OK   RunPod API key (from " << key->source << ")\n";
    if (key->source != "env RUNPOD_API_KEY") {
      if (std::string w = ib::appconfig::PermissionWarning(key->source); !w.empty()) out << "WARN " << w << "\n";
    }
  } else {
    out << "FAIL " << error << "\n";
    fail = true;
  }
  auto pricing = ib::pricing::LoadPricing(&error);
  if (!pricing) {
    out << "FAIL pricing: " << error << "\n";
    fail = true;
  } else if (std::string w = ib::pricing::StalenessWarning(*pricing, o.now); !w.empty()) {
    out << "WARN " << w << "\n";
  } else {
    out << "OK   GPU pricing data (" << ib::pricing::AgeDays(*pricing, o.now) << " days old, " << pricing->source << ")\n";
  }
  if (key) {
    ClientOptions c;
    c.api_base = o.api_base;
    c.api_key = key->value;
    c.max_attempts = 1;
    c.timeout_ms = 5000;
    Client client(c);
    std::vector<Pod> pods;
    ApiError api;
    if (client.ListPods(&pods, &api)) {
      out << "OK   RunPod API reachable (" << o.api_base << ")\n";
      auto ib = ClassifyIbPods(pods, o.now);
      if (ib.empty()) {
        out << "OK   no ib pods running\n";
      } else {
        out << "WARN " << ib.size() << " ib pod(s) running:\n" << FormatPodTable(ib)
            << "     stop with: ib-run server stop ID | ib-run server stop --all-orphans\n";
      }
    } else if (api.status == 401 || api.status == 403) {
      out << "FAIL RunPod rejected the API key (" << api.message << ")\n";
      fail = true;
    } else {
      out << "WARN RunPod API not reachable: " << api.message << "\n";
    }
  }
  return fail ? 1 : 0;
}

int CmdUpdatePricing(const AdminOptions& o, std::ostream& out, std::ostream& err) {
  std::string error;
  auto key = ib::appconfig::ResolveApiKey(&error);
  if (!key) {
    err << "ib-run: error: " << error << "\n";
    return exit_code::kUsage;
  }
  auto current = ib::pricing::LoadPricing(&error);
  if (!current) current = ib::pricing::BuiltinPricing();  // a broken file gets replaced
  auto result = ib::pricing::FetchPricing(o.graphql_url, key->value, *current, o.now, &error);
  if (!result) {
    err << "ib-run: error: " << error << "\n";
    return exit_code::kFailed;
  }
  std::string path = ib::pricing::PricingPath();
  if (!ib::appconfig::EnsureConfigDir(&error) || !ib::pricing::SavePricing(result->table, path, &error)) {
    err << "ib-run: error: " << error << "\n";
    return exit_code::kFailed;
  }
  out << "Updated " << result->updated << " GPU price(s), added " << result->added << " new type(s); saved to "
      << path << " (dated " << result->table.updated << ")\n";
  if (!result->unpriced.empty()) {
    out << "No current price for:";
    for (const auto& k : result->unpriced) out << " " << k << ";";
    out << " their previous prices are kept\n";
  }
  return exit_code::kOk;
}

}  // namespace ib::runpod
