#include "lib/config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "lib/config/gpu_types.h"
#include "lib/prompts/prompts.h"

namespace ib::config {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- A YAML tree that remembers which file and line each value came from, so that values
// merged through `extends` still point at the file that wrote them. ----
struct Node {
  enum Kind { kNull, kScalar, kSeq, kMap } kind = kNull;
  std::string scalar;
  bool quoted = false;  // a quoted scalar is always a string ("10" is not a number)
  std::vector<Node> seq;
  std::vector<struct MapEntry> map;  // in file order
  std::string file;
  int line = 0;

  const Node* Get(const std::string& key) const;
  Node* GetMutable(const std::string& key);
};

struct MapEntry {
  std::string key;
  Node value;
};

const Node* Node::Get(const std::string& key) const {
  for (const auto& [k, v] : map) {
    if (k == key) return &v;
  }
  return nullptr;
}

Node* Node::GetMutable(const std::string& key) {
  for (auto& [k, v] : map) {
    if (k == key) return &v;
  }
  return nullptr;
}

Node Convert(const YAML::Node& y, const std::string& file) {
  Node n;
  n.file = file;
  n.line = y.Mark().line >= 0 ? y.Mark().line + 1 : 0;
  switch (y.Type()) {
    case YAML::NodeType::Scalar:
      n.kind = Node::kScalar;
      n.scalar = y.Scalar();
      n.quoted = y.Tag() == "!";
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::kSeq;
      for (const auto& item : y) n.seq.push_back(Convert(item, file));
      break;
    case YAML::NodeType::Map:
      n.kind = Node::kMap;
      for (const auto& kv : y) {
        Node value = Convert(kv.second, file);
        if (kv.second.IsNull() || !kv.second.IsDefined()) {
          value.line = kv.first.Mark().line + 1;  // a null value has no useful mark of its own
        }
        n.map.push_back({kv.first.Scalar(), std::move(value)});
      }
      break;
    default:
      n.kind = Node::kNull;
  }
  return n;
}

// Deep merge, child wins: maps merge recursively, anything else (lists included) is replaced,
// an explicit child null overrides.
void Merge(Node& parent, const Node& child) {
  if (parent.kind != Node::kMap || child.kind != Node::kMap) {
    parent = child;
    return;
  }
  for (const auto& [key, value] : child.map) {
    Node* existing = parent.GetMutable(key);
    if (existing != nullptr && existing->kind == Node::kMap && value.kind == Node::kMap) {
      Merge(*existing, value);
    } else if (existing != nullptr) {
      *existing = value;
    } else {
      parent.map.push_back({key, value});
    }
  }
}

std::string DisplayPath(const std::string& path) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  fs::path p(path);
  if (!ec && p.is_absolute()) {
    fs::path rel = p.lexically_relative(cwd);
    if (!rel.empty() && rel.native().rfind("..", 0) != 0) return rel.string();
  }
  return path;
}

std::string ResolveFrom(const std::string& from_file, const std::string& path) {
  if (path.empty()) return path;
  fs::path p(path);
  if (p.is_absolute()) return p.lexically_normal().string();
  return (fs::path(from_file).parent_path() / p).lexically_normal().string();
}

