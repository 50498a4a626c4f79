// A stand-in for ib-scrape, ib-load and ib-aggregate in the supervisor's tests: it speaks the
// same NDJSON and reacts to SIGTERM the way docs/pipeline.md says the real tools do, with
// knobs the real ones lack (line padding past PIPE_BUF, request pacing, crashing early).
// The role is the basename of argv[0] (symlink it as ib-load...) or --as ROLE.
//   ib-scrape    --run-id R --interval-ms N: gpu_sample every N ms until SIGTERM, then a last
//                log line "scrape stopped after K samples" and exit 0
//   ib-load      --run-id R --iteration K --requests N --delay-ms D [--pad BYTES]
//                [--crash-after M] [--ignore-term]: execution, N request_complete,
//                iteration_done, then a log line; on SIGTERM iteration_done "interrupted", exit 130
//   ib-aggregate --output-dir DIR: passes every line through; writes DIR/<run_id>.json on
//                iteration_done (completed) or at EOF (partial) and emits `summary`
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "lib/events/events.h"
#include "lib/events/stream.h"

namespace ev = ib::events;

namespace {

std::atomic<bool> g_term{false};
void OnTerm(int) { g_term = true; }

void Emit(const ev::Event& e) { ev::EventWriter(STDOUT_FILENO).Write(e); }

int Scrape(std::map<std::string, std::string>& args) {
  std::string run_id = args["run-id"];
  int interval = args.count("interval-ms") ? std::stoi(args["interval-ms"]) : 20;
  int samples = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (!g_term) {
    ev::GpuSample s;
    s.run_id = run_id;
    s.t_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    s.kv_cache_usage_frac = 0.1 * (samples % 10);
    Emit(s);
    ++samples;
    std::this_thread::sleep_for(std::chrono::milliseconds(interval));
  }
  Emit(ev::MakeLog(run_id, "info", "scrape stopped after " + std::to_string(samples) + " samples",
                   "ib-scrape"));
  return 0;
}

int Load(std::map<std::string, std::string>& args) {
  std::string run_id = args["run-id"];
  int iteration = args.count("iteration") ? std::stoi(args["iteration"]) : 0;
  int requests = args.count("requests") ? std::stoi(args["requests"]) : 5;
  int delay = args.count("delay-ms") ? std::stoi(args["delay-ms"]) : 5;
  std::size_t pad = args.count("pad") ? std::stoul(args["pad"]) : 0;
  int crash_after = args.count("crash-after") ? std::stoi(args["crash-after"]) : -1;
  if (args.count("ignore-term")) signal(SIGTERM, SIG_IGN);
  ev::Phase exec{run_id, ev::phase::kExecution, {{"total_requests", requests}, {"iteration", iteration}}};
  Emit(exec);
  int done = 0;
  for (int i = 0; i < requests && !g_term; ++i) {
    if (i == crash_after) _exit(3);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ev::RequestComplete r;
    r.run_id = run_id;
    r.request_index = i;
    r.iteration = iteration;
    r.start_ms = i;
    r.end_ms = i + 1;
    r.ttft_ms = 1;
    // Per-token timings make real lines longer than PIPE_BUF; --pad imitates that.
    r.inter_token_latencies_ms.assign(pad / 6, 1.5);
    Emit(r);
    ++done;
  }
  bool interrupted = g_term;
  Emit(ev::Phase{run_id, ev::phase::kIterationDone,
                 {{"completed", done}, {"reason", interrupted ? "interrupted" : "completed"}}});
  Emit(ev::MakeLog(run_id, "info", "load exiting", "ib-load"));
  return interrupted ? 130 : 0;
}

void WriteResult(const std::string& dir, const std::string& run_id, const std::string& status,
                 int requests) {
  std::string path = dir + "/" + run_id + ".json";
  std::ofstream(path) << nlohmann::json{{"run_id", run_id}, {"status", status},
                                        {"requests", requests}}.dump()
                      << "\n";
  Emit(ev::Summary{run_id, {{"result_path", path}, {"status", status},
                            {"total_requests", requests}}});
}

int Aggregate(std::map<std::string, std::string>& args) {
  signal(SIGTERM, SIG_IGN);  // like the real one: finalize at EOF, not on a signal
  std::string dir = args.count("output-dir") ? args["output-dir"] : ".";
  std::map<std::string, int> open;  // run id -> requests seen
  std::set<std::string> closed;
  ev::EventReader reader(STDIN_FILENO, "stdin");
  while (auto item = reader.Next()) {
    if (!item->raw.empty()) ev::EventWriter(STDOUT_FILENO).WriteLine(item->raw);
    if (!item->valid) continue;
    const std::string& run_id = ev::RunId(item->event);
    if (std::holds_alternative<ev::RequestComplete>(item->event)) ++open[run_id];
    if (auto* p = std::get_if<ev::Phase>(&item->event)) {
      if (p->phase == ev::phase::kExecution) open[run_id] += 0;
      if (p->phase == ev::phase::kIterationDone && !closed.count(run_id)) {
        std::string reason = p->data.value("reason", "completed");
        bool whole = reason == "completed" || reason == "finished";  // ib-load says "finished"
        WriteResult(dir, run_id, whole ? "completed" : "partial", open[run_id]);
        closed.insert(run_id);
      }
    }
  }
  for (auto& [run_id, n] : open) {
    if (!closed.count(run_id)) WriteResult(dir, run_id, "partial", n);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) continue;
    std::string key = a.substr(2), value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      value = argv[++i];
    }
    args[key] = value;
  }
  // Defaults from the environment, for runs started through ib-run (which passes its own flags).
  for (const auto& [env, key] : {std::pair{"IB_FAKE_REQUESTS", "requests"}, {"IB_FAKE_DELAY_MS", "delay-ms"},
                                 {"IB_FAKE_CRASH_AFTER", "crash-after"}}) {
    if (const char* v = std::getenv(env); v && !args.count(key)) args[key] = v;
  }
  std::string role = argv[0];
  if (auto slash = role.rfind('/'); slash != std::string::npos) role = role.substr(slash + 1);
  if (args.count("as")) role = args["as"];
  struct sigaction sa{};
  sa.sa_handler = OnTerm;
  sigaction(SIGTERM, &sa, nullptr);
  if (role == "ib-scrape") return Scrape(args);
  if (role == "ib-load") return Load(args);
  if (role == "ib-aggregate") return Aggregate(args);
  std::fprintf(stderr, "fake_tool: unknown role %s\n", role.c_str());
  return 2;
}
