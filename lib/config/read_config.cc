#include <algorithm>

#include "lib/stats/slo_metrics.h"
#include "lib/config/gpu_types.h"
#include "lib/config/sections.h"
#include "lib/config/suggest.h"

namespace ib::config::internal {

namespace {

const std::vector<std::string> kTopKeys = {"name", "description", "extends", "model", "framework",
                                           "framework_options", "infrastructure", "workload", "metrics"};
const std::vector<std::string> kModelKeys = {"name", "quantization"};
const std::vector<std::string> kFrameworkOptionKeys = {
    "max_model_len", "gpu_memory_utilization", "enable_prefix_caching", "tensor_parallel_size", "extra_args"};
const std::vector<std::string> kInfraKeys = {"provider", "gpu_type", "gpu_count", "cloud_type",
                                             "container_disk_gb", "sim", "load"};
const std::vector<std::string> kLoadKeys = {"launcher", "tasks", "srun_args", "collector", "advertise", "k8s"};
const std::vector<std::string> kK8sKeys = {"image", "namespace", "cpu", "memory", "cpu_limit", "memory_limit",
                                           "start_delay_s"};

// A Kubernetes resource quantity as ib writes them: a decimal number with an optional suffix
// ("500m", "1.5", "2Gi", "512M").
bool IsQuantity(const std::string& q) {
  static const std::vector<std::string> kSuffixes = {"", "m", "k", "M", "G", "T", "P", "E",
                                                     "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  std::size_t digits = q.find_first_not_of("0123456789.");
  std::string number = q.substr(0, digits), suffix = digits == std::string::npos ? "" : q.substr(digits);
  if (number.empty() || number.front() == '.' || number.back() == '.' ||
      std::count(number.begin(), number.end(), '.') > 1)
    return false;
  return std::find(kSuffixes.begin(), kSuffixes.end(), suffix) != kSuffixes.end();
}

// A DNS-1123 label (a Kubernetes namespace name).
bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
}

// "host", "host:port", "[v6]", "[v6]:port" -> (host, port or ""); a bare IPv6 address is a host.
std::pair<std::string, std::string> SplitHostPort(const std::string& a) {
  if (!a.empty() && a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string::npos) return {"", ""};
    std::string rest = a.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {"", ""};
    return {a.substr(1, close - 1), rest.empty() ? "" : rest.substr(1)};
  }
  auto colon = a.find(':');
  if (colon == std::string::npos || a.find(':', colon + 1) != std::string::npos) return {a, ""};
  return {a.substr(0, colon), a.substr(colon + 1)};
}

bool IsLoopbackOrAny(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == "0.0.0.0" || host == "::" || host.empty();
}
const std::vector<std::string> kSimKeys = {"preset", "speed", "seed", "load_time_s", "args"};
const std::vector<std::string> kMetricsKeys = {"collect_gpu_metrics", "sample_interval_ms", "output_dir",
                                               "percentiles", "goodput"};
// SLO names come from the one list of latency metrics (and their older aliases).
const std::vector<std::string> kGoodputKeys = stats::GoodputKeys();

}  // namespace

void ReadConfig(const Node& root, ExperimentConfig& c, Reader& r) {
  r.CheckKeys(&root, "", kTopKeys);
  ReadName(root, c, r);
  ReadModel(root, c, r);
  ReadFramework(root, c, r);
  ReadFrameworkOptions(root, c, r);
  ReadInfrastructure(root, c, r);
  ReadWorkload(root, c, r);
  ReadMetrics(root, c, r);
  // A search's goodput_frac counts requests meeting metrics.goodput: it needs one set.
  const auto& search = c.workload.search;
  const auto& g = c.metrics.goodput;
  if (search && search->goodput_frac && !g.ttft_ms && !g.tpot_ms && !g.e2e_latency_ms &&
      !g.ttft_intended_ms && !g.e2e_intended_ms) {
    const Node* at = root.Get("workload")->Get("search")->Get("slo")->Get("goodput_frac");
    r.Error(at, "", "workload.search.slo.goodput_frac needs an SLO in metrics.goodput (ttft_ms, ttft_intended_ms, tpot_ms, e2e_latency_ms or e2e_intended_ms)");
  }
}

void ReadName(const Node& root, ExperimentConfig& c, Reader& r) {
  if (r.Require(&root, "name", "name", &root)) {
    if (auto v = r.String(root.Get("name"), "name")) {
      c.name = *v;
      if (c.name.empty() || c.name.find_first_of("/\\ \t\n") != std::string::npos || c.name[0] == '.') {
        r.Error(root.Get("name"), "", "name must be non-empty, must not start with '.', and must not contain '/', '\\' or whitespace (it names files), got '" + c.name + "'");
      }
    }
  }
  c.description = r.String(root.Get("description"), "description");
}