int EditDistance(const std::string& a, const std::string& b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& options) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return s;
  };
  // "A100" means "A100-80GB" more likely than the closer-by-edits "A40".
  for (const auto& o : options) {
    if (word.size() >= 3 && lower(o).rfind(lower(word), 0) == 0) return "; did you mean '" + o + "'?";
  }
  std::string best;
  int best_distance = 3;  // suggest only close matches
  for (const auto& o : options) {
    int d = EditDistance(word, o);
    if (d < best_distance) {
      best_distance = d;
      best = o;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  std::ostringstream s;
  s << v;
  return s.str();
}

// ---- Typed reading with diagnostics ----
class Reader {
 public:
  explicit Reader(std::vector<Diagnostic>* diags) : diags_(diags) {}

  void Error(const Node* at, const std::string& fallback_file, const std::string& message) {
    Diagnostic d;
    d.file = DisplayPath(at ? at->file : fallback_file);
    d.line = at ? at->line : 0;
    d.message = message;
    diags_->push_back(std::move(d));
  }

  // Checks that `node` (a map) has only `allowed` keys.
  void CheckKeys(const Node* node, const std::string& path, const std::vector<std::string>& allowed) {
    if (node == nullptr || node->kind != Node::kMap) return;
    for (const auto& [key, value] : node->map) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string full = path.empty() ? key : path + "." + key;
        Error(&value, "", "unknown key '" + full + "'" + DidYouMean(key, allowed));
      }
    }
  }

  bool IsMap(const Node* node, const std::string& path) {
    if (node == nullptr || node->kind == Node::kNull) return false;
    if (node->kind != Node::kMap) {
      Error(node, "", path + " must be a mapping");
      return false;
    }
    return true;
  }

  std::optional<std::string> String(const Node* node, const std::string& path) {
    if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
    if (node->kind != Node::kScalar) {
      Error(node, "", path + " must be a string");
      return std::nullopt;
    }
    // Like the original (pydantic, no int->str coercion): an unquoted number is not a name.
    if (!node->quoted && LooksNumeric(node->scalar)) {
      Error(node, "", path + " must be a string, got the number " + node->scalar +
                          " (quote it: \"" + node->scalar + "\")");
      return std::nullopt;
    }
    return node->scalar;
  }

  std::optional<double> Number(const Node* node, const std::string& path) {
    if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
    if (node->kind != Node::kScalar) {
      Error(node, "", path + " must be a number");
      return std::nullopt;
    }
    char* end = nullptr;
    const std::string& s = node->scalar;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end == s.c_str() || *end != '\0' || !std::isfinite(v)) {
      Error(node, "", path + " must be a number, got '" + s + "'");
      return std::nullopt;
    }
    return v;
  }

  std::optional<int64_t> Int(const Node* node, const std::string& path) {
    if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
    std::size_t before = diags_->size();
    auto v = Number(node, path);
    if (!v) {
      if (diags_->size() > before) diags_->back().message = path + " must be an integer, got '" + node->scalar + "'";
      return std::nullopt;
    }
    if (*v != std::floor(*v)) {
      Error(node, "", path + " must be an integer, got " + node->scalar);
      return std::nullopt;
    }
    return static_cast<int64_t>(*v);
  }

  std::optional<bool> Bool(const Node* node, const std::string& path) {
    if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
    if (node->kind == Node::kScalar) {
      std::string s = node->scalar;
      std::transform(s.begin(), s.end(), s.begin(), ::tolower);
      if (s == "true" || s == "yes" || s == "on" || s == "y" || s == "1") return true;
      if (s == "false" || s == "no" || s == "off" || s == "n" || s == "0") return false;
    }
    Error(node, "", path + " must be true or false, got '" + node->scalar + "'");
    return std::nullopt;
  }

  std::optional<std::vector<std::string>> StringList(const Node* node, const std::string& path) {
    if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
    if (node->kind != Node::kSeq) {
      Error(node, "", path + " must be a list of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < node->seq.size(); ++i) {
      const Node& item = node->seq[i];
      if (item.kind != Node::kScalar) {
        Error(&item, "", path + "[" + std::to_string(i) + "] must be a string");
        continue;
      }
      out.push_back(item.scalar);
    }
    return out;
  }

  std::optional<std::vector<double>> NumberList(const Node* node, const std::string& path) {
    if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
    if (node->kind != Node::kSeq) {
      Error(node, "", path + " must be a list of numbers");
      return std::nullopt;
    }
    std::vector<double> out;
    for (std::size_t i = 0; i < node->seq.size(); ++i) {
      auto v = Number(&node->seq[i], path + "[" + std::to_string(i) + "]");
      if (v) out.push_back(*v);
    }
    return out;
  }

  static bool LooksNumeric(const std::string& s) {
    if (s.empty()) return false;
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    return *end == '\0';
  }

 private:
  std::vector<Diagnostic>* diags_;
};

// ---- Loading the extends chain ----
// chain: (canonical path for cycle detection, path as resolved for messages) of every file
// on the way down.
using Chain = std::vector<std::pair<std::string, std::string>>;

