// ib-run end to end with stand-in tools: the real ib-run binary, its flags and exit codes, its
// combined stream (compared with golden/ib-run-fake-sweep.txt after masking timestamps) and its
// results files, against a Civetweb /health in this process (--server-url). The stand-ins are
// tests/run/fake_tool behind small wrapper scripts named ib-load, ib-scrape, ib-aggregate in a
// directory passed as IB_BIN_DIR.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <civetweb.h>
#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/proc/proc.h"

namespace {

namespace ev = ib::events;
namespace fs = std::filesystem;

std::atomic<int> g_health_calls{0};

int Health(mg_connection* conn, void*) {
  // "Loading" for the first two checks, then healthy.
  if (g_health_calls.fetch_add(1) < 2) {
    mg_send_http_error(conn, 503, "%s", "loading");
    return 503;
  }
  mg_send_http_ok(conn, "text/plain", 2);
  mg_write(conn, "ok", 2);
  return 200;
}

std::atomic<int> g_reset_calls{0};

// vLLM's /reset_prefix_cache (POST); /flush_cache (SGLang's) is left unanswered: 404.
int ResetPrefixCache(mg_connection* conn, void*) {
  if (std::string(mg_get_request_info(conn)->request_method) != "POST") {
    mg_send_http_error(conn, 405, "%s", "POST only");
    return 405;
  }
  ++g_reset_calls;
  mg_send_http_ok(conn, "text/plain", 0);
  return 200;
}

struct Result {
  int code = -1;
  std::string out, err;
  std::vector<ev::Event> events;
};

class IbRunTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "2", nullptr};
    ctx_ = mg_start(nullptr, nullptr, options);
    ASSERT_NE(ctx_, nullptr);
    mg_set_request_handler(ctx_, "/health", Health, nullptr);
    mg_set_request_handler(ctx_, "/reset_prefix_cache", ResetPrefixCache, nullptr);
    mg_server_port ports[1];
    ASSERT_EQ(mg_get_server_ports(ctx_, 1, ports), 1);
    url_ = "http://127.0.0.1:" + std::to_string(ports[0].port);
  }
  static void TearDownTestSuite() { mg_stop(ctx_); }

  void SetUp() override {
    g_health_calls = 0;
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/ibrunXXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    bin_ = dir_ + "/bin";
    fs::create_directories(bin_);
    std::string fake = fs::absolute("tests/run/fake_tool");
    for (std::string tool : {"ib-load", "ib-scrape", "ib-aggregate"}) {
      std::string path = bin_ + "/" + tool;
      std::ofstream(path) << "#!/bin/sh\nexec " << fake << " --as " << tool << " \"$@\"\n";
      ::chmod(path.c_str(), 0755);
    }
    config_ = dir_ + "/fake-sweep.yaml";
    std::ofstream(config_) << "name: \"fake-sweep\"\n"
                           << "model:\n  name: \"m\"\n"
                           << "framework: \"vllm\"\n"
                           << "infrastructure:\n  provider: \"local\"\n"
                           << "workload:\n  type: \"concurrent\"\n  concurrency: 2\n"
                           << "  requests:\n    source: \"" << fs::absolute("prompts/baseline.jsonl").string()
                           << "\"\n    count: 5\n"
                           << "  sweep:\n    concurrency: [1, 2]\n"
                           << "metrics:\n  sample_interval_ms: 10\n";
  }

  // Runs ib-run with args; `during` runs once the child started (to signal it).
  Result RunIbRun(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {},
                  std::function<void(pid_t)> during = nullptr) {
    ib::proc::SpawnOptions o;
    o.argv = {"tools/ib-run/ib-run"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = {{"IB_BIN_DIR", bin_}};
    o.env.insert(o.env.end(), env.begin(), env.end());
    std::string err_path = dir_ + "/stderr.txt";
    int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    o.stderr_fd = err_fd;
    std::string error;
    auto child = ib::proc::Spawn(o, &error);
    ::close(err_fd);
    Result r;
    if (!child) {
      ADD_FAILURE() << error;
      return r;
    }
    std::thread signaller;
    if (during) signaller = std::thread(during, child->pid);
    char buf[65536];
    ssize_t n;
    while ((n = ::read(child->stdout_fd, buf, sizeof buf)) > 0) r.out.append(buf, static_cast<std::size_t>(n));
    ::close(child->stdout_fd);
    r.code = ib::proc::Wait(child->pid).code;
    if (signaller.joinable()) signaller.join();
    std::ifstream in(err_path);
    std::stringstream ss;
    ss << in.rdbuf();
    r.err = ss.str();
    bool ndjson = std::find(args.begin(), args.end(), "--dry-run") == args.end() &&
                  std::find(args.begin(), args.end(), "--help") == args.end();
    std::istringstream lines(ndjson ? r.out : "");
    std::string line;
    while (std::getline(lines, line)) {
      auto parsed = ev::ParseEvent(line);
      EXPECT_TRUE(parsed.event) << parsed.error << ": " << line.substr(0, 200);
      if (parsed.event) r.events.push_back(*parsed.event);
    }
    return r;
  }

  std::vector<std::string> RunArgs(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {config_, "--server-url", url_ + "/", "--output-dir", dir_ + "/results"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  static mg_context* ctx_;
  static std::string url_;
  std::string dir_, bin_, config_;
};
mg_context* IbRunTest::ctx_ = nullptr;
std::string IbRunTest::url_;

// The stream without samples, requests and ib-run's info logs; run-id timestamps masked.
std::string Skeleton(const std::vector<ev::Event>& events) {
  std::ostringstream out;
  for (const auto& e : events) {
    if (std::holds_alternative<ev::GpuSample>(e) || std::holds_alternative<ev::RequestComplete>(e)) continue;
    if (auto* p = std::get_if<ev::Phase>(&e)) out << "phase " << p->phase << " " << p->run_id << "\n";
    if (auto* l = std::get_if<ev::Log>(&e)) {
      if (l->source == "ib-run" && l->level == "info") continue;
      out << "log " << l->level << " " << l->source << " " << l->run_id << " " << l->message << "\n";
    }
    if (auto* s = std::get_if<ev::Summary>(&e)) out << "summary " << s->run_id << " " << s->data.value("status", "") << "\n";
    if (auto* x = std::get_if<ev::Error>(&e)) out << "error " << x->message << "\n";
  }
  std::string text = std::regex_replace(out.str(), std::regex("-[0-9]{8}-[0-9]{6}"), "-TS");
  return std::regex_replace(text, std::regex("after [0-9]+ samples"), "after N samples");
}

const ev::Phase* LastPhase(const Result& r) {
  for (auto it = r.events.rbegin(); it != r.events.rend(); ++it) {
    if (auto* p = std::get_if<ev::Phase>(&*it)) return p;
  }
  return nullptr;
}

TEST_F(IbRunTest, SweepRunsEndToEndWithOneResultsFilePerIteration) {
  Result r = RunIbRun(RunArgs());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // stdout is a pipe: stderr stays quiet
  std::string skeleton = Skeleton(r.events);
  if (const char* update = std::getenv("IB_UPDATE_GOLDEN")) std::ofstream(update) << skeleton;
  std::ifstream golden("tests/run/golden/ib-run-fake-sweep.txt");
  std::stringstream expected;
  expected << golden.rdbuf();
  EXPECT_EQ(skeleton, expected.str());

  const ev::Phase* done = LastPhase(r);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->phase, "done");
  ASSERT_EQ(done->data["result_paths"].size(), 2u);
  for (const auto& path : done->data["result_paths"]) {
    std::ifstream result(path.get<std::string>());
    ASSERT_TRUE(result.good()) << path;
    EXPECT_EQ(nlohmann::json::parse(result)["status"], "completed");
  }
  // ib-load got the shared clock origin, the iteration and the server; health was polled.
  EXPECT_GE(g_health_calls.load(), 3);
  int health_logs = 0;
  for (const auto& e : r.events) {
    if (auto* l = std::get_if<ev::Log>(&e); l && l->message.find("/health: HTTP 503") != std::string::npos) ++health_logs;
  }
  EXPECT_GE(health_logs, 1);
}

TEST_F(IbRunTest, InterruptLeavesAPartialFileAndExits130) {
  Result r = RunIbRun(RunArgs(), {{"IB_FAKE_REQUESTS", "100000"}, {"IB_FAKE_DELAY_MS", "5"}}, [this](pid_t pid) {
    // Stop once the first request of iteration 1 is out: its results file must be partial.
    for (int i = 0; i < 400 && g_health_calls.load() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(pid, SIGINT);
  });
  EXPECT_EQ(r.code, 130) << r.err;
  const ev::Phase* failed = LastPhase(r);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->phase, "failed");
  EXPECT_EQ(failed->data["reason"], "interrupted");
  ASSERT_EQ(failed->data["result_paths"].size(), 1u);  // iteration 2 never started
  std::ifstream result(failed->data["result_paths"][0].get<std::string>());
  ASSERT_TRUE(result.good());
  auto json = nlohmann::json::parse(result);
  EXPECT_EQ(json["status"], "partial");
  EXPECT_GT(json["requests"].get<int>(), 0);
}

TEST_F(IbRunTest, CrashedLoadFailsTheRunWithExit1) {
  Result r = RunIbRun(RunArgs(), {{"IB_FAKE_CRASH_AFTER", "2"}});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("ib-run: error: iteration 1 (fake-sweep-c1-"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ib-load ended (exit 3) before its workload finished"), std::string::npos);
  const ev::Phase* failed = LastPhase(r);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->phase, "failed");
  // ib-aggregate still wrote what it had, as partial.
  EXPECT_EQ(failed->data["result_paths"].size(), 1u);
}

TEST_F(IbRunTest, UnhealthyServerFailsAfterTheTimeout) {
  Result r = RunIbRun({config_, "--server-url", "http://127.0.0.1:1", "--health-timeout-s", "0.5",
                       "--output-dir", dir_ + "/results"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("server not healthy after"), std::string::npos) << r.err;
  EXPECT_EQ(LastPhase(r)->phase, "failed");
}

TEST_F(IbRunTest, FifoGetsACopyOfTheStream) {
  std::string fifo = dir_ + "/copy.fifo";
  std::string copy;
  std::thread reader([&] {
    for (int i = 0; i < 200 && !fs::exists(fifo); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream in(fifo);  // blocks until ib-run opens the FIFO for writing
    std::stringstream ss;
    ss << in.rdbuf();
    copy = ss.str();
  });
  Result r = RunIbRun(RunArgs({"--fifo", fifo}));
  reader.join();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(copy.empty());
  // The reader may connect after the first lines; from then on it gets the same lines.
  EXPECT_NE(r.out.find(copy.substr(0, copy.find('\n'))), std::string::npos);
  EXPECT_EQ(r.out.substr(r.out.size() - copy.size()), copy);
}

TEST_F(IbRunTest, ResumeRunsTheInterruptedIterationAndTheRestOnly) {
  fs::create_directories(dir_ + "/results");
  std::ofstream(dir_ + "/results/fake-sweep-c2-20260101-000000.json") << R"({"status":"partial"})";
  std::ofstream(dir_ + "/results/fake-sweep-c1-20260101-000000.json") << R"({"status":"completed"})";
  Result r = RunIbRun(RunArgs({"--resume", "fake-sweep-c2-20260101-000000"}));
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> iterations;
  for (const auto& e : r.events) {
    if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == "sweep_iteration") {
      iterations.push_back(p->data["name"]);
    }
  }
  EXPECT_EQ(iterations, std::vector<std::string>{"fake-sweep-c2"});
  EXPECT_EQ(LastPhase(r)->data["result_paths"].size(), 1u);

  Result done = RunIbRun(RunArgs({"--resume", "fake-sweep-c1-20260101-000000"}));
  EXPECT_EQ(done.code, 2);
  EXPECT_NE(done.err.find("ib-run: error: --resume: fake-sweep-c1-20260101-000000 is completed, not "
                          "partial: nothing to resume"),
            std::string::npos)
      << done.err;
  Result missing = RunIbRun(RunArgs({"--resume", "nope-20260101-000000"}));
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("--resume: no results file"), std::string::npos) << missing.err;
  std::ofstream(dir_ + "/results/other-20260101-000000.json") << R"({"status":"partial"})";
  Result other = RunIbRun(RunArgs({"--resume", "other-20260101-000000"}));
  EXPECT_EQ(other.code, 2);
  EXPECT_NE(other.err.find("is not a run of this config"), std::string::npos) << other.err;
}

bool HasLog(const Result& r, const std::string& fragment) {
  for (const auto& e : r.events) {
    if (auto* l = std::get_if<ev::Log>(&e); l && l->message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

TEST_F(IbRunTest, ResumePlansTheRequestsLeftOrSaysWhyItCannot) {
  fs::create_directories(dir_ + "/results");
  // Requests 0, 1 and 3 finished (3 failed on its own: measured), 2 was cancelled by the stop.
  std::ofstream(dir_ + "/results/fake-sweep-c1-20260101-000000.json") << R"({"status":"partial","requests":[
    {"request_index":0},{"request_index":1},{"request_index":2,"error_kind":"cancelled"},
    {"request_index":3,"error_kind":"http_status"}]})";
  // --dry-run shows the resumed plan, not the full one, and sends nothing.
  Result dry = RunIbRun(RunArgs({"--resume", "fake-sweep-c1-20260101-000000", "--dry-run"}));
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("Resume: fake-sweep-c1-20260101-000000: iteration 1/2 (fake-sweep-c1) sends "
                         "the 2 of 5 requests not finished\n  iterations 2..2 run in full\n"),
            std::string::npos) << dry.out;
  Result r = RunIbRun(RunArgs({"--resume", "fake-sweep-c1-20260101-000000"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(HasLog(r, "iteration 1/2 (fake-sweep-c1) sends the 2 of 5 requests not finished (2,4)"));
  // The same partial run a second time: its remaining requests were sent already. (This
  // test's stand-in ib-aggregate writes no metadata: the resumed file is written as ib-aggregate
  // writes it, metadata.resumed_from; tests/run/resume_run_test runs the real tools.)
  std::ofstream(dir_ + "/results/fake-sweep-c1-20260102-000000.json")
      << R"({"run_id":"fake-sweep-c1-20260102-000000","status":"partial","metadata":{"resumed_from":"fake-sweep-c1-20260101-000000"}})";
  Result twice = RunIbRun(RunArgs({"--resume", "fake-sweep-c1-20260101-000000"}));
  EXPECT_EQ(twice.code, 2);
  EXPECT_NE(twice.err.find("ib-run: error: --resume: fake-sweep-c1-20260101-000000 was already resumed by "
                           "fake-sweep-c1-20260102-000000 (partial); resume fake-sweep-c1-20260102-000000 instead"),
            std::string::npos) << twice.err;
  Result twice_dry = RunIbRun(RunArgs({"--resume", "fake-sweep-c1-20260101-000000", "--dry-run"}));
  EXPECT_EQ(twice_dry.code, 2);
  EXPECT_NE(twice_dry.err.find("was already resumed by"), std::string::npos) << twice_dry.err;

  // Every request finished, but the file is partial (the stream ended before iteration_done):
  // nothing is sent for that iteration; the next one runs.
  std::ofstream(dir_ + "/results/fake-sweep-c1-20260101-000001.json") << R"({"status":"partial","requests":[
    {"request_index":0},{"request_index":1},{"request_index":2},{"request_index":3},{"request_index":4}]})";
  Result all = RunIbRun(RunArgs({"--resume", "fake-sweep-c1-20260101-000001"}));
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_TRUE(HasLog(all, "all 5 requests of iteration 1/2 (fake-sweep-c1) were finished; nothing left"));
  std::vector<std::string> iterations;
  for (const auto& e : all.events) {
    if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == "sweep_iteration") iterations.push_back(p->data["name"]);
  }
  EXPECT_EQ(iterations, std::vector<std::string>{"fake-sweep-c2"});

  // A duration-based workload cannot continue where it stopped: it runs again in full.
  std::string timed = dir_ + "/timed.yaml";
  std::ofstream(timed) << "name: \"timed\"\nmodel:\n  name: \"m\"\nframework: \"vllm\"\n"
                       << "infrastructure:\n  provider: \"local\"\n"
                       << "workload:\n  type: \"concurrent\"\n  concurrency: 2\n  duration_s: 1\n"
                       << "  requests:\n    source: \"" << fs::absolute("prompts/baseline.jsonl").string()
                       << "\"\n    count: 5\n";
  std::ofstream(dir_ + "/results/timed-20260101-000000.json") << R"({"status":"partial","requests":[{"request_index":0}]})";
  Result t = RunIbRun({timed, "--server-url", url_, "--output-dir", dir_ + "/results", "--resume",
                       "timed-20260101-000000"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_TRUE(HasLog(t, "iteration 1/1 (timed) runs again in full: a duration-based workload cannot continue"));
}

TEST_F(IbRunTest, FlushCacheAsksTheServerBetweenIterationsOrWarns) {
  g_reset_calls = 0;
  Result r = RunIbRun(RunArgs({"--flush-cache"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(g_reset_calls, 1);  // before iteration 2 only
  EXPECT_TRUE(HasLog(r, "flushed the server's prefix cache (POST /reset_prefix_cache)"));
  EXPECT_FALSE(HasLog(r, "stays warm"));

  // SGLang's /flush_cache is missing here: a warning, and the run goes on.
  std::string sglang = dir_ + "/sglang.yaml";
  std::ofstream(sglang) << "name: \"sg\"\nmodel:\n  name: \"m\"\nframework: \"sglang\"\n"
                        << "infrastructure:\n  provider: \"local\"\n"
                        << "workload:\n  type: \"concurrent\"\n  concurrency: 2\n"
                        << "  requests:\n    source: \"" << fs::absolute("prompts/baseline.jsonl").string()
                        << "\"\n    count: 3\n  sweep:\n    concurrency: [1, 2]\n";
  Result s = RunIbRun({sglang, "--server-url", url_, "--output-dir", dir_ + "/results", "--flush-cache"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_TRUE(HasLog(s, "could not flush the prefix cache (POST /flush_cache: HTTP 404): this iteration may see a warm cache"));

  // Without the flag: the warm-cache warning names the remedies.
  Result warm = RunIbRun(RunArgs());
  ASSERT_EQ(warm.code, 0) << warm.err;
  EXPECT_TRUE(HasLog(warm, "prefix cache stays warm: the second reuses its cached prompts and may show flattering "
                           "TTFT. Pass --flush-cache, or set"));
}

TEST_F(IbRunTest, HelpStatesTheExitCodes) {
  Result r = RunIbRun({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Exit codes: 0 success, 1 the run failed, 2 bad usage or config, 130 interrupted."),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("--flush-cache"), std::string::npos);
}

TEST_F(IbRunTest, BadConfigExits2WithFileAndLine) {
  std::string bad = dir_ + "/bad.yaml";
  std::ofstream(bad) << "name: \"x\"\nmodel:\n  name: \"m\"\nframework: \"vllm\"\n"
                     << "workload:\n  type: \"concurrent\"\n  concurrency: 0\n  requests:\n    count: 1\n";
  for (auto extra : {std::vector<std::string>{}, std::vector<std::string>{"--dry-run"}}) {
    std::vector<std::string> args = {bad};
    args.insert(args.end(), extra.begin(), extra.end());
    Result r = RunIbRun(args);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("ib-run: error (at " + bad + ":7): workload.concurrency must be >= 1, got 0"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(IbRunTest, ARefusedServerUrlSaysWhyAndHowLongItKeepsTrying) {
  // A port nothing listens on: bind one, note it, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  Result r = RunIbRun({config_, "--server-url", url, "--health-timeout-s", "1", "--progress",
                       "--output-dir", dir_ + "/results"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("model_loading " + url + " (up to 1 s)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("warning (ib-run): waiting for " + url + "/health: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("keeps trying until 1.0 s (--health-timeout-s)"), std::string::npos) << r.err;
}

TEST_F(IbRunTest, UsageErrorsExit2) {
  EXPECT_EQ(RunIbRun({}).code, 2);
  EXPECT_EQ(RunIbRun({config_, "--no-such-flag"}).code, 2);
  Result missing = RunIbRun({dir_ + "/missing.yaml", "--dry-run"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("missing.yaml"), std::string::npos);
  Result help = RunIbRun({"--help"});
  EXPECT_EQ(help.code, 0);
}

TEST_F(IbRunTest, EveryExampleConfigDryRuns) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator("experiments/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    ++n;
    Result r = RunIbRun({entry.path().string(), "--dry-run"});
    EXPECT_EQ(r.code, 0) << entry.path() << "\n" << r.err;
    EXPECT_NE(r.out.find("Config is valid. Dry run complete."), std::string::npos) << entry.path();
    EXPECT_NE(r.out.find("Total requests: "), std::string::npos);
  }
  EXPECT_GE(n, 11);
}

TEST_F(IbRunTest, DryRunShowsIterationsAndRequestCounts) {
  Result r = RunIbRun({"experiments/examples/sim-demo.yaml", "--dry-run", "--name", "renamed"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Experiment: renamed"), std::string::npos);
  EXPECT_NE(r.out.find("1/3  renamed-c4  (concurrency=4)  60 requests"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Total requests: 180 (+6 warmup)"), std::string::npos);
  // The swept values, not the config's base concurrency (8) that no iteration uses.
  EXPECT_NE(r.out.find("  Concurrency   4, 16, 48 (swept)\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Concurrency   8"), std::string::npos) << r.out;
}

}  // namespace

namespace {

TEST_F(IbRunTest, DryRunPricesRunpodConfigsAndNotLocalOnes) {
  Result paid = RunIbRun({"experiments/examples/baseline-vllm.yaml", "--dry-run"}, {{"HOME", dir_}});
  ASSERT_EQ(paid.code, 0) << paid.err;
  // 50 requests on an A100-80GB at the built-in $1.99/hr: the estimate names the rate.
  EXPECT_NE(paid.out.find("Est. cost: ~$"), std::string::npos) << paid.out;
  EXPECT_NE(paid.out.find("A100-80GB x1 (community) at $1.99/hr"), std::string::npos) << paid.out;
  Result local = RunIbRun({"experiments/examples/sim-smoke.yaml", "--dry-run"});
  EXPECT_NE(local.out.find("Est. cost: $0 (local simulated server)"), std::string::npos) << local.out;
}

TEST_F(IbRunTest, PaidRunWithoutConfirmRefusesWhenNobodyCanAnswer) {
  // stdin is /dev/null here: no prompt can be answered, so nothing is provisioned.
  Result r = RunIbRun({"experiments/examples/baseline-vllm.yaml", "--output-dir", dir_ + "/results"}, {{"HOME", dir_}});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("pass --confirm"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/results"));
}

TEST_F(IbRunTest, SubcommandsAreFoundUnderIbRun) {
  Result bad = RunIbRun({"server", "explode"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("server status"), std::string::npos) << bad.err;
  Result config = RunIbRun({"config", "set"});
  EXPECT_EQ(config.code, 2);
  Result unknown_key = RunIbRun({"config", "set", "no.such.key", "x"}, {{"HOME", dir_}});
  EXPECT_EQ(unknown_key.code, 2) << unknown_key.err;
}

}  // namespace