void ReadModel(const Node& root, ExperimentConfig& c, Reader& r) {
  const Node* model = root.Get("model");
  if (r.Require(&root, "model", "model", &root) && r.IsMap(model, "model")) {
    r.CheckKeys(model, "model", kModelKeys);
    if (r.Require(model, "name", "model.name", model)) {
      if (auto v = r.String(model->Get("name"), "model.name")) c.model.name = *v;
    }
    c.model.quantization = r.String(model->Get("quantization"), "model.quantization");
  }
}

void ReadFramework(const Node& root, ExperimentConfig& c, Reader& r) {
  if (r.Require(&root, "framework", "framework", &root)) {
    if (auto v = r.String(root.Get("framework"), "framework")) {
      c.framework = *v;
      if (c.framework != "vllm" && c.framework != "sglang") {
        r.Error(root.Get("framework"), "", "framework must be 'vllm' or 'sglang', got '" + c.framework + "'" +
                                               DidYouMean(c.framework, {"vllm", "sglang"}));
      }
    }
  }
}

void ReadFrameworkOptions(const Node& root, ExperimentConfig& c, Reader& r) {
  if (const Node* fo = root.Get("framework_options"); r.IsMap(fo, "framework_options")) {
    r.CheckKeys(fo, "framework_options", kFrameworkOptionKeys);
    auto& o = c.framework_options;
    o.max_model_len = r.Int(fo->Get("max_model_len"), "framework_options.max_model_len");
    if (o.max_model_len && *o.max_model_len < 1) {
      r.Error(fo->Get("max_model_len"), "", "framework_options.max_model_len must be >= 1, got " + std::to_string(*o.max_model_len));
    }
    if (auto v = r.Number(fo->Get("gpu_memory_utilization"), "framework_options.gpu_memory_utilization")) {
      o.gpu_memory_utilization = *v;
      if (*v <= 0 || *v > 1) {
        r.Error(fo->Get("gpu_memory_utilization"), "",
                "framework_options.gpu_memory_utilization must be in (0, 1], got " + FormatNumber(*v));
      }
    }
    o.enable_prefix_caching = r.Bool(fo->Get("enable_prefix_caching"), "framework_options.enable_prefix_caching");
    o.tensor_parallel_size = r.Int(fo->Get("tensor_parallel_size"), "framework_options.tensor_parallel_size");
    if (o.tensor_parallel_size && *o.tensor_parallel_size < 1) {
      r.Error(fo->Get("tensor_parallel_size"), "", "framework_options.tensor_parallel_size must be >= 1, got " + std::to_string(*o.tensor_parallel_size));
    }
    if (auto v = r.StringList(fo->Get("extra_args"), "framework_options.extra_args")) o.extra_args = *v;
  }
}

