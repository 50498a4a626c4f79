#include "lib/load/app.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <cstdlib>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lib/cli/exit_codes.h"
#include "lib/collect/collector.h"
#include "lib/collect/k8s.h"
#include "lib/collect/launch.h"
#include "lib/collect/report.h"
#include "lib/config/config.h"
#include "lib/events/events.h"
#include "lib/events/stream.h"
#include "lib/load/interrupt.h"
#include "lib/load/shard.h"
#include "lib/load/stream_client.h"
#include "lib/load/synthetic.h"
#include "lib/load/workload.h"
#include "lib/prompts/prompts.h"
#include "lib/prompts/sharegpt.h"
#include "lib/runid/runid.h"

namespace ib::load {
namespace {

constexpr const char* kSource = "ib-load";

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double MaxRssMb() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// One iteration to run: the workload plus how it is described in the execution event.
struct Plan {
  Workload workload;
  std::string name;
  nlohmann::json experiment;
  nlohmann::json params = nlohmann::json::object();
  std::string framework;
  int index = 1;
  int total = 1;
  // Sharding asked for by the config (workload.workers, infrastructure.load).
  std::optional<int64_t> workers;
  config::ExperimentConfig::Infrastructure::Load load;
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "ib-load: error: %s\n", message.c_str());
  return exit_code::kUsage;
}

// "0-9,12,15-20" -> {0..9, 12, 15..20}: ascending, no repeats, every number < limit.
bool ParseRequestNumbers(const std::string& text, int64_t limit, std::vector<int64_t>* out, std::string* error) {
  out->clear();
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    auto dash = item.find('-');
    std::string a = item.substr(0, dash), b = dash == std::string::npos ? a : item.substr(dash + 1);
    auto number = [](const std::string& s, int64_t* v) {
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 15) return false;
      *v = std::stoll(s);
      return true;
    };
    int64_t lo = 0, hi = 0;
    if (!number(a, &lo) || !number(b, &hi) || hi < lo) {
      *error = "--only-requests wants ascending numbers and ranges like 0-9,12 (got '" + item + "')";
      return false;
    }
    if (!out->empty() && lo <= out->back()) {
      *error = "--only-requests must be ascending without repeats (at '" + item + "')";
      return false;
    }
    if (hi >= limit) {
      *error = "--only-requests: request " + std::to_string(hi) + " is beyond the workload's " +
               std::to_string(limit) + " requests";
      return false;
    }
    for (int64_t i = lo; i <= hi; ++i) out->push_back(i);
  }
  if (out->empty()) *error = "--only-requests is empty";
  return !out->empty();
}

bool ApplyOverrides(const Options& o, Workload* w, std::string* error) {
  if (!o.shard.empty() && !ParseShard(o.shard, &w->shard, error)) return false;
  if (!o.only_requests.empty()) {
    if (w->type == "multi_turn" || w->count <= 0) {
      *error = "--only-requests needs a count-based workload that is not multi_turn";
      return false;
    }
    if (!ParseRequestNumbers(o.only_requests, w->count, &w->request_numbers, error)) return false;
    w->count = static_cast<int64_t>(w->request_numbers.size());
  }
  if (o.warmup >= 0) w->warmup_requests = o.warmup;
  if (o.timeout_s >= 0) w->timeout_s = o.timeout_s;
  if (o.idle_timeout_s >= 0) w->idle_timeout_s = o.idle_timeout_s;
  if (o.duration_s >= 0) w->duration_s = o.duration_s;
  w->drain_timeout_s = o.drain_timeout_s;
  *error = ValidateWorkload(*w);
  return error->empty();
}

// Non-blank lines of a file: how many distinct prompts a duration-only run cycles through.
int64_t CountPromptLines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) ++n;
  return std::max<int64_t>(n, 1);
}

// Fills w->prompts or w->conversations from the original's JSONL formats (lib/prompts).
bool LoadPromptFile(const std::string& path, bool multi_turn, int64_t count, int64_t turns,
                    const std::optional<std::string>& system_prompt,
                    const std::optional<std::vector<std::string>>& user_messages, Workload* w, std::string* error,
                    const std::optional<std::string>& shared_prefix = std::nullopt) {
  int64_t n = count > 0 ? count : CountPromptLines(path);
  if (multi_turn) {
    auto conversations = prompts::LoadConversations(path, n, turns, system_prompt, user_messages, error, shared_prefix);
    if (!conversations) return false;
    for (auto& c : *conversations) w->conversations.push_back({std::move(c.initial), std::move(c.follow_ups)});
    return true;
  }
  auto set = prompts::LoadPrompts(path, n, error);
  if (!set) return false;
  for (auto& m : set->messages) w->prompts.push_back({std::move(m), std::nullopt});
  return true;
}

