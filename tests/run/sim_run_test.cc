// ib-run end to end with no GPU: provider local starts the real ib-sim, and the real ib-scrape
// and ib-load run each iteration (ib-aggregate is the stand-in until the real one lands).
// Checks exit codes, one results file per iteration, the stream's completeness and ordering,
// and that a killed run leaves a partial results file and no ib-sim behind.
#include <fcntl.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/proc/proc.h"

namespace {

namespace ev = ib::events;
namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string err;
  std::vector<ev::Event> events;
};

class SimRunTest : public testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/simrunXXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    std::string bin = dir_ + "/bin";
    fs::create_directories(bin);
    for (std::string tool : {"ib-sim", "ib-scrape", "ib-load"}) {
      fs::create_symlink(fs::absolute("tools/" + tool + "/" + tool), bin + "/" + tool);
    }
    std::string agg = bin + "/ib-aggregate";
    std::ofstream(agg) << "#!/bin/sh\nexec " << fs::absolute("tests/run/fake_tool").string()
                       << " --as ib-aggregate \"$@\"\n";
    fs::permissions(agg, fs::perms::owner_all);
    bin_ = bin;
  }

  std::string Config(const std::string& name, int count, const std::string& extra) {
    std::string path = dir_ + "/" + name + ".yaml";
    std::ofstream(path) << "name: \"" << name << "\"\n"
                        << "model:\n  name: \"Qwen/Qwen3-0.6B\"\n"
                        << "framework: \"vllm\"\n"
                        << "infrastructure:\n  provider: \"local\"\n  sim:\n    preset: \"tiny-fast\"\n"
                        << "    speed: 4.0\n    load_time_s: 0.5\n"
                        << "workload:\n  type: \"concurrent\"\n  concurrency: 4\n"
                        << "  requests:\n    source: \""
                        << fs::absolute("prompts/baseline.jsonl").string() << "\"\n"
                        << "    count: " << count << "\n"
                        << "  parameters:\n    max_tokens: 32\n"
                        << extra << "metrics:\n  sample_interval_ms: 20\n";
    return path;
  }

  // Runs ib-run; kill_after_requests > 0 sends SIGTERM once that many request_complete lines
  // have arrived.
  Result RunIbRun(const std::string& config, int kill_after_requests = 0, bool ctrl_c = false) {
    ib::proc::SpawnOptions o;
    o.new_process_group = ctrl_c;  // like a shell job: Ctrl-C signals the whole group
    o.argv = {"tools/ib-run/ib-run", config, "--output-dir", dir_ + "/results"};
    o.env = {{"IB_BIN_DIR", bin_}};
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
    std::string pending;
    int requests = 0;
    bool killed = false;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(child->stdout_fd, buf, sizeof buf)) > 0) {
      pending.append(buf, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        auto parsed = ev::ParseEvent(std::string_view(pending).substr(0, nl));
        EXPECT_TRUE(parsed.event) << parsed.error;
        if (parsed.event) {
          if (std::holds_alternative<ev::RequestComplete>(*parsed.event)) ++requests;
          r.events.push_back(*parsed.event);
        }
        pending.erase(0, nl + 1);
      }
      if (kill_after_requests > 0 && !killed && requests >= kill_after_requests) {
        if (ctrl_c) {
          ::kill(-child->pid, SIGINT);
        } else {
          ::kill(child->pid, SIGTERM);
        }
        killed = true;
      }
    }
    ::close(child->stdout_fd);
    r.code = ib::proc::Wait(child->pid).code;
    std::ifstream in(err_path);
    std::stringstream ss;
    ss << in.rdbuf();
    r.err = ss.str();
    return r;
  }

  std::string dir_, bin_;
};

const ev::Phase* LastPhase(const Result& r) {
  for (auto it = r.events.rbegin(); it != r.events.rend(); ++it) {
    if (auto* p = std::get_if<ev::Phase>(&*it)) return p;
  }
  return nullptr;
}

