// Golden-stream test of the supervisor: two sweep iterations of stand-in children (a fast
// ib-scrape, an ib-load whose lines are longer than PIPE_BUF) through a stand-in ib-aggregate,
// the way ib-run wires them. Checks that the combined stream is whole lines only, complete
// (every sample and request exactly once) and ordered (each iteration_done after the last line
// of its iteration's ib-scrape; summary right after it), and compares the stream's skeleton
// (everything but the interleaved samples and requests) with golden/two-iterations.txt.
// IB_UPDATE_GOLDEN=/abs/path/two-iterations.txt rewrites the golden file.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/orchestrate/iteration.h"
#include "lib/orchestrate/output.h"
#include "lib/orchestrate/supervisor.h"

namespace ib::orchestrate {
namespace {

namespace ev = ib::events;
const char* kFake = "tests/run/fake_tool";
constexpr int kRequests = 40;

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/goldenXXXXXX";
  return ::mkdtemp(tmpl.data());
}

proc::SpawnOptions Fake(std::vector<std::string> args) {
  proc::SpawnOptions o;
  o.argv = {kFake};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  return o;
}

// One line of the skeleton: what it is, who wrote it, for which run; digits masked.
std::string Skeleton(const ev::Event& e) {
  std::string out;
  if (auto* p = std::get_if<ev::Phase>(&e)) out = "phase " + p->phase + " " + p->run_id;
  if (auto* l = std::get_if<ev::Log>(&e)) {
    out = "log " + l->source + " " + l->run_id + " " + l->message;
  }
  if (auto* s = std::get_if<ev::Summary>(&e)) {
    out = "summary " + s->run_id + " " + s->data.value("status", "");
  }
  return std::regex_replace(out, std::regex("after [0-9]+ samples"), "after N samples");
}

TEST(GoldenStream, TwoIterationsAreWholeCompleteAndOrdered) {
  std::string dir = TempDir();
  std::string stream_path = dir + "/stream.ndjson";
  int out_fd = ::open(stream_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(out_fd, 0);
  {
    StreamOutput out(out_fd);
    AggregateStage agg(out);
    std::string error;
    ASSERT_TRUE(agg.Start({kFake, "--as", "ib-aggregate", "--output-dir", dir}, &error)) << error;
    Supervisor sup;
    auto emit = [&](const ev::Event& e) { agg.Write(ev::Serialize(e)); };
    emit(ev::Phase{"demo", ev::phase::kProvisioningSkipped, {{"server_url", "http://x"}}});
    for (int k = 1; k <= 2; ++k) {
      std::string run_id = "demo-c" + std::to_string(k);
      emit(ev::Phase{run_id, ev::phase::kSweepIteration, {{"iteration", k}, {"total", 2}}});
      IterationPlan plan;
      plan.run_id = run_id;
      plan.scrape = Fake({"--as", "ib-scrape", "--run-id", run_id, "--interval-ms", "1"});
      plan.load = Fake({"--as", "ib-load", "--run-id", run_id, "--iteration", std::to_string(k),
                        "--requests", std::to_string(kRequests), "--delay-ms", "2", "--pad",
                        "20000"});
      auto r = RunIteration(sup, agg, plan, nullptr);
      ASSERT_TRUE(r.ok()) << r.error;
    }
    emit(ev::Phase{"demo", ev::phase::kDone, {}});
    EXPECT_EQ(agg.Finish(20000).code, 0);
  }
  ::close(out_fd);

  std::ifstream in(stream_path);
  std::string line;
  std::vector<ev::Event> stream;
  while (std::getline(in, line)) {
    auto parsed = ev::ParseEvent(line);  // a torn or interleaved line would not parse
    ASSERT_TRUE(parsed.event) << parsed.error << " in line " << stream.size() + 1;
    stream.push_back(*parsed.event);
  }

  std::map<std::string, int> samples, stopped_after;
  std::map<std::string, std::set<int64_t>> requests;
  std::map<std::string, bool> done;
  std::ostringstream skeleton;
  for (const auto& e : stream) {
    const std::string& run_id = ev::RunId(e);
    if (std::holds_alternative<ev::GpuSample>(e)) {
      EXPECT_FALSE(done[run_id]) << "gpu_sample after iteration_done of " << run_id;
      ++samples[run_id];
      continue;
    }
    if (auto* r = std::get_if<ev::RequestComplete>(&e)) {
      EXPECT_TRUE(requests[run_id].insert(r->request_index).second) << "duplicate request";
      EXPECT_GT(r->inter_token_latencies_ms.size(), 3000u);  // really longer than PIPE_BUF
      continue;
    }
    if (auto* l = std::get_if<ev::Log>(&e); l && l->source == "ib-scrape") {
      EXPECT_FALSE(done[run_id]) << "scrape line after iteration_done";
      stopped_after[run_id] = std::stoi(l->message.substr(l->message.find("after ") + 6));
    }
    if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == ev::phase::kIterationDone) {
      done[run_id] = true;
    }
    skeleton << Skeleton(e) << "\n";
  }
  for (std::string run_id : {"demo-c1", "demo-c2"}) {
    EXPECT_TRUE(done[run_id]);
    EXPECT_EQ(requests[run_id].size(), static_cast<std::size_t>(kRequests));
    EXPECT_GT(samples[run_id], 0);
    EXPECT_EQ(samples[run_id], stopped_after[run_id]) << "every sample the scrape wrote arrived";
    std::ifstream result(dir + "/" + run_id + ".json");
    EXPECT_TRUE(result.good()) << "results file of " << run_id;
  }

  if (const char* update = std::getenv("IB_UPDATE_GOLDEN")) {
    std::ofstream(update) << skeleton.str();
    GTEST_SKIP() << "rewrote " << update;
  }
  std::ifstream golden("tests/run/golden/two-iterations.txt");
  ASSERT_TRUE(golden.good());
  std::stringstream expected;
  expected << golden.rdbuf();
  EXPECT_EQ(skeleton.str(), expected.str());
}

}  // namespace
}  // namespace ib::orchestrate
