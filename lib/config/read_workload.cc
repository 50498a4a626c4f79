#include <algorithm>

#include "lib/config/sections.h"
#include "lib/config/suggest.h"

namespace ib::config::internal {

namespace {

const std::vector<std::string> kWorkloadKeys = {
    "type", "requests", "parameters", "batch_size", "concurrency", "request_rate", "arrival",
    "burstiness", "seed", "duration_s", "warmup_requests", "timeout_s", "idle_timeout_s",
    "conversation", "sweep", "search",
    "trace", "rate_ramp", "concurrency_ramp", "endpoint", "workers", "repeats"};
const std::vector<std::string> kRequestKeys = {"source", "count", "synthetic", "format", "output_len_from_dataset",
                                               "max_prompt_tokens", "max_total_tokens"};
const std::vector<std::string> kSyntheticKeys = {"input_tokens", "output_tokens", "seed", "shared_prefix"};
const std::vector<std::string> kSharedPrefixKeys = {"families", "prefix_tokens", "assign"};
const std::vector<std::string> kDistributionKeys = {"mean", "stddev", "min", "max"};
const std::vector<std::string> kParameterKeys = {"max_tokens", "temperature", "ignore_eos"};
const std::vector<std::string> kConversationKeys = {"turns", "system_prompt", "user_messages", "shared_prefix"};
const std::vector<std::string> kWorkloadTypes = {"single", "batch", "concurrent", "multi_turn", "rate", "trace"};

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


}  // namespace

void ReadWorkload(const Node& root, ExperimentConfig& c, Reader& r) {
  const Node* wl = root.Get("workload");
  auto& w = c.workload;
  if (r.Require(&root, "workload", "workload", &root) && r.IsMap(wl, "workload")) {
    r.CheckKeys(wl, "workload", kWorkloadKeys);
    if (r.Require(wl, "type", "workload.type", wl)) {
      if (auto v = r.String(wl->Get("type"), "workload.type")) {
        w.type = *v;
        if (std::find(kWorkloadTypes.begin(), kWorkloadTypes.end(), w.type) == kWorkloadTypes.end()) {
          r.Error(wl->Get("type"), "", "workload.type must be one of " + JoinList(kWorkloadTypes) + ", got '" + w.type + "'" +
                                           DidYouMean(w.type, kWorkloadTypes));
        }
      }
    }
    ReadRequests(wl, w, r);
    ReadParameters(wl, w, r);
    if (auto v = r.String(wl->Get("endpoint"), "workload.endpoint")) {
      w.endpoint = *v;
      if (*v != "chat" && *v != "completions")
        r.Error(wl->Get("endpoint"), "", "workload.endpoint must be 'chat' or 'completions', got '" + *v + "'" +
                                             DidYouMean(*v, {"chat", "completions"}));
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
    if (auto v = r.Int(wl->Get("repeats"), "workload.repeats")) {
      w.repeats = *v;
      if (*v < 1) r.Error(wl->Get("repeats"), "", "workload.repeats must be >= 1, got " + std::to_string(*v));
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
    if (const Node* workers = wl->Get("workers")) {
      if (workers->kind == Node::kScalar && workers->scalar == "auto") {
        w.workers = 0;
      } else if (auto v = r.Int(workers, "workload.workers")) {
        w.workers = *v;
        if (*v < 1 || *v > 1024)
          r.Error(workers, "", "workload.workers must be 1..1024 or 'auto', got " + std::to_string(*v));
      }
    }
    ReadConversation(wl, w, r);
    ReadTraceAndRamps(wl, w, r);
    ReadSweep(wl, w, r);
    ReadSearch(wl, w, r);
    CheckWorkloadRules(wl, w, r);
  }
}

void ReadRequests(const Node* wl, ExperimentConfig::Workload& w, Reader& r) {
  const Node* req = wl->Get("requests");
  if (w.type == "trace") {  // the trace is the requests (its count is set when it is read)
    if (req != nullptr && req->kind != Node::kNull)
      r.Error(req, "", "workload type 'trace' takes its requests from workload.trace; remove workload.requests (workload.trace.max_requests bounds the count)");
    return;
  }
  if (r.Require(wl, "requests", "workload.requests", wl) && r.IsMap(req, "workload.requests")) {
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
      if (const Node* sp = synthetic->Get("shared_prefix"); r.IsMap(sp, "workload.requests.synthetic.shared_prefix")) {
        const std::string path = "workload.requests.synthetic.shared_prefix";
        r.CheckKeys(sp, path, kSharedPrefixKeys);
        ExperimentConfig::Workload::Requests::Synthetic::SharedPrefix p;
        if (r.Require(sp, "families", path + ".families", sp)) {
          if (auto v = r.Int(sp->Get("families"), path + ".families")) {
            p.families = *v;
            if (*v < 1) r.Error(sp->Get("families"), "", path + ".families must be >= 1, got " + std::to_string(*v));
          }
        }
        if (r.Require(sp, "prefix_tokens", path + ".prefix_tokens", sp)) {
          if (auto v = r.Int(sp->Get("prefix_tokens"), path + ".prefix_tokens")) {
            p.prefix_tokens = *v;
            if (*v < 1) r.Error(sp->Get("prefix_tokens"), "", path + ".prefix_tokens must be >= 1, got " + std::to_string(*v));
          }
        }
        if (auto v = r.String(sp->Get("assign"), path + ".assign")) {
          p.assign = *v;
          if (*v != "round_robin" && *v != "random")
            r.Error(sp->Get("assign"), "", path + ".assign must be 'round_robin' or 'random', got '" + *v + "'" +
                                              DidYouMean(*v, {"round_robin", "random"}));
        }
        s.shared_prefix = p;
      }
      w.requests.synthetic = s;
    }
    if (auto v = r.String(req->Get("format"), "workload.requests.format")) {
      w.requests.format = *v;
      if (*v != "jsonl" && *v != "sharegpt")
        r.Error(req->Get("format"), "", "workload.requests.format must be 'jsonl' or 'sharegpt', got '" + *v + "'" +
                                            DidYouMean(*v, {"jsonl", "sharegpt"}));
    }
    if (auto v = r.Bool(req->Get("output_len_from_dataset"), "workload.requests.output_len_from_dataset"))
      w.requests.output_len_from_dataset = *v;
    for (auto [key, out] : {std::pair<const char*, int64_t*>{"max_prompt_tokens", &w.requests.max_prompt_tokens},
                            {"max_total_tokens", &w.requests.max_total_tokens}}) {
      if (auto v = r.Int(req->Get(key), std::string("workload.requests.") + key)) {
        *out = *v;
        if (*v < 4) r.Error(req->Get(key), "", std::string("workload.requests.") + key + " must be >= 4, got " + std::to_string(*v));
      }
    }
    if (r.Require(req, "count", "workload.requests.count", req)) {
      if (auto v = r.Int(req->Get("count"), "workload.requests.count")) {
        w.requests.count = *v;
        if (*v < 1) r.Error(req->Get("count"), "", "workload.requests.count must be >= 1, got " + std::to_string(*v));
      }
    }
  }
}

void ReadParameters(const Node* wl, ExperimentConfig::Workload& w, Reader& r) {
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
}

void ReadConversation(const Node* wl, ExperimentConfig::Workload& w, Reader& r) {
  if (const Node* conv = wl->Get("conversation"); r.IsMap(conv, "workload.conversation")) {
    r.CheckKeys(conv, "workload.conversation", kConversationKeys);
    ExperimentConfig::Workload::Conversation cv;
    if (r.Require(conv, "turns", "workload.conversation.turns", conv)) {
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
}

void CheckWorkloadRules(const Node* wl, ExperimentConfig::Workload& w, Reader& r) {
  // Cross-field rules (the original's, loosened where a sweep supplies the value).
  auto swept = [&](const std::string& key) {
    return std::any_of(w.sweep.begin(), w.sweep.end(), [&](const auto& a) { return a.first == key; });
  };
  // A search supplies its field's value too.
  auto supplied = [&](const std::string& key) { return swept(key) || (w.search && w.search->over == key); };
  const Node* type_node = wl->Get("type");
  if (w.type == "batch" && !w.batch_size && !supplied("batch_size")) {
    r.Error(type_node, "", "workload type 'batch' requires workload.batch_size (or workload.sweep.batch_size)");
  }
  if (w.type == "concurrent" && !w.concurrency && !supplied("concurrency") && !w.concurrency_ramp) {
    r.Error(type_node, "", "workload type 'concurrent' requires workload.concurrency (or workload.sweep.concurrency)");
  }
  // Trace and ramps (read_trace.cc): each belongs to one type and replaces that type's field.
  if (w.type == "trace" && !w.trace) r.Error(type_node, "", "workload type 'trace' requires workload.trace");
  if (w.trace && w.type != "trace")
    r.Error(wl->Get("trace"), "", "workload.trace needs workload type 'trace', got '" + w.type + "'");
  if (w.type == "trace" && w.duration_s)
    r.Error(wl->Get("duration_s"), "", "workload.duration_s is not used by type 'trace': set workload.trace.duration_s (trace time)");
  if (w.rate_ramp && w.type != "rate")
    r.Error(wl->Get("rate_ramp"), "", "workload.rate_ramp needs workload type 'rate', got '" + w.type + "'");
  if (w.rate_ramp && (w.request_rate || supplied("request_rate")))
    r.Error(wl->Get("rate_ramp"), "", "workload.rate_ramp replaces workload.request_rate: set one of them (not a sweep or search over request_rate)");
  if (w.concurrency_ramp && w.type != "concurrent")
    r.Error(wl->Get("concurrency_ramp"), "", "workload.concurrency_ramp needs workload type 'concurrent', got '" + w.type + "'");
  if (w.concurrency_ramp && (w.concurrency || supplied("concurrency")))
    r.Error(wl->Get("concurrency_ramp"), "", "workload.concurrency_ramp replaces workload.concurrency: set one of them (not a sweep or search over concurrency)");
  if (w.type == "rate" && !w.request_rate && !supplied("request_rate") && !w.rate_ramp) {
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

}  // namespace ib::config::internal