std::optional<Node> LoadChain(const std::string& text, const std::string& path, Chain& chain,
                              std::vector<Diagnostic>* diags) {
  Reader r(diags);
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    Diagnostic d;
    d.file = DisplayPath(path);
    d.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    d.message = "invalid YAML: " + e.msg;
    diags->push_back(d);
    return std::nullopt;
  }
  if (!doc.IsMap()) {
    Diagnostic d;
    d.file = DisplayPath(path);
    d.line = doc.IsDefined() && !doc.IsNull() ? doc.Mark().line + 1 : 1;
    d.message = std::string("expected a YAML mapping, got ") +
                (doc.IsNull() || !doc.IsDefined() ? "an empty document" : doc.IsSequence() ? "a list" : "a scalar");
    diags->push_back(d);
    return std::nullopt;
  }
  Node node = Convert(doc, path);
  const Node* extends = node.Get("extends");
  if (extends == nullptr || extends->kind == Node::kNull) return node;
  auto parent_ref = r.String(extends, "extends");
  if (!parent_ref) return std::nullopt;
  std::string parent_path = ResolveFrom(path, *parent_ref);
  std::error_code ec;
  std::string canonical = fs::weakly_canonical(parent_path, ec).string();
  if (std::any_of(chain.begin(), chain.end(), [&](const auto& c) { return c.first == canonical; })) {
    std::string cycle;
    for (const auto& c : chain) cycle += DisplayPath(c.second) + " -> ";
    r.Error(extends, path, "extends cycle: " + cycle + DisplayPath(parent_path));
    return std::nullopt;
  }
  std::ifstream in(parent_path);
  if (!in) {
    r.Error(extends, path, "parent config not found: " + DisplayPath(parent_path));
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  chain.emplace_back(canonical, parent_path);
  auto parent = LoadChain(ss.str(), parent_path, chain, diags);
  chain.pop_back();
  if (!parent) return std::nullopt;
  Merge(*parent, node);
  return parent;
}

const std::vector<std::string> kTopKeys = {"name", "description", "extends", "model", "framework",
                                           "framework_options", "infrastructure", "workload", "metrics"};
const std::vector<std::string> kModelKeys = {"name", "quantization"};
const std::vector<std::string> kFrameworkOptionKeys = {
    "max_model_len", "gpu_memory_utilization", "enable_prefix_caching", "tensor_parallel_size", "extra_args"};
const std::vector<std::string> kInfraKeys = {"provider", "gpu_type", "gpu_count", "cloud_type",
                                             "container_disk_gb", "sim"};
const std::vector<std::string> kSimKeys = {"preset", "speed", "seed", "load_time_s", "args"};
const std::vector<std::string> kWorkloadKeys = {
    "type", "requests", "parameters", "batch_size", "concurrency", "request_rate", "arrival",
    "burstiness", "seed", "duration_s", "warmup_requests", "timeout_s", "idle_timeout_s",
    "conversation", "sweep"};
const std::vector<std::string> kRequestKeys = {"source", "count", "synthetic"};
const std::vector<std::string> kSyntheticKeys = {"input_tokens", "output_tokens", "seed"};
const std::vector<std::string> kDistributionKeys = {"mean", "stddev", "min", "max"};
const std::vector<std::string> kParameterKeys = {"max_tokens", "temperature", "ignore_eos"};
const std::vector<std::string> kConversationKeys = {"turns", "system_prompt", "user_messages", "shared_prefix"};
const std::vector<std::string> kSweepKeys = {"concurrency", "batch_size", "request_rate", "max_tokens",
                                             "temperature", "burstiness", "count", "warmup_requests",
                                             "duration_s"};
const std::vector<std::string> kMetricsKeys = {"collect_gpu_metrics", "sample_interval_ms", "output_dir",
                                               "percentiles", "goodput"};
const std::vector<std::string> kGoodputKeys = {"ttft_ms", "tpot_ms", "e2e_latency_ms"};
const std::vector<std::string> kWorkloadTypes = {"single", "batch", "concurrent", "multi_turn", "rate"};

template <typename T>
std::string JoinList(const std::vector<T>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + std::string(i);
  return out;
}

Distribution ReadDistribution(Reader& r, const Node* node, const std::string& path, Distribution d) {
  if (!r.IsMap(node, path)) return d;
  r.CheckKeys(node, path, kDistributionKeys);
  if (auto v = r.Number(node->Get("mean"), path + ".mean")) d.mean = *v;
  if (auto v = r.Number(node->Get("stddev"), path + ".stddev")) d.stddev = *v;
  if (auto v = r.Int(node->Get("min"), path + ".min")) d.min = *v;
  if (auto v = r.Int(node->Get("max"), path + ".max")) d.max = *v;
  if (d.mean < 1) r.Error(node, "", path + ".mean must be >= 1, got " + FormatNumber(d.mean));
  if (d.stddev < 0) r.Error(node, "", path + ".stddev must be >= 0, got " + FormatNumber(d.stddev));
  return d;
}