void ReadInfrastructure(const Node& root, ExperimentConfig& c, Reader& r) {
  // The original defaults the whole block when it is omitted.
  if (const Node* infra = root.Get("infrastructure"); r.IsMap(infra, "infrastructure")) {
    r.CheckKeys(infra, "infrastructure", kInfraKeys);
    auto& i = c.infrastructure;
    if (auto v = r.String(infra->Get("provider"), "infrastructure.provider")) {
      i.provider = *v;
      if (i.provider != "runpod" && i.provider != "local") {
        r.Error(infra->Get("provider"), "", "infrastructure.provider must be 'runpod' or 'local', got '" + i.provider + "'" +
                                                DidYouMean(i.provider, {"runpod", "local"}));
      }
    }
    if (i.provider == "runpod") r.Require(infra, "gpu_type", "infrastructure.gpu_type", infra);
    if (auto v = r.String(infra->Get("gpu_type"), "infrastructure.gpu_type")) {
      i.gpu_type = *v;
      if (i.provider == "runpod" && FindGpuType(i.gpu_type) == nullptr) {
        std::vector<std::string> names;
        for (const auto& g : GpuTypes()) names.push_back(g.key);
        r.Error(infra->Get("gpu_type"), "", "infrastructure.gpu_type: unknown GPU type '" + i.gpu_type +
                                                "'; known types: " + JoinList(names) + DidYouMean(i.gpu_type, names));
      }
    }
    if (auto v = r.Int(infra->Get("gpu_count"), "infrastructure.gpu_count")) {
      i.gpu_count = *v;
      if (*v < 1) r.Error(infra->Get("gpu_count"), "", "infrastructure.gpu_count must be >= 1, got " + std::to_string(*v));
    }
    if (auto v = r.String(infra->Get("cloud_type"), "infrastructure.cloud_type")) {
      i.cloud_type = *v;
      if (*v != "community" && *v != "secure") {
        r.Error(infra->Get("cloud_type"), "", "infrastructure.cloud_type must be 'community' or 'secure', got '" + *v + "'");
      }
    }
    i.container_disk_gb = r.Int(infra->Get("container_disk_gb"), "infrastructure.container_disk_gb");
    if (i.container_disk_gb && *i.container_disk_gb < 1) {
      r.Error(infra->Get("container_disk_gb"), "", "infrastructure.container_disk_gb must be >= 1, got " + std::to_string(*i.container_disk_gb));
    }
    if (const Node* sim = infra->Get("sim"); r.IsMap(sim, "infrastructure.sim")) {
      r.CheckKeys(sim, "infrastructure.sim", kSimKeys);
      if (i.provider != "local") r.Error(sim, "", "infrastructure.sim applies only to provider 'local'");
      if (auto v = r.String(sim->Get("preset"), "infrastructure.sim.preset")) i.sim.preset = *v;
      if (auto v = r.Number(sim->Get("speed"), "infrastructure.sim.speed")) {
        i.sim.speed = *v;
        if (*v <= 0) r.Error(sim->Get("speed"), "", "infrastructure.sim.speed must be > 0, got " + FormatNumber(*v));
      }
      if (auto v = r.Int(sim->Get("seed"), "infrastructure.sim.seed")) i.sim.seed = *v;
      if (auto v = r.Number(sim->Get("load_time_s"), "infrastructure.sim.load_time_s")) {
        i.sim.load_time_s = *v;
        if (*v < 0) r.Error(sim->Get("load_time_s"), "", "infrastructure.sim.load_time_s must be >= 0, got " + FormatNumber(*v));
      }
      if (auto v = r.StringList(sim->Get("args"), "infrastructure.sim.args")) i.sim.args = *v;
    }
    if (const Node* load = infra->Get("load"); r.IsMap(load, "infrastructure.load")) {
      r.CheckKeys(load, "infrastructure.load", kLoadKeys);
      i.load.set = true;
      if (auto v = r.String(load->Get("launcher"), "infrastructure.load.launcher")) {
        i.load.launcher = *v;
        if (*v != "local" && *v != "slurm" && *v != "k8s")
          r.Error(load->Get("launcher"), "", "infrastructure.load.launcher must be 'local', 'slurm' or 'k8s', got '" + *v +
                                                 "'" + DidYouMean(*v, {"local", "slurm", "k8s"}));
      }
      const bool cluster = i.load.launcher == "slurm" || i.load.launcher == "k8s";
      i.load.tasks = r.Int(load->Get("tasks"), "infrastructure.load.tasks");
      if (i.load.tasks && *i.load.tasks < 1)
        r.Error(load->Get("tasks"), "", "infrastructure.load.tasks must be >= 1, got " + std::to_string(*i.load.tasks));
      if (i.load.tasks && *i.load.tasks > 10000)
        r.Error(load->Get("tasks"), "", "infrastructure.load.tasks must be <= 10000, got " + std::to_string(*i.load.tasks));
      if (cluster) r.Require(load, "tasks", "infrastructure.load.tasks", load);
      if (!cluster && load->Get("tasks"))
        r.Error(load->Get("tasks"), "", "infrastructure.load.tasks is for launcher 'slurm' or 'k8s' (local workers: workload.workers)");
      if (auto v = r.StringList(load->Get("srun_args"), "infrastructure.load.srun_args")) i.load.srun_args = *v;
      if (auto v = r.String(load->Get("collector"), "infrastructure.load.collector")) {
        i.load.collector = *v;
        auto colon = v->rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == v->size() ||
            v->find_first_not_of("0123456789", colon + 1) != std::string::npos)
          r.Error(load->Get("collector"), "", "infrastructure.load.collector must be HOST:PORT, got '" + *v + "'");
      }
      if (auto v = r.String(load->Get("advertise"), "infrastructure.load.advertise")) {
        i.load.advertise = *v;
        auto [host, port] = SplitHostPort(*v);
        bool port_ok = port.empty() || (port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos &&
                                        std::stoi(port) >= 1 && std::stoi(port) <= 65535);
        if (host.empty() || host.find_first_of(" /") != std::string::npos || !port_ok ||
            (port.empty() && !v->empty() && v->back() == ':'))
          r.Error(load->Get("advertise"), "", "infrastructure.load.advertise must be HOST or HOST:PORT (port 1..65535), got '" + *v + "'");
      }
      if (i.load.launcher != "k8s" && load->Get("k8s"))
        r.Error(load->Get("k8s"), "", "infrastructure.load.k8s is for launcher 'k8s'");
      if (const Node* k = load->Get("k8s"); r.IsMap(k, "infrastructure.load.k8s")) {
        r.CheckKeys(k, "infrastructure.load.k8s", kK8sKeys);
        auto& o = i.load.k8s;
        if (auto v = r.String(k->Get("image"), "infrastructure.load.k8s.image")) {
          o.image = *v;
          if (v->empty() || v->find_first_of(" \t\n\"") != std::string::npos)
            r.Error(k->Get("image"), "", "infrastructure.load.k8s.image must be an image reference without spaces, got '" + *v + "'");
        }
        if (auto v = r.String(k->Get("namespace"), "infrastructure.load.k8s.namespace")) {
          o.namespace_ = *v;
          if (!IsDnsLabel(*v))
            r.Error(k->Get("namespace"), "", "infrastructure.load.k8s.namespace must be a DNS label (a-z, 0-9, '-', at most 63), got '" + *v + "'");
        }
        for (auto [key, field] : {std::pair{"cpu", &o.cpu}, {"memory", &o.memory}, {"cpu_limit", &o.cpu_limit},
                                  {"memory_limit", &o.memory_limit}}) {
          const std::string path = std::string("infrastructure.load.k8s.") + key;
          const Node* n = k->Get(key);
          if (!n) continue;
          // A bare number is a quantity too (cpu: 2).
          auto v = n->kind == Node::kScalar ? std::optional<std::string>(n->scalar) : r.String(n, path);
          if (!v) continue;
          *field = *v;
          if (!IsQuantity(*v))
            r.Error(n, "", path + " must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi, got '" + *v + "'");
        }
        if (auto v = r.Number(k->Get("start_delay_s"), "infrastructure.load.k8s.start_delay_s")) {
          o.start_delay_s = *v;
          if (*v < 1 || *v > 86400)
            r.Error(k->Get("start_delay_s"), "", "infrastructure.load.k8s.start_delay_s must be 1..86400, got " + FormatNumber(*v));
        }
      }
      if (i.load.launcher == "k8s") {
        // The pods connect from the cluster's network: a loopback or wildcard address is not one they can reach.
        std::string host = SplitHostPort(i.load.advertise.empty() ? i.load.collector : i.load.advertise).first;
        if (IsLoopbackOrAny(host))
          r.Error(load->Get(i.load.advertise.empty() ? "launcher" : "advertise"), "",
                  "infrastructure.load: the Kubernetes pods cannot reach the collector at '" + host +
                      "': set collector to an address they can reach (e.g. collector: \"0.0.0.0:7000\" and "
                      "advertise: \"<this host's address>:7000\")");
      }
    }
  }
}