// Fills w->prompts or w->conversations from a ShareGPT dataset (lib/prompts/sharegpt.h): the
// first `count` usable entries (a pool of 1000 for a duration-only run), cycled.
bool LoadShareGptFile(const config::ExperimentConfig::Workload& cw, int64_t count, Workload* w, std::string* error) {
  prompts::DatasetError e;
  auto set = prompts::LoadShareGpt(cw.requests.source, count > 0 ? count : 1000, config::ShareGptOptionsOf(cw), &e);
  if (!set) {
    *error = e.line > 0 ? e.message + " (line " + std::to_string(e.line) + ")" : e.message;
    return false;
  }
  if (cw.type == "multi_turn") {
    const auto conv = cw.conversation.value_or(config::ExperimentConfig::Workload::Conversation{});
    const nlohmann::json system = prompts::SystemMessages(conv.shared_prefix, conv.system_prompt);
    for (auto& entry : set->entries) {
      ConversationScript c;
      c.initial = system;
      for (auto& m : entry.messages) c.initial.push_back(std::move(m));
      c.follow_ups = std::move(entry.follow_ups);
      w->conversations.push_back(std::move(c));
    }
    return true;
  }
  for (auto& entry : set->entries) w->prompts.push_back({std::move(entry.messages), entry.max_tokens});
  return true;
}

// The settings of a config's workload as ib-load runs them: the one mapping from lib/config's
// types to the runtime Workload, for a config (ConfigPlan) and for the flags (AdHocPlan).
void TakeWorkload(const config::ExperimentConfig& c, Workload* out) {
  const auto& cw = c.workload;
  Workload& w = *out;
  w.type = cw.type;
  w.count = cw.requests.count;
  w.concurrency = cw.concurrency.value_or(0);
  w.batch_size = cw.batch_size.value_or(0);
  w.request_rate = cw.request_rate.value_or(0);
  w.arrival = cw.arrival;
  w.burstiness = cw.burstiness;
  w.seed = cw.seed;
  if (cw.rate_ramp) w.rate_ramp = RateRamp{cw.rate_ramp->from, cw.rate_ramp->to, cw.rate_ramp->over_s, cw.rate_ramp->shape};
  if (cw.concurrency_ramp)
    w.concurrency_ramp = ConcurrencyRamp{cw.concurrency_ramp->from, cw.concurrency_ramp->to, cw.concurrency_ramp->over_s};
  w.trace = cw.trace;
  w.duration_s = cw.duration_s;
  w.warmup_requests = cw.warmup_requests;
  w.timeout_s = cw.timeout_s;
  w.idle_timeout_s = cw.idle_timeout_s;
  w.model = c.model.name;
  w.max_tokens = cw.parameters.max_tokens;
  w.temperature = cw.parameters.temperature;
  w.ignore_eos = cw.parameters.ignore_eos;
  w.endpoint = cw.endpoint;
  if (cw.type == "multi_turn") {
    const auto conv = cw.conversation.value_or(config::ExperimentConfig::Workload::Conversation{});
    w.turns = conv.turns;
  }
}

bool ConfigPlan(const Options& o, const config::Iteration& it, Plan* plan, std::string* error) {
  const config::ExperimentConfig& c = it.config;
  const auto& cw = c.workload;
  Workload& w = plan->workload;
  TakeWorkload(c, &w);
  if (config::IsShareGpt(cw)) {
    int64_t warm = std::max<int64_t>(w.warmup_requests, 0);
    if (!LoadShareGptFile(cw, w.count > 0 ? std::max(w.count, warm) : 0, &w, error)) return false;
  } else if (cw.type == "multi_turn") {
    const auto conv = cw.conversation.value_or(config::ExperimentConfig::Workload::Conversation{});
    if (!LoadPromptFile(cw.requests.source, true, w.count, w.turns, conv.system_prompt, conv.user_messages, &w, error,
                        conv.shared_prefix))
      return false;
  } else if (cw.type == "trace") {
    // The trace carries the prompts (built as they are sent); warmup gets synthetic ones.
    if (w.warmup_requests > 0)
      w.prompts = SyntheticPrompts(w.warmup_requests, {128, 0, 1, 0}, {static_cast<double>(w.max_tokens), 0, 1, 0}, cw.seed);
  } else if (cw.requests.synthetic) {
    const auto& syn = *cw.requests.synthetic;
    auto dist = [](const config::Distribution& d) { return LengthDistribution{d.mean, d.stddev, d.min, d.max}; };
    int64_t n = w.count > 0 ? w.count : 1000;  // duration-only: a pool of 1000, cycled
    int64_t warm = std::max<int64_t>(w.warmup_requests, 0);
    std::optional<SharedPrefix> prefix;
    if (syn.shared_prefix)
      prefix = SharedPrefix{syn.shared_prefix->families, syn.shared_prefix->prefix_tokens, syn.shared_prefix->assign == "random"};
    w.prompts = SyntheticPrompts(std::max(n, warm), dist(syn.input_tokens), dist(syn.output_tokens), syn.seed,
                                 prefix ? &*prefix : nullptr);
  } else {
    if (!LoadPromptFile(cw.requests.source, false, w.count, 1, std::nullopt, std::nullopt, &w, error)) return false;
  }
  if (!ApplyOverrides(o, &w, error)) return false;
  plan->name = it.name;
  plan->framework = c.framework;
  plan->experiment = config::ToJson(c);
  plan->params = it.params;
  plan->workers = cw.workers;
  plan->load = c.infrastructure.load;
  plan->index = it.index;
  plan->total = it.total;
  return true;
}