// Reads the merged tree into a config. Returns false if anything was wrong.
void ReadConfig(const Node& root, const std::string& top_file, ExperimentConfig& c, Reader& r,
                std::vector<Diagnostic>* diags) {
  auto at = [&](const Node* parent, const char* key) { return parent ? parent->Get(key) : nullptr; };
  auto require = [&](const Node* parent, const char* key, const std::string& path, const Node* where) {
    const Node* n = at(parent, key);
    if (n == nullptr || n->kind == Node::kNull) {
      r.Error(where ? where : &root, top_file, path + " is required");
      return false;
    }
    return true;
  };
  r.CheckKeys(&root, "", kTopKeys);

  if (require(&root, "name", "name", nullptr)) {
    if (auto v = r.String(root.Get("name"), "name")) {
      c.name = *v;
      if (c.name.empty() || c.name.find_first_of("/\\ \t\n") != std::string::npos || c.name[0] == '.') {
        r.Error(root.Get("name"), "", "name must be non-empty, must not start with '.', and must not contain '/', '\\' or whitespace (it names files), got '" + c.name + "'");
      }
    }
  }
  c.description = r.String(root.Get("description"), "description");

  const Node* model = root.Get("model");
  if (require(&root, "model", "model", nullptr) && r.IsMap(model, "model")) {
    r.CheckKeys(model, "model", kModelKeys);
    if (require(model, "name", "model.name", model)) {
      if (auto v = r.String(model->Get("name"), "model.name")) c.model.name = *v;
    }
    c.model.quantization = r.String(model->Get("quantization"), "model.quantization");
  }

  if (require(&root, "framework", "framework", nullptr)) {
    if (auto v = r.String(root.Get("framework"), "framework")) {
      c.framework = *v;
      if (c.framework != "vllm" && c.framework != "sglang") {
        r.Error(root.Get("framework"), "", "framework must be 'vllm' or 'sglang', got '" + c.framework + "'" +
                                               DidYouMean(c.framework, {"vllm", "sglang"}));
      }
    }
  }

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
    if (i.provider == "runpod") require(infra, "gpu_type", "infrastructure.gpu_type", infra);
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
  }

  const Node* wl = root.Get("workload");
  auto& w = c.workload;
  if (require(&root, "workload", "workload", nullptr) && r.IsMap(wl, "workload")) {
    r.CheckKeys(wl, "workload", kWorkloadKeys);
    if (require(wl, "type", "workload.type", wl)) {
      if (auto v = r.String(wl->Get("type"), "workload.type")) {
        w.type = *v;
        if (std::find(kWorkloadTypes.begin(), kWorkloadTypes.end(), w.type) == kWorkloadTypes.end()) {
          r.Error(wl->Get("type"), "", "workload.type must be one of " + JoinList(kWorkloadTypes) + ", got '" + w.type + "'" +
                                           DidYouMean(w.type, kWorkloadTypes));
        }
      }
    }
    const Node* req = wl->Get("requests");
    if (require(wl, "requests", "workload.requests", wl) && r.IsMap(req, "workload.requests")) {
      r.CheckKeys(req, "workload.requests", kRequestKeys);
      const Node* source = req->Get("source");
      const Node* synthetic = req->Get("synthetic");
      if ((source == nullptr || source->kind == Node::kNull) && (synthetic == nullptr || synthetic->kind == Node::kNull)) {
        r.Error(req, "", "workload.requests needs 'source' (a JSONL prompt file) or 'synthetic'");
      }
      if (source != nullptr && source->kind != Node::kNull && synthetic != nullptr && synthetic->kind != Node::kNull) {
        r.Error(synthetic, "", "workload.requests takes 'source' or 'synthetic', not both");
      }
      if (auto v = r.String(source, "workload.requests.source")) {
        // Relative to the file that wrote the key, not to the child that extends it.
        w.requests.source = ResolveFrom(source->file, *v);
      }
      if (r.IsMap(synthetic, "workload.requests.synthetic")) {
        r.CheckKeys(synthetic, "workload.requests.synthetic", kSyntheticKeys);
        ExperimentConfig::Workload::Requests::Synthetic s;
        s.input_tokens = ReadDistribution(r, synthetic->Get("input_tokens"), "workload.requests.synthetic.input_tokens", s.input_tokens);
        s.output_tokens = ReadDistribution(r, synthetic->Get("output_tokens"), "workload.requests.synthetic.output_tokens", s.output_tokens);
        if (auto v = r.Int(synthetic->Get("seed"), "workload.requests.synthetic.seed")) s.seed = *v;
        w.requests.synthetic = s;
      }
      if (require(req, "count", "workload.requests.count", req)) {
        if (auto v = r.Int(req->Get("count"), "workload.requests.count")) {
          w.requests.count = *v;
          if (*v < 1) r.Error(req->Get("count"), "", "workload.requests.count must be >= 1, got " + std::to_string(*v));
        }
      }
    }
    if (const Node* p = wl->Get("parameters"); r.IsMap(p, "workload.parameters")) {
      r.CheckKeys(p, "workload.parameters", kParameterKeys);
      if (auto v = r.Int(p->Get("max_tokens"), "workload.parameters.max_tokens")) {
        w.parameters.max_tokens = *v;
        if (*v < 1) r.Error(p->Get("max_tokens"), "", "workload.parameters.max_tokens must be >= 1, got " + std::to_string(*v));
      }
      if (auto v = r.Number(p->Get("temperature"), "workload.parameters.temperature")) {
        w.parameters.temperature = *v;
        if (*v < 0) r.Error(p->Get("temperature"), "", "workload.parameters.temperature must be >= 0, got " + FormatNumber(*v));
      }
      if (auto v = r.Bool(p->Get("ignore_eos"), "workload.parameters.ignore_eos")) w.parameters.ignore_eos = *v;
    }
    auto positive_int = [&](const char* key, std::optional<int64_t>& out) {
      out = r.Int(wl->Get(key), std::string("workload.") + key);
      if (out && *out < 1) r.Error(wl->Get(key), "", std::string("workload.") + key + " must be >= 1, got " + std::to_string(*out));
    };
    positive_int("batch_size", w.batch_size);
    positive_int("concurrency", w.concurrency);
    w.request_rate = r.Number(wl->Get("request_rate"), "workload.request_rate");
    if (w.request_rate && *w.request_rate <= 0) {
      r.Error(wl->Get("request_rate"), "", "workload.request_rate must be > 0, got " + FormatNumber(*w.request_rate));
    }
    if (auto v = r.String(wl->Get("arrival"), "workload.arrival")) {
      w.arrival = *v;
      if (*v != "constant" && *v != "poisson" && *v != "gamma") {
        r.Error(wl->Get("arrival"), "", "workload.arrival must be 'constant', 'poisson' or 'gamma', got '" + *v + "'" +
                                            DidYouMean(*v, {"constant", "poisson", "gamma"}));
      }
    }
    if (auto v = r.Number(wl->Get("burstiness"), "workload.burstiness")) {
      w.burstiness = *v;
      if (*v <= 0) r.Error(wl->Get("burstiness"), "", "workload.burstiness must be > 0, got " + FormatNumber(*v));
    }
    if (auto v = r.Int(wl->Get("seed"), "workload.seed")) w.seed = *v;
    w.duration_s = r.Number(wl->Get("duration_s"), "workload.duration_s");
    if (w.duration_s && *w.duration_s <= 0) {
      r.Error(wl->Get("duration_s"), "", "workload.duration_s must be > 0, got " + FormatNumber(*w.duration_s));
    }
    if (auto v = r.Int(wl->Get("warmup_requests"), "workload.warmup_requests")) {
      w.warmup_requests = *v;
      if (*v < 0) r.Error(wl->Get("warmup_requests"), "", "workload.warmup_requests must be >= 0, got " + std::to_string(*v));
    }
    for (auto [key, out] : {std::pair<const char*, double*>{"timeout_s", &w.timeout_s}, {"idle_timeout_s", &w.idle_timeout_s}}) {
      if (auto v = r.Number(wl->Get(key), std::string("workload.") + key)) {
        *out = *v;
        if (*v <= 0) r.Error(wl->Get(key), "", std::string("workload.") + key + " must be > 0, got " + FormatNumber(*v));
      }
    }
    if (const Node* conv = wl->Get("conversation"); r.IsMap(conv, "workload.conversation")) {
      r.CheckKeys(conv, "workload.conversation", kConversationKeys);
      ExperimentConfig::Workload::Conversation cv;
      if (require(conv, "turns", "workload.conversation.turns", conv)) {
        if (auto v = r.Int(conv->Get("turns"), "workload.conversation.turns")) {
          cv.turns = *v;
          if (*v < 1) r.Error(conv->Get("turns"), "", "workload.conversation.turns must be >= 1, got " + std::to_string(*v));
        }
      }
      cv.system_prompt = r.String(conv->Get("system_prompt"), "workload.conversation.system_prompt");
      cv.user_messages = r.StringList(conv->Get("user_messages"), "workload.conversation.user_messages");
      cv.shared_prefix = r.String(conv->Get("shared_prefix"), "workload.conversation.shared_prefix");
      w.conversation = cv;
    }
    if (const Node* sweep = wl->Get("sweep"); r.IsMap(sweep, "workload.sweep")) {
      r.CheckKeys(sweep, "workload.sweep", kSweepKeys);
      for (const auto& [key, value] : sweep->map) {
        if (std::find(kSweepKeys.begin(), kSweepKeys.end(), key) == kSweepKeys.end()) continue;
        auto values = r.NumberList(&value, "workload.sweep." + key);
        if (!values || values->empty()) continue;  // an empty or null axis is no axis
        bool integral = key != "request_rate" && key != "temperature" && key != "burstiness" && key != "duration_s";
        for (double v : *values) {
          bool bad = integral ? (v != std::floor(v) || v < (key == "warmup_requests" ? 0 : 1))
                              : (key == "temperature" ? v < 0 : v <= 0);
          if (bad) {
            r.Error(&value, "", "workload.sweep." + key + " values must be " +
                                    (integral ? std::string(key == "warmup_requests" ? "integers >= 0" : "integers >= 1")
                                              : std::string(key == "temperature" ? ">= 0" : "> 0")) +
                                    ", got " + FormatNumber(v));
          }
        }
        w.sweep.emplace_back(key, *values);
      }
    }

    // Cross-field rules (the original's, loosened where a sweep supplies the value).
    auto swept = [&](const std::string& key) {
      return std::any_of(w.sweep.begin(), w.sweep.end(), [&](const auto& a) { return a.first == key; });
    };
    const Node* type_node = wl->Get("type");
    if (w.type == "batch" && !w.batch_size && !swept("batch_size")) {
      r.Error(type_node, "", "workload type 'batch' requires workload.batch_size (or workload.sweep.batch_size)");
    }
    if (w.type == "concurrent" && !w.concurrency && !swept("concurrency")) {
      r.Error(type_node, "", "workload type 'concurrent' requires workload.concurrency (or workload.sweep.concurrency)");
    }
    if (w.type == "rate" && !w.request_rate && !swept("request_rate")) {
      r.Error(type_node, "", "workload type 'rate' requires workload.request_rate (or workload.sweep.request_rate)");
    }
    if (w.type == "multi_turn" && !w.conversation) {
      r.Error(type_node, "", "workload type 'multi_turn' requires workload.conversation");
    }
    if (w.type == "multi_turn" && w.requests.synthetic) {
      r.Error(wl->Get("requests"), "", "workload type 'multi_turn' needs a prompt file in workload.requests.source, not synthetic prompts");
    }
    const Node* sweep_node = wl->Get("sweep");
    if (swept("concurrency") && w.type != "concurrent" && w.type != "single") {
      r.Error(sweep_node, "", "sweep over concurrency requires workload type 'concurrent' or 'single', got '" + w.type + "'");
    }
    if (swept("batch_size") && w.type != "batch" && w.type != "single") {
      r.Error(sweep_node, "", "sweep over batch_size requires workload type 'batch' or 'single', got '" + w.type + "'");
    }
    if (swept("request_rate") && w.type != "rate" && w.type != "single") {
      r.Error(sweep_node, "", "sweep over request_rate requires workload type 'rate' or 'single', got '" + w.type + "'");
    }
    if (w.type == "multi_turn" && w.duration_s) {
      r.Error(wl->Get("duration_s"), "", "workload.duration_s is not supported for multi_turn (conversations are counted)");
    }
  }

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
    }
  }
  (void)diags;
}