void ReadMetrics(const Node& root, ExperimentConfig& c, Reader& r) {
  if (const Node* m = root.Get("metrics"); r.IsMap(m, "metrics")) {
    r.CheckKeys(m, "metrics", kMetricsKeys);
    auto& mc = c.metrics;
    if (auto v = r.Bool(m->Get("collect_gpu_metrics"), "metrics.collect_gpu_metrics")) mc.collect_gpu_metrics = *v;
    if (auto v = r.Int(m->Get("sample_interval_ms"), "metrics.sample_interval_ms")) {
      mc.sample_interval_ms = *v;
      // The original accepted 0, which made a busy loop against the server.
      if (*v < 10) r.Error(m->Get("sample_interval_ms"), "", "metrics.sample_interval_ms must be >= 10, got " + std::to_string(*v));
    }
    if (auto v = r.String(m->Get("output_dir"), "metrics.output_dir")) mc.output_dir = *v;
    if (auto v = r.NumberList(m->Get("percentiles"), "metrics.percentiles")) {
      for (double p : *v) {
        if (p <= 0 || p > 100) r.Error(m->Get("percentiles"), "", "metrics.percentiles values must be in (0, 100], got " + FormatNumber(p));
      }
      if (!v->empty()) mc.percentiles = *v;
    }
    if (const Node* g = m->Get("goodput"); r.IsMap(g, "metrics.goodput")) {
      r.CheckKeys(g, "metrics.goodput", kGoodputKeys);
      auto slo = [&](const char* key, std::optional<double>& out) {
        out = r.Number(g->Get(key), std::string("metrics.goodput.") + key);
        if (out && *out <= 0) r.Error(g->Get(key), "", std::string("metrics.goodput.") + key + " must be > 0, got " + FormatNumber(*out));
      };
      slo("ttft_ms", mc.goodput.ttft_ms);
      slo("tpot_ms", mc.goodput.tpot_ms);
      slo("e2e_latency_ms", mc.goodput.e2e_latency_ms);
      if (!mc.goodput.e2e_latency_ms) slo("e2e_ms", mc.goodput.e2e_latency_ms);
      slo("ttft_intended_ms", mc.goodput.ttft_intended_ms);
      slo("e2e_intended_ms", mc.goodput.e2e_intended_ms);
    }
  }
}

}  // namespace ib::config::internal
