#include "lib/collect/k8s.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lib/utf8/utf8.h"

namespace ib::collect {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// Kubernetes expands $(VAR) in args from the container's environment; $$ is a literal $.
std::string EscapeDollars(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '(') out += '$';
    out += s[i];
  }
  return out;
}

}  // namespace

std::string K8sJobName(const std::string& run_id) {
  std::string name = "ib-";
  for (char ch : run_id) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok) name += c;
    else if (name.back() != '-') name += '-';
  }
  if (name.size() > 52) name.resize(52);
  while (name.back() == '-') name.pop_back();
  return name;
}

std::vector<std::string> ConfigFiles(const std::string& config_path, const config::ExperimentConfig& config) {
  std::vector<std::string> files;
  auto add = [&files](const std::string& path) {
    if (path.empty()) return;
    std::error_code ec;
    std::string abs = fs::absolute(path, ec).lexically_normal().string();
    if (std::find(files.begin(), files.end(), abs) == files.end()) files.push_back(abs);
  };
  // The extends chain as the loader walks it (a relative parent is relative to its child);
  // the loader has refused cycles and missing parents already.
  std::string path = config_path;
  for (int depth = 0; depth < 64 && !path.empty(); ++depth) {
    add(path);
    std::string parent;
    try {
      YAML::Node root = YAML::LoadFile(path);
      if (root.IsMap() && root["extends"] && root["extends"].IsScalar()) parent = root["extends"].as<std::string>();
    } catch (const YAML::Exception&) {
    }
    if (parent.empty()) break;
    fs::path p(parent);
    path = p.is_absolute() ? parent : (fs::path(path).parent_path() / p).string();
  }
  add(config.workload.requests.source);
  if (config.workload.trace) add(config.workload.trace->file);
  return files;
}

std::string AdvertisedAddress(const config::ExperimentConfig::Infrastructure::Load& load, const std::string& bound_host,
                              int bound_port) {
  const std::string port = std::to_string(bound_port);
  auto bracket = [](const std::string& host) { return host.find(':') != std::string::npos ? "[" + host + "]" : host; };
  const std::string& a = load.advertise;
  if (a.empty()) return bracket(bound_host) + ":" + port;
  if (a.front() == '[') return a.find("]:") != std::string::npos ? a : a + ":" + port;
  auto colon = a.find(':');
  if (colon == std::string::npos) return a + ":" + port;
  if (a.find(':', colon + 1) != std::string::npos) return "[" + a + "]:" + port;  // a bare IPv6 address
  return a;
}

std::string K8sManifest(const K8sJob& job, std::string* error) {
  const std::string name = K8sJobName(job.run_id);
  const std::string secret = name + "-collector", files_name = name + "-files";
  const auto& k = job.load.k8s;
  const json labels = {{"app.kubernetes.io/name", "ib-load"}, {"app.kubernetes.io/instance", name}};
  auto meta = [&](const std::string& n) {
    return json{{"name", n}, {"namespace", k.namespace_}, {"labels", labels}};
  };

  // The files, each mounted at its own path: the shard's --config and the paths inside the
  // config mean the same in the pod as here.
  json data = json::object();
  json mounts = json::array();
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < job.files.size(); ++i) {
    std::string text;
    if (!ReadFile(job.files[i], &text)) {
      *error = "cannot read " + job.files[i] + " (a file the shards need)";
      return "";
    }
    if (auto at = utf8::FirstInvalidByte(text); at != std::string::npos) {
      *error = job.files[i] + ": byte " + std::to_string(at) + " is not UTF-8 (a ConfigMap carries text)";
      return "";
    }
    bytes += text.size();
    const std::string key = "file-" + std::to_string(i);
    data[key] = std::move(text);
    mounts.push_back({{"name", "files"}, {"mountPath", job.files[i]}, {"subPath", key}, {"readOnly", true}});
  }
  if (bytes > kMaxConfigMapBytes) {
    *error = "the files the shards need total " + std::to_string(bytes) + " bytes, more than a ConfigMap holds (" +
             std::to_string(kMaxConfigMapBytes) + "): use a smaller requests file";
    return "";
  }

  // The shard command: ib-load from the image's PATH, the collector's address from the Secret
  // (expanded by Kubernetes), the shard number from the completion index.
  json args = json::array();
  for (std::size_t i = 1; i < job.argv.size(); ++i) {
    const std::string& a = job.argv[i];
    if (a == "--report-to" && i + 1 < job.argv.size()) {
      args.push_back("--report-to");
      args.push_back("$(IB_REPORT_TO)");
      ++i;
    } else if (a.rfind("--report-to=", 0) == 0) {
      args.push_back("--report-to=$(IB_REPORT_TO)");
    } else {
      args.push_back(EscapeDollars(a));
    }
  }
  args.push_back("--shard");
  args.push_back("index/" + std::to_string(job.shards));

  auto from_secret = [&](const std::string& env, const std::string& key) {
    return json{{"name", env}, {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", key}}}}}};
  };
  json container = {
      {"name", "shard"},
      {"image", k.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"command", {"ib-load"}},
      {"args", args},
      {"env", {from_secret("IB_REPORT_TO", "report_to"), from_secret("IB_REPORT_TOKEN", "token")}},
      {"resources",
       {{"requests", {{"cpu", k.cpu}, {"memory", k.memory}}},
        {"limits",
         {{"cpu", k.cpu_limit.empty() ? k.cpu : k.cpu_limit}, {"memory", k.memory_limit.empty() ? k.memory : k.memory_limit}}}}},
      {"volumeMounts", mounts}};
  json job_doc = {
      {"apiVersion", "batch/v1"},
      {"kind", "Job"},
      {"metadata", meta(name)},
      {"spec",
       {{"completionMode", "Indexed"},
        {"completions", job.shards},
        {"parallelism", job.shards},
        // A retried shard would send its requests again: the merged run would count them twice
        // (and the collector refuses a second connection for the same shard). A failed pod is
        // a lost shard, reported as such.
        {"backoffLimit", 0},
        {"ttlSecondsAfterFinished", 3600},
        {"template",
         {{"metadata", {{"labels", labels}}},
          {"spec",
           {{"restartPolicy", "Never"},
            {"containers", {container}},
            {"volumes", {{{"name", "files"}, {"configMap", {{"name", files_name}}}}}}}}}}}}};
  json secret_doc = {{"apiVersion", "v1"},
                     {"kind", "Secret"},
                     {"metadata", meta(secret)},
                     {"type", "Opaque"},
                     {"stringData", {{"report_to", job.report_to}, {"token", job.token}}}};
  json files_doc = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", meta(files_name)}, {"data", data}};

  auto dump = [](const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; };
  std::string out = "# " + std::to_string(job.shards) + " ib-load shards of run " + job.run_id +
                    " (written by ib-load; docs/ib-load.md \"Running shards on Kubernetes\").\n"
                    "# Apply it with: kubectl apply -f <this file>\n"
                    "# Each document is JSON, which YAML reads as is.\n";
  out += "---\n" + dump(secret_doc) + "---\n" + dump(files_doc) + "---\n" + dump(job_doc);
  return out;
}

}  // namespace ib::collect