// Prompt files are checked before anything costs money (the original found a missing file
// only after the pod was up and healthy).
void CheckPrompts(const Node& root, const ExperimentConfig& c, Reader& r) {
  const auto& w = c.workload;
  if (w.requests.source.empty() || w.requests.count < 1) return;
  const Node* source = nullptr;
  if (const Node* wl = root.Get("workload")) {
    if (const Node* req = wl->Get("requests")) source = req->Get("source");
  }
  std::string error;
  if (w.type == "multi_turn") {
    if (!w.conversation) return;
    if (!prompts::LoadConversations(DisplayPath(w.requests.source), 1, w.conversation->turns, w.conversation->system_prompt,
                                    w.conversation->user_messages, &error)) {
      r.Error(source, "", "workload.requests.source: " + error);
    }
  } else if (!prompts::LoadPrompts(DisplayPath(w.requests.source), 1, &error)) {
    r.Error(source, "", "workload.requests.source: " + error);
  }
}

LoadResult LoadFromText(const std::string& yaml, const std::string& path) {
  LoadResult result;
  std::string abs = fs::absolute(path).lexically_normal().string();
  Chain chain;
  std::error_code ec;
  chain.emplace_back(fs::weakly_canonical(abs, ec).string(), abs);
  auto root = LoadChain(yaml, abs, chain, &result.diagnostics);
  if (!root) return result;
  ExperimentConfig config;
  config.source_file = abs;
  Reader reader(&result.diagnostics);
  ReadConfig(*root, abs, config, reader, &result.diagnostics);
  if (result.diagnostics.empty()) CheckPrompts(*root, config, reader);
  // Report in file order so the output reads top to bottom.
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.file == b.file ? a.line < b.line : a.file < b.file;
  });
  if (result.diagnostics.empty()) result.config = std::move(config);
  return result;
}