// The flags as a config (lib/config's types): its workload drives the run through TakeWorkload,
// and the run's experiment JSON is config::ToJson's (name, model, framework, workload).
config::ExperimentConfig AdHocConfig(const Options& o) {
  config::ExperimentConfig c;
  c.name = "ib-load";
  c.model.name = o.model;
  c.framework = o.framework;
  auto& cw = c.workload;
  cw.type = o.workload;
  cw.requests.count = o.count;
  cw.requests.source = o.prompts_path;
  // 0 = not given (a bad value is kept for ValidateWorkload to refuse, as before)
  if (o.concurrency != 0) cw.concurrency = o.concurrency;
  if (o.batch_size != 0) cw.batch_size = o.batch_size;
  if (o.request_rate != 0) cw.request_rate = o.request_rate;
  cw.arrival = o.arrival;
  cw.burstiness = o.burstiness;
  cw.seed = o.seed;
  cw.parameters.max_tokens = o.max_tokens;
  cw.parameters.temperature = o.temperature;
  cw.parameters.ignore_eos = o.ignore_eos;
  cw.warmup_requests = 0;
  if (o.workload == "multi_turn") cw.conversation = config::ExperimentConfig::Workload::Conversation{.turns = o.turns};
  // An ad-hoc --endpoint of a completions path (not chat) sends "prompt" strings.
  if (!o.endpoint.empty() && o.endpoint.find("/chat/") == std::string::npos &&
      o.endpoint.size() >= 12 && o.endpoint.compare(o.endpoint.size() - 12, 12, "/completions") == 0)
    cw.endpoint = "completions";
  return c;
}

bool AdHocPlan(const Options& o, Plan* plan, std::string* error) {
  config::ExperimentConfig c = AdHocConfig(o);
  Workload& w = plan->workload;
  TakeWorkload(c, &w);
  w.turns = o.turns;
  if (o.input_tokens < 1) {
    *error = "--input-tokens must be >= 1";
    return false;
  }
  LengthDistribution input{static_cast<double>(o.input_tokens), 0, 1, 0};
  LengthDistribution output{static_cast<double>(o.max_tokens), 0, 1, 0};
  int64_t n = std::max<int64_t>(o.count, 1);
  if (!o.prompts_path.empty()) {
    if (!LoadPromptFile(o.prompts_path, w.type == "multi_turn", w.count, o.turns, std::nullopt, std::nullopt, &w, error))
      return false;
  } else if (w.type == "multi_turn") {
    for (auto& p : SyntheticPrompts(n, input, output, o.seed)) {
      ConversationScript script;
      script.initial = p.messages;
      for (int64_t t = 1; t < o.turns; ++t) script.follow_ups.push_back("Go on, say more about point " + std::to_string(t) + ".");
      w.conversations.push_back(std::move(script));
    }
  } else {
    w.prompts = SyntheticPrompts(n, input, output, o.seed);
    for (auto& p : w.prompts) p.max_tokens.reset();  // --max-tokens applies as given
  }
  if (!ApplyOverrides(o, &w, error)) return false;
  plan->name = "ib-load";
  plan->framework = o.framework;
  // The experiment as run: the flags' config with what ApplyOverrides changed.
  c.workload.requests.count = w.count;
  c.workload.warmup_requests = w.warmup_requests;
  c.workload.timeout_s = w.timeout_s;
  c.workload.idle_timeout_s = w.idle_timeout_s;
  c.workload.duration_s = w.duration_s;
  const nlohmann::json full = config::ToJson(c);
  plan->experiment = nlohmann::json::object();
  for (const char* key : {"name", "model", "framework", "workload"}) plan->experiment[key] = full[key];
  return true;
}