TEST_F(SimRunTest, SweepAgainstIbSimWritesOneResultsFilePerIteration) {
  Result r = RunIbRun(Config("simsweep", 12, "  sweep:\n    concurrency: [2, 6]\n"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::map<std::string, int> requests, samples;
  std::map<std::string, bool> done;
  std::vector<std::string> phases;
  std::string server_url;
  for (const auto& e : r.events) {
    const std::string& run_id = ev::RunId(e);
    if (auto* q = std::get_if<ev::RequestComplete>(&e)) {
      EXPECT_FALSE(done[run_id]);
      EXPECT_FALSE(q->error) << *q->error;
      ++requests[run_id];
    }
    if (std::holds_alternative<ev::GpuSample>(e)) {
      EXPECT_FALSE(done[run_id]) << "gpu_sample after iteration_done";
      ++samples[run_id];
    }
    if (auto* p = std::get_if<ev::Phase>(&e)) {
      phases.push_back(p->phase);
      if (p->phase == "iteration_done") done[run_id] = true;
      if (p->phase == "provisioning_done") server_url = p->data.value("server_url", "");
    }
  }
  EXPECT_EQ(phases, (std::vector<std::string>{"provisioning", "provisioning_done", "model_loading",
                                              "model_loading_done", "sweep_iteration", "execution",
                                              "iteration_done", "sweep_iteration", "execution",
                                              "iteration_done", "cleanup", "done"}));
  ASSERT_EQ(requests.size(), 2u);
  for (auto& [run_id, n] : requests) {
    EXPECT_EQ(n, 12) << run_id;
    EXPECT_GT(samples[run_id], 0) << run_id;
  }
  const ev::Phase* last = LastPhase(r);
  ASSERT_EQ(last->data["result_paths"].size(), 2u);
  for (const auto& path : last->data["result_paths"]) {
    EXPECT_TRUE(fs::exists(path.get<std::string>())) << path;
  }
  // ib-sim was stopped at cleanup.
  ASSERT_FALSE(server_url.empty());
  EXPECT_NE(server_url.find("http://127.0.0.1:"), std::string::npos);
}

TEST_F(SimRunTest, KilledRunLeavesAPartialFileAndNoServer) {
  Result r = RunIbRun(Config("simkill", 100000, ""), /*kill_after_requests=*/3);
  EXPECT_EQ(r.code, 130) << r.err;
  const ev::Phase* last = LastPhase(r);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->phase, "failed");
  EXPECT_EQ(last->data["reason"], "interrupted");
  ASSERT_EQ(last->data["result_paths"].size(), 1u);
  std::ifstream result(last->data["result_paths"][0].get<std::string>());
  ASSERT_TRUE(result.good());
  EXPECT_EQ(nlohmann::json::parse(result)["status"], "partial");
  // The iteration_done ib-load sent on SIGTERM came after every GPU sample.
  bool after_done = false;
  for (const auto& e : r.events) {
    if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == "iteration_done") after_done = true;
    if (std::holds_alternative<ev::GpuSample>(e)) EXPECT_FALSE(after_done);
  }
  EXPECT_TRUE(after_done);
  // The provisioning_done's ib-sim no longer answers.
  std::string url;
  for (const auto& e : r.events) {
    if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == "provisioning_done") {
      url = p->data.value("server_url", "");
    }
  }
  ASSERT_FALSE(url.empty());
  int port = std::stoi(url.substr(url.rfind(':') + 1));
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(s);
}

TEST_F(SimRunTest, CtrlCToTheWholeProcessGroupStopsInOrder) {
  Result r = RunIbRun(Config("simctrlc", 100000, ""), /*kill_after_requests=*/3, /*ctrl_c=*/true);
  EXPECT_EQ(r.code, 130) << r.err;
  std::string reason;
  int summaries = 0;
  for (const auto& e : r.events) {
    if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == "iteration_done") {
      reason = p->data.value("reason", "");
    }
    if (std::holds_alternative<ev::Summary>(e)) ++summaries;
  }
  // ib-load was stopped by ib-run (not killed by the terminal's signal with the server gone).
  EXPECT_EQ(reason, "interrupted");
  EXPECT_EQ(summaries, 1);
  EXPECT_EQ(LastPhase(r)->phase, "failed");
}

TEST_F(SimRunTest, ExampleSimSmokeCompletes) {
  fs::copy("experiments/examples/sim-smoke.yaml", dir_ + "/sim-smoke.yaml");
  // The example's relative prompt path is resolved from its own directory.
  std::string text;
  {
    std::ifstream in(dir_ + "/sim-smoke.yaml");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto pos = text.find("../../prompts/baseline.jsonl");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 28, fs::absolute("prompts/baseline.jsonl").string());
  std::ofstream(dir_ + "/sim-smoke.yaml") << text;
  Result r = RunIbRun(dir_ + "/sim-smoke.yaml");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(LastPhase(r)->phase, "done");
  EXPECT_EQ(LastPhase(r)->data["result_paths"].size(), 1u);
}

}  // namespace