json OptJson(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
json OptJson(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }
json OptJson(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }
json OptJson(const std::optional<bool>& v) { return v ? json(*v) : json(nullptr); }

json DistributionJson(const Distribution& d) {
  return {{"mean", d.mean}, {"stddev", d.stddev}, {"min", d.min}, {"max", d.max}};
}

// Sweep suffix letters: the original's c and b, plus ib's own.
std::string SweepAbbreviation(const std::string& key) {
  if (key == "concurrency") return "c";
  if (key == "batch_size") return "b";
  if (key == "request_rate") return "r";
  if (key == "max_tokens") return "mt";
  if (key == "temperature") return "t";
  if (key == "burstiness") return "burst";
  if (key == "count") return "n";
  if (key == "warmup_requests") return "w";
  if (key == "duration_s") return "d";
  return key;
}

void ApplySweepValue(ExperimentConfig& c, const std::string& key, double v) {
  auto& w = c.workload;
  auto as_int = static_cast<int64_t>(v);
  if (key == "concurrency") {
    w.concurrency = as_int;
  } else if (key == "batch_size") {
    w.batch_size = as_int;
  } else if (key == "request_rate") {
    w.request_rate = v;
  } else if (key == "max_tokens") {
    w.parameters.max_tokens = as_int;
  } else if (key == "temperature") {
    w.parameters.temperature = v;
  } else if (key == "burstiness") {
    w.burstiness = v;
  } else if (key == "count") {
    w.requests.count = as_int;
  } else if (key == "warmup_requests") {
    w.warmup_requests = as_int;
  } else if (key == "duration_s") {
    w.duration_s = v;
  }
}

}  // namespace