// Runs one iteration and emits its phase events. Returns the iteration's exit code.
int RunPlan(const Options& o, const Plan& plan, events::EventWriter& out, int64_t t0_ns, int64_t start_ns,
            bool* output_closed) {
  std::string run_id = o.run_id;
  if (run_id.empty()) run_id = runid::Make(plan.name, time(nullptr));
  std::string first_error;
  auto emit = [&](const events::Event& e) {
    if (const auto* r = std::get_if<events::RequestComplete>(&e); r && r->error && first_error.empty())
      first_error = *r->error;
    if (*output_closed) return false;
    if (!out.Write(e)) *output_closed = true;
    return !*output_closed;
  };
  const Workload& w = plan.workload;
  nlohmann::json metadata = {{"server_url", o.server_url}, {"framework", plan.framework}, {"model", w.model}};
  for (const std::string& kv : o.meta) {
    auto eq = kv.find('=');
    metadata[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  events::Execution start;
  start.experiment = plan.experiment;
  start.metadata = metadata;
  start.total_requests = TotalRequests(w);  // the whole run's, also on a shard
  start.workload_type = w.type;
  start.iteration = plan.index;
  start.total = plan.total;
  start.params = plan.params;
  start.warmup_requests = w.warmup_requests;
  start.server_url = o.server_url;
  start.model = w.model;
  start.framework = plan.framework;
  if (w.shard.on()) start.shard = events::ShardPosition{.k = static_cast<int>(w.shard.k), .n = static_cast<int>(w.shard.n)};
  emit(events::Phase{run_id, events::phase::kExecution, events::ToJson(start)});

  double cpu_before = CpuSeconds();
  // With an agreed start (--start-at) the iteration's time counts from it, as one process's
  // would from its own start, so the shards' merged elapsed_s is the run's.
  int64_t began = start_ns >= 0 ? start_ns : NowNs();
  // --endpoint names the path; without it the workload's endpoint picks it.
  std::string path = !o.endpoint.empty() ? o.endpoint
                     : w.endpoint == "completions" ? "/v1/completions"
                                                   : "/v1/chat/completions";
  RunContext ctx{TrimSlash(o.server_url) + path, run_id, plan.total > 1 || o.iteration > 0 ? plan.index : 0,
                 t0_ns};
  ctx.start_ns = start_ns;
  Outcome outcome = RunWorkload(w, ctx, emit);
  double cpu = CpuSeconds() - cpu_before;

  if (!outcome.reason.empty() && !outcome.completed && !outcome.interrupted && !outcome.breaker &&
      outcome.reason != "output closed")
    emit(events::MakeError(run_id, outcome.reason, kSource));
  if (outcome.breaker) emit(events::MakeLog(run_id, "warning", "stopped early: " + outcome.reason, kSource));
  if (outcome.interrupted) emit(events::MakeLog(run_id, "warning", "interrupted: stopped sending, in-flight requests drained or cancelled", kSource));

  events::IterationDone done;
  done.completed = outcome.completed;
  done.reason = outcome.reason;
  done.iteration = plan.index;
  done.total = plan.total;
  done.elapsed_s = static_cast<double>(NowNs() - began) / 1e9;
  done.requests = events::RequestCounts{.sent = outcome.sent, .succeeded = outcome.succeeded, .failed = outcome.failed};
  if (w.shard.on()) done.shard = static_cast<int>(w.shard.k);
  const auto& s = outcome.stats;
  events::ClientFigures& client = done.client.emplace();
  client.cpu_s = cpu;
  client.max_rss_mb = MaxRssMb();
  client.sse_events = s.sse_events;
  client.bytes = s.bytes;
  client.cpu_us_per_sse_event = s.sse_events > 0 ? cpu * 1e6 / static_cast<double>(s.sse_events) : 0.0;
  client.loop_passes = s.loop_passes;
  client.loop_stalls = s.stalls;
  client.max_loop_pass_ms = static_cast<double>(s.max_pass_ns) / 1e6;
  emit(events::Phase{run_id, events::phase::kIterationDone, events::ToJson(done)});

  // A person at a terminal learns why a piped run produced nothing useful; under ib-run stderr
  // is a pipe and the warning event above already says it.
  const bool failed = outcome.breaker || (outcome.sent > 0 && outcome.succeeded == 0);
  if (failed && !outcome.interrupted && isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "ib-load: %s: %lld of %lld requests failed%s%s\n", run_id.c_str(),
                 static_cast<long long>(outcome.failed), static_cast<long long>(outcome.sent),
                 first_error.empty() ? "" : "; first error: ", first_error.substr(0, 300).c_str());
  }
  if (outcome.interrupted) return exit_code::kInterrupted;
  if (!outcome.completed) return exit_code::kFailed;
  if (outcome.sent > 0 && outcome.succeeded == 0) return exit_code::kFailed;
  return exit_code::kOk;
}

// "slurm" and "index/N" name the shard through the launcher's environment: Slurm's task rank
// (SLURM_PROCID of SLURM_NTASKS) or a Kubernetes Indexed Job's JOB_COMPLETION_INDEX.
bool ResolveShard(const std::string& text, std::string* out, std::string* error) {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  if (text == "slurm") {
    if (env("SLURM_PROCID").empty() || env("SLURM_NTASKS").empty()) {
      *error = "--shard slurm needs SLURM_PROCID and SLURM_NTASKS (run it under srun)";
      return false;
    }
    *out = env("SLURM_PROCID") + "/" + env("SLURM_NTASKS");
  } else if (text.rfind("index/", 0) == 0) {
    if (env("JOB_COMPLETION_INDEX").empty()) {
      *error = "--shard index/N needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it)";
      return false;
    }
    *out = env("JOB_COMPLETION_INDEX") + "/" + text.substr(6);
  } else {
    *out = text;
  }
  return true;
}

// The command line minus what the coordinator sets per shard.
std::vector<std::string> ShardArgs(const std::vector<std::string>& args) {
  static const std::set<std::string> kPerShard = {"--workers", "--shard", "--start-at", "--report-to", "--run-id",
                                                  "--iteration", "--t0-ns", "--t0-realtime-ns", "--emit-dir"};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i].substr(0, args[i].find('='));
    if (!kPerShard.count(name)) {
      out.push_back(args[i]);
    } else if (name == args[i]) {
      ++i;  // and its value
    }
  }
  return out;
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("ib-load");
}