std::string Diagnostic::Format(const std::string& tool) const {
  std::string where = file;
  if (line > 0) where += ":" + std::to_string(line);
  return tool + ": error (at " + where + "): " + message;
}

int64_t ExperimentConfig::TotalRequests() const {
  if (workload.type == "multi_turn" && workload.conversation) {
    return workload.requests.count * workload.conversation->turns;
  }
  return workload.requests.count;
}

LoadResult LoadExperiment(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    LoadResult result;
    Diagnostic d;
    d.file = path;
    struct stat st{};
    d.message = ::stat(path.c_str(), &st) == 0 ? "cannot read config file" : "config file not found";
    result.diagnostics.push_back(d);
    return result;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadFromText(ss.str(), path);
}

LoadResult LoadExperimentFromString(const std::string& yaml, const std::string& path) {
  return LoadFromText(yaml, path);
}

std::vector<Iteration> ExpandSweep(const ExperimentConfig& config) {
  const auto& axes = config.workload.sweep;
  std::vector<Iteration> out;
  if (axes.empty()) {
    Iteration it;
    it.index = 1;
    it.total = 1;
    it.name = config.name;
    it.config = config;
    out.push_back(std::move(it));
    return out;
  }
  std::size_t total = 1;
  for (const auto& [key, values] : axes) total *= values.size();
  bool has_concurrency = false, has_batch = false, has_rate = false;
  for (const auto& [key, values] : axes) {
    has_concurrency |= key == "concurrency";
    has_batch |= key == "batch_size";
    has_rate |= key == "request_rate";
  }
  for (std::size_t n = 0; n < total; ++n) {
    Iteration it;
    it.index = static_cast<int>(n) + 1;
    it.total = static_cast<int>(total);
    it.config = config;
    // Cartesian product in axis order, the first axis varying slowest (the original's order).
    std::size_t rest = n;
    std::vector<std::size_t> picks(axes.size());
    for (std::size_t a = axes.size(); a-- > 0;) {
      picks[a] = rest % axes[a].second.size();
      rest /= axes[a].second.size();
    }
    std::string suffix;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const auto& [key, values] = axes[a];
      double v = values[picks[a]];
      ApplySweepValue(it.config, key, v);
      suffix += "-" + SweepAbbreviation(key) + FormatNumber(v);
      if (v == std::floor(v)) it.params[key] = static_cast<int64_t>(v);
      else it.params[key] = v;
    }
    auto& type = it.config.workload.type;
    if (type == "single") {
      if (has_concurrency) type = "concurrent";
      else if (has_batch) type = "batch";
      else if (has_rate) type = "rate";
    }
    it.name = config.name + suffix;
    it.config.name = it.name;
    out.push_back(std::move(it));
  }
  return out;
}