// The SSE events per second one worker sustains at the accuracy targets on this machine
// (docs/benchmarks.md "Sharding"): `--workers auto` starts one worker per this many expected
// events/s, up to one per core.
constexpr double kEventsPerWorker = 20000;

int64_t AutoWorkers(const Workload& w) {
  int64_t cores = std::max(get_nprocs(), 1);
  if (w.type != "rate") return cores;  // a closed loop's event rate is not known up front
  double events = w.request_rate * static_cast<double>(w.max_tokens);
  return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(events / kEventsPerWorker)), 1, cores);
}

struct Coordination {
  std::string launcher = "local";  // local | slurm | k8s | external
  int64_t shards = 1;
  std::string collector = "127.0.0.1:0";  // where the collector listens
  std::vector<std::string> srun_args;
  double start_delay_s = 1;  // shards start their measured phase this long after launch
  double connect_timeout_s = 120;  // a shard not connected by then is lost
  // k8s: the manifest's settings, the files the pods need, where the manifest goes.
  config::ExperimentConfig::Infrastructure::Load load;
  std::vector<std::string> files;
  std::string emit_dir = ".";
};

// k8s: writes the iteration's manifest to DIR/<run_id>.k8s.yaml (mode 0600: it holds the
// token) and says how to apply it. "" on success, else why not.
std::string EmitK8s(const Coordination& co, const std::string& run_id, const std::vector<std::string>& argv,
                    const std::string& token, const std::string& report_to, int64_t start_at_ns) {
  collect::K8sJob job{.run_id = run_id, .shards = static_cast<int>(co.shards), .load = co.load, .argv = argv,
                      .token = token, .report_to = report_to, .files = co.files};
  std::string error;
  std::string yaml = collect::K8sManifest(job, &error);
  if (yaml.empty()) return error;
  const std::string path = (std::filesystem::path(co.emit_dir) / (run_id + ".k8s.yaml")).string();
  // Whole or not at all: whoever watches the directory never applies half a manifest.
  const std::string part = path + ".part";
  int fd = open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + part + ": " + std::strerror(errno);
  bool ok = events::WriteAll(fd, yaml);
  ok = close(fd) == 0 && ok;
  if (!ok || std::rename(part.c_str(), path.c_str()) != 0) {
    std::remove(part.c_str());
    return "cannot write " + path;
  }
  time_t start = static_cast<time_t>(start_at_ns / 1'000'000'000);
  char when[32];
  strftime(when, sizeof when, "%H:%M:%S UTC", gmtime(&start));
  // A warning: nothing happens until someone applies it, so the terminal display shows it.
  std::fprintf(stderr,
               "ib-load: warning: waiting for %lld Kubernetes shards of %s: run `kubectl apply -f %s` now; they "
               "start at %s and report to %s (delete with `kubectl delete -f %s`)\n",
               static_cast<long long>(co.shards), run_id.c_str(), path.c_str(), when, report_to.c_str(), path.c_str());
  return "";
}

// The collector and launcher of a sharded run (docs/ib-load.md "Sharding"): per iteration, a
// fresh token and collector, N shards started with --shard, --start-at and --report-to, their
// streams merged into out_fd.
int RunCoordinated(const Options& o, const std::vector<Plan>& plans, const Coordination& co, int64_t t0_ns,
                   int out_fd) {
  InstallInterruptHandlers();
  std::string host;
  int port = 0;
  std::string error;
  if (!collect::SplitAddress(co.collector, &host, &port, &error)) return Usage("collector address: " + error);
  int rc = exit_code::kOk;
  for (const Plan& p : plans) {
    const std::string run_id = o.run_id.empty() ? runid::Make(p.name, time(nullptr)) : o.run_id;
    const std::string token = collect::NewToken();
    collect::Collector collector({.host = host, .port = port, .token = token, .shards = static_cast<int>(co.shards),
                                  .out_fd = out_fd, .connect_timeout_s = co.connect_timeout_s});
    if (!collector.Listen(&error)) {  // an address this machine does not have, or a port in use
      std::fprintf(stderr, "ib-load: error: collector %s: %s\n", co.collector.c_str(), error.c_str());
      return exit_code::kUsage;
    }
    const std::string report_to =
        co.launcher == "k8s" ? collect::AdvertisedAddress(co.load, host, collector.port()) : collector.address();
    std::vector<std::string> argv = {SelfExe()};
    for (auto& a : ShardArgs(o.args)) argv.push_back(a);
    if (!o.config_path.empty() && o.probe.empty()) argv.insert(argv.end(), {"--iteration", std::to_string(p.index)});
    // Same machine: the same CLOCK_MONOTONIC origin. Elsewhere: the origin as a wall-clock instant.
    int64_t t0_realtime = RealtimeNs() - (NowNs() - t0_ns);
    const int64_t delay = static_cast<int64_t>(co.start_delay_s * 1e9);
    argv.insert(argv.end(), {"--run-id", run_id, "--report-to", report_to});
    const int64_t start_at = RealtimeNs() + delay;
    if (co.launcher == "local")  // one machine, one CLOCK_MONOTONIC: exact
      argv.insert(argv.end(), {"--t0-ns", std::to_string(t0_ns), "--start-at", "mono:" + std::to_string(NowNs() + delay)});
    else
      argv.insert(argv.end(), {"--t0-realtime-ns", std::to_string(t0_realtime), "--start-at", std::to_string(start_at)});
    if (co.launcher == "k8s" && &p == &plans.front()) {
      const std::string& url = o.server_url;
      if (url.find("://127.") != std::string::npos || url.find("://localhost") != std::string::npos ||
          url.find("://[::1]") != std::string::npos)
        std::fprintf(stderr, "ib-load: warning: the Kubernetes pods send their requests to %s, a loopback address: "
                             "they reach it only if the server runs in each pod (give ib-run --server-url an "
                             "address the pods can reach)\n", url.c_str());
    }
    if (co.launcher == "k8s") {  // the pods are started by whoever applies the manifest
      if (std::string e = EmitK8s(co, run_id, argv, token, report_to, start_at); !e.empty()) {
        std::fprintf(stderr, "ib-load: error: Kubernetes manifest: %s\n", e.c_str());
        return exit_code::kUsage;
      }
    }
    collect::Launch launch({.launcher = co.launcher == "k8s" ? "external" : co.launcher, .argv = argv,
                            .shards = static_cast<int>(co.shards), .token = token, .srun_args = co.srun_args});
    if (!launch.Start(&error)) {
      std::fprintf(stderr, "ib-load: error: cannot start the shards: %s\n", error.c_str());
      return exit_code::kFailed;
    }
    if (co.launcher == "external")
      std::fprintf(stderr, "ib-load: collector for %lld shards of %s listening on %s\n",
                   static_cast<long long>(co.shards), run_id.c_str(), collector.address().c_str());
    collect::Result r = collector.Run([&](collect::Collector& c) { launch.Tick(c); });
    launch.Wait();
    if (Interrupts() > 0) return exit_code::kInterrupted;
    if (r.output_closed) return exit_code::kFailed;
    // Not one shard said anything: there is no run to report, only why (the collector's
    // per-shard warnings say which and when).
    if (std::none_of(r.shards.begin(), r.shards.end(), [](const collect::ShardState& s) { return s.lines > 0 || s.finished; })) {
      std::fprintf(stderr, "ib-load: error: none of the %lld shards reported to the collector at %s%s\n",
                   static_cast<long long>(co.shards), report_to.c_str(),
                   co.launcher == "k8s" ? " (was the manifest applied, can the pods reach that address?)" : "");
      return exit_code::kFailed;
    }
    const auto& done = r.merged_done;
    bool completed = done && done->completed && std::holds_alternative<bool>(*done->completed) &&
                     std::get<bool>(*done->completed);
    if (!completed) rc = exit_code::kFailed;
  }
  return rc;
}

}  // namespace

int RunIbLoad(const Options& given, int out_fd) {
  Options o = given;
  if (!o.shard.empty()) {
    std::string resolved, shard_error;
    if (!ResolveShard(o.shard, &resolved, &shard_error)) return Usage(shard_error);
    o.shard = resolved;
  }
  if (o.t0_realtime_ns >= 0 && o.t0_ns < 0) o.t0_ns = MonotonicOfRealtime(o.t0_realtime_ns);
  // The run clock origin: --t0-ns (ib-run's, same machine), else the agreed --start-at instant
  // (so every shard's start_ms/end_ms share it), else now.
  // One reading of the clocks, so that scheduled_ms is exactly the schedule's offset.
  int64_t start_ns = -1;
  if (!o.start_at.empty()) {
    const bool mono = o.start_at.rfind("mono:", 0) == 0;
    const std::string digits = o.start_at.substr(mono ? 5 : 0);
    if (digits.empty() || digits.size() > 19 || digits.find_first_not_of("0123456789") != std::string::npos)
      return Usage("--start-at takes NS (CLOCK_REALTIME) or mono:NS (CLOCK_MONOTONIC) (got '" + o.start_at + "')");
    start_ns = mono ? std::stoll(digits) : MonotonicOfRealtime(std::stoll(digits));
  }
  int64_t t0_ns = o.t0_ns >= 0 ? o.t0_ns : start_ns >= 0 ? start_ns : NowNs();
  if (o.server_url.empty()) return Usage("--server-url is required");
  if (o.server_url.rfind("http://", 0) != 0 && o.server_url.rfind("https://", 0) != 0)
    return Usage("--server-url must start with http:// or https:// (got '" + o.server_url + "')");
  for (const std::string& kv : o.meta)
    if (kv.find('=') == std::string::npos || kv.front() == '=') return Usage("--meta takes key=value (got '" + kv + "')");
  std::vector<Plan> plans;
  std::vector<std::string> k8s_files;  // what a Kubernetes shard needs to load the config
  std::string error;
  if (!o.config_path.empty()) {
    config::LoadResult loaded = config::LoadExperiment(o.config_path);
    if (!loaded.ok()) {
      for (const auto& d : loaded.diagnostics) std::fprintf(stderr, "%s\n", d.Format("ib-load").c_str());
      return exit_code::kUsage;
    }
    k8s_files = collect::ConfigFiles(o.config_path, *loaded.config);
    std::vector<config::Iteration> iterations;
    if (!o.probe.empty()) {
      auto colon = o.probe.find(':');
      char* end = nullptr;
      long index = colon == std::string::npos ? 0 : std::strtol(o.probe.c_str(), &end, 10);
      bool index_ok = end == o.probe.c_str() + colon && index >= 1;
      double value = index_ok ? std::strtod(o.probe.c_str() + colon + 1, &end) : 0;
      if (!index_ok || *end != '\0' || !(value > 0)) return Usage("--probe takes K:VALUE with K >= 1 and VALUE > 0 (got '" + o.probe + "')");
      if (!loaded.config->workload.search) return Usage("--probe needs a config with workload.search (" + o.config_path + " has none)");
      iterations.push_back(config::ProbeIteration(*loaded.config, static_cast<int>(index), value));
    } else {
      iterations = config::ExpandSweep(*loaded.config);
    }
    if (o.probe.empty() && (o.iteration < 0 || o.iteration > static_cast<int64_t>(iterations.size())))
      return Usage("--iteration " + std::to_string(o.iteration) + " is out of range: " + o.config_path + " has " +
                   std::to_string(iterations.size()) + " iteration(s)");
    for (const auto& it : iterations) {
      if (o.probe.empty() && o.iteration > 0 && it.index != o.iteration) continue;  // a probe is the one iteration
      Plan plan;
      if (!ConfigPlan(o, it, &plan, &error)) return Usage(o.config_path + ": " + error);
      plans.push_back(std::move(plan));
    }
  } else {
    if (o.model.empty()) return Usage("--model is required without --config");
    Plan plan;
    if (!AdHocPlan(o, &plan, &error)) return Usage(error);
    plans.push_back(std::move(plan));
  }
  if (start_ns >= 0 && plans.size() > 1)
    return Usage("--start-at names one start: add --iteration K (the config has " + std::to_string(plans.size()) +
                 " iterations)");
  if (!o.run_id.empty() && plans.size() > 1)
    return Usage("--run-id names one iteration: add --iteration K (the config has " + std::to_string(plans.size()) +
                 " iterations)");

  // Sharded runs: this process is the collector (and launcher), or a shard reporting to one.
  Coordination co;
  if (!o.workers.empty()) {
    if (!o.shard.empty() || !o.report_to.empty()) return Usage("--workers starts the shards: not with --shard or --report-to");
    if (o.workers == "auto") {
      co.shards = AutoWorkers(plans.front().workload);
    } else {
      char* end = nullptr;
      co.shards = std::strtol(o.workers.c_str(), &end, 10);
      if (o.workers.empty() || *end != '\0' || co.shards < 1 || co.shards > 1024)
        return Usage("--workers takes a number of workers 1..1024 or auto (got '" + o.workers + "')");
    }
  }
  if (o.shard.empty() && o.report_to.empty()) {  // a shard itself never coordinates
    const Plan& first = plans.front();
    co.collector = first.load.collector;
    if (first.load.launcher == "slurm" && o.workers.empty()) {
      co.launcher = "slurm";
      co.shards = first.load.tasks.value_or(1);
      co.srun_args = first.load.srun_args;
      co.start_delay_s = 10;  // srun starts tasks in seconds, not milliseconds
    } else if (first.load.launcher == "k8s" && o.workers.empty()) {
      co.launcher = "k8s";
      co.shards = first.load.tasks.value_or(1);
      co.load = first.load;
      co.files = k8s_files;
      co.emit_dir = o.emit_dir.empty() ? "." : o.emit_dir;
      // Someone applies the manifest, then pods are scheduled and images pulled: minutes.
      co.start_delay_s = first.load.k8s.start_delay_s;
      co.connect_timeout_s = co.start_delay_s + 60;
    } else if (first.workers && o.workers.empty()) {
      co.shards = *first.workers == 0 ? AutoWorkers(first.workload) : *first.workers;
    }
  }
  if (co.shards > 1 || co.launcher != "local") {
    for (const Plan& p : plans) {  // refuse what cannot be sharded before starting anything
      Workload w = p.workload;
      w.shard = {0, co.shards};
      if (std::string e = ValidateWorkload(w); !e.empty()) return Usage(e);
    }
    return RunCoordinated(o, plans, co, t0_ns, out_fd);
  }
  InstallInterruptHandlers();  // also ignores SIGPIPE: a collector that goes away is an error
  int report_fd = -1;
  if (!o.report_to.empty()) {
    if (o.shard.empty()) return Usage("--report-to needs --shard K/N");
    if (o.run_id.empty()) return Usage("--report-to needs --run-id (every shard must use the same)");
    const char* token = std::getenv("IB_REPORT_TOKEN");
    if (!token || !*token) return Usage("--report-to needs the collector's token in IB_REPORT_TOKEN");
    Shard s;
    ParseShard(o.shard, &s, &error);
    report_fd = collect::ConnectToCollector(o.report_to, token, s.k, s.n, 10, &error);
    if (report_fd < 0) {
      std::fprintf(stderr, "ib-load: error: %s\n", error.c_str());
      return exit_code::kFailed;
    }
    out_fd = report_fd;
  }

  InstallInterruptHandlers();
  events::EventWriter out(out_fd);
  bool output_closed = false;
  int rc = 0;
  for (const Plan& p : plans) {
    int r = RunPlan(o, p, out, t0_ns, start_ns, &output_closed);
    if (r == exit_code::kInterrupted) return exit_code::kInterrupted;
    if (r != 0) rc = r;
    if (output_closed) return exit_code::kFailed;
  }
  return rc;
}

}  // namespace ib::load