json ToJson(const ExperimentConfig& c) {
  const auto& w = c.workload;
  json sweep = nullptr;
  if (!w.sweep.empty()) {
    sweep = json::object();
    for (const auto& [key, values] : w.sweep) {
      json list = json::array();
      for (double v : values) list.push_back(v == std::floor(v) ? json(static_cast<int64_t>(v)) : json(v));
      sweep[key] = list;
    }
  }
  json conversation = nullptr;
  if (w.conversation) {
    conversation = {{"turns", w.conversation->turns},
                    {"system_prompt", OptJson(w.conversation->system_prompt)},
                    {"user_messages", w.conversation->user_messages ? json(*w.conversation->user_messages) : json(nullptr)},
                    {"shared_prefix", OptJson(w.conversation->shared_prefix)}};
  }
  json synthetic = nullptr;
  if (w.requests.synthetic) {
    synthetic = {{"input_tokens", DistributionJson(w.requests.synthetic->input_tokens)},
                 {"output_tokens", DistributionJson(w.requests.synthetic->output_tokens)},
                 {"seed", w.requests.synthetic->seed}};
  }
  const auto& i = c.infrastructure;
  json infra = {{"provider", i.provider},
                {"gpu_type", i.gpu_type},
                {"gpu_count", i.gpu_count},
                {"cloud_type", i.cloud_type},
                {"container_disk_gb", OptJson(i.container_disk_gb)}};
  if (i.provider == "local") {
    infra["sim"] = {{"preset", i.sim.preset}, {"speed", i.sim.speed}, {"seed", i.sim.seed},
                    {"load_time_s", i.sim.load_time_s}, {"args", i.sim.args}};
  }
  const auto& g = c.metrics.goodput;
  return {
      {"name", c.name},
      {"description", OptJson(c.description)},
      {"extends", nullptr},
      {"model", {{"name", c.model.name}, {"quantization", OptJson(c.model.quantization)}}},
      {"framework", c.framework},
      {"framework_options",
       {{"max_model_len", OptJson(c.framework_options.max_model_len)},
        {"gpu_memory_utilization", c.framework_options.gpu_memory_utilization},
        {"enable_prefix_caching", OptJson(c.framework_options.enable_prefix_caching)},
        {"tensor_parallel_size", OptJson(c.framework_options.tensor_parallel_size)},
        {"extra_args", c.framework_options.extra_args}}},
      {"infrastructure", infra},
      {"workload",
       {{"type", w.type},
        {"requests", {{"source", w.requests.source.empty() ? json(nullptr) : json(w.requests.source)},
                      {"count", w.requests.count},
                      {"synthetic", synthetic}}},
        {"parameters", {{"max_tokens", w.parameters.max_tokens},
                        {"temperature", w.parameters.temperature},
                        {"ignore_eos", w.parameters.ignore_eos}}},
        {"batch_size", OptJson(w.batch_size)},
        {"concurrency", OptJson(w.concurrency)},
        {"request_rate", OptJson(w.request_rate)},
        {"arrival", w.arrival},
        {"burstiness", w.burstiness},
        {"seed", w.seed},
        {"duration_s", OptJson(w.duration_s)},
        {"warmup_requests", w.warmup_requests},
        {"timeout_s", w.timeout_s},
        {"idle_timeout_s", w.idle_timeout_s},
        {"sweep", sweep},
        {"conversation", conversation}}},
      {"metrics",
       {{"collect_gpu_metrics", c.metrics.collect_gpu_metrics},
        {"sample_interval_ms", c.metrics.sample_interval_ms},
        {"output_dir", c.metrics.output_dir},
        {"percentiles", c.metrics.percentiles},
        {"goodput", {{"ttft_ms", OptJson(g.ttft_ms)}, {"tpot_ms", OptJson(g.tpot_ms)}, {"e2e_latency_ms", OptJson(g.e2e_latency_ms)}}}}},
  };
}

}  // namespace ib::config
