// ib-results end to end: the real binary on a directory of original-tool, ib and corrupt files.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/proc/proc.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Outcome {
  std::string out;
  int code = -1;
};

Outcome Results(const std::string& dir, std::vector<std::string> args) {
  ib::proc::SpawnOptions options;
  options.argv = {ib::proc::FindTool("ib-results"), "--dir", dir};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  std::string error;
  auto child = ib::proc::Spawn(options, &error);
  EXPECT_TRUE(child) << error;
  if (!child) return {};
  Outcome o;
  char buf[65536];
  ssize_t n;
  while ((n = read(child->stdout_fd, buf, sizeof buf)) > 0) o.out.append(buf, static_cast<std::size_t>(n));
  close(child->stdout_fd);
  auto status = ib::proc::Wait(child->pid);
  o.code = status.exited ? status.code : -1;
  return o;
}

std::string Fixtures() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/cli-results";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* sub : {"tests/results/original", "tests/results/corrupt"}) {
    for (const auto& e : fs::directory_iterator(sub)) fs::copy(e.path(), dir + "/" + e.path().filename().string());
  }
  return dir;
}

TEST(IbResults, ListShowsEveryFileAndNeverCrashesOnCorruptOnes) {
  std::string dir = Fixtures();
  Outcome list = Results(dir, {"list"});
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.out.find("\nbaseline-vllm-20250315-143022     completed   vllm"), std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("unreadable: " + dir + "/truncated-20250318-000000.json: not valid JSON"),
            std::string::npos);
  Outcome j = Results(dir, {"list", "--json"});
  json items = json::parse(j.out);
  ASSERT_EQ(items.size(), 7u);
  EXPECT_EQ(items[2]["run_id"], "baseline-vllm-20250315-143022");
  EXPECT_EQ(items[2]["ttft_p50_ms"], 120.5);
  EXPECT_EQ(items[6]["readable"], false);
  Outcome none = Results(dir + "/none", {"list"});  // says the directory is not there
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(none.out, "");
}

TEST(IbResults, ShowAcceptsAUniquePartialIdAndRefusesAmbiguousOrBadOnes) {
  std::string dir = Fixtures();
  Outcome show = Results(dir, {"show", "143022"});
  EXPECT_EQ(show.code, 0);
  EXPECT_NE(show.out.find("Run: baseline-vllm-20250315-143022"), std::string::npos);
  EXPECT_NE(show.out.find("TTFT:         p50=120ms  p95=180ms  p99=185ms"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("KV Cache: peak=4.2%  mean=2.1%"), std::string::npos);
  EXPECT_EQ(Results(dir, {"show", "2025031"}).code, 1);     // ambiguous
  EXPECT_EQ(Results(dir, {"show", "nothing"}).code, 1);     // not found
  EXPECT_EQ(Results(dir, {"show", "../etc"}).code, 2);      // a path, not a run id: bad usage
  EXPECT_EQ(Results(dir, {"show", "../etc/passwd"}).code, 2);
  EXPECT_EQ(Results(dir, {"export", "../etc/passwd", "--format", "csv"}).code, 2);
  EXPECT_EQ(Results(dir, {"show", "truncated"}).code, 1);   // unreadable
  EXPECT_EQ(Results(dir, {"show"}).code, 2);
  EXPECT_EQ(Results(dir, {"frobnicate"}).code, 2);
  json full = json::parse(Results(dir, {"show", "no-gpu", "--json"}).out);
  EXPECT_EQ(full["summary"]["failed_requests"], 1);
}

TEST(IbResults, CompareRunsOfDifferentFrameworks) {
  std::string dir = Fixtures();
  Outcome text = Results(dir, {"compare", "baseline", "multiturn"});
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("note: frameworks differ"), std::string::npos) << text.out;
  json c = json::parse(Results(dir, {"compare", "baseline", "multiturn", "no-gpu", "--json"}).out);
  ASSERT_EQ(c["runs"].size(), 3u);
  EXPECT_EQ(c["runs"][1]["framework"], "sglang");
  bool saw_ttft = false;
  for (const auto& row : c["rows"]) {
    if (row["metric"] != "TTFT p50") continue;
    saw_ttft = true;
    EXPECT_EQ(row["values"][0], 120.5);
    EXPECT_EQ(row["deltas"][1]["verdict"], "better");  // 90 ms < 120.5 ms
    EXPECT_DOUBLE_EQ(row["deltas"][1]["abs"].get<double>(), -30.5);
    EXPECT_TRUE(row["values"][2].is_null());  // all of its requests failed
    EXPECT_TRUE(row["deltas"][2].is_null());
  }
  EXPECT_TRUE(saw_ttft);
  EXPECT_EQ(Results(dir, {"compare", "baseline"}).code, 2);
  EXPECT_EQ(Results(dir, {"compare", "baseline", "missing"}).code, 1);
}

TEST(IbResults, ExportsRequestsAndSummary) {
  std::string dir = Fixtures();
  Outcome csv = Results(dir, {"export", "multiturn", "--format", "csv"});
  EXPECT_EQ(csv.code, 0);
  std::istringstream lines(csv.out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 5u);  // header + 4 requests
  EXPECT_EQ(rows[0].substr(0, 30), "request_index,warmup,iteration");
  EXPECT_NE(rows[3].find(",HTTP 500: Internal Server Error,"), std::string::npos) << rows[3];
  json j = json::parse(Results(dir, {"export", "multiturn", "--format", "json"}).out);
  EXPECT_EQ(j["requests"].size(), 4u);
  Outcome summary = Results(dir, {"export", "baseline", "--format", "csv", "--summary"});
  EXPECT_NE(summary.out.find("ttft.p50,120.5\n"), std::string::npos) << summary.out;
  EXPECT_EQ(Results(dir, {"export", "baseline", "--format", "xml"}).code, 2);
  // A partial resumed run: planned vs done, and the run it continues.
  std::ofstream(dir + "/resumed-20260102-000000.json")
      << R"({"run_id":"resumed-20260102-000000","status":"partial","metadata":{"planned_requests":60,)"
      << R"("resumed_from":"first-20260101-000000"},"summary":{"total_requests":40,"successful_requests":40,)"
      << R"("failed_requests":0},"requests":[]})";
  Outcome partial = Results(dir, {"show", "resumed-20260102-000000"});
  ASSERT_EQ(partial.code, 0);
  EXPECT_NE(partial.out.find("Requests:     40/40        Errors: 0        Planned: 60\n"), std::string::npos) << partial.out;
  EXPECT_NE(partial.out.find("Resumed from"), std::string::npos) << partial.out;
  EXPECT_NE(partial.out.find("first-20260101-000000"), std::string::npos) << partial.out;
  // started_at in microseconds (as ib-load writes it), finished_at in milliseconds: the CSV
  // gives both the same precision.
  std::ofstream(dir + "/csvtime-20260101-000000.json")
      << R"({"run_id":"csvtime-20260101-000000","status":"completed","requests":[)"
      << R"({"request_index":0,"started_at":"2026-01-01T00:00:00.123456Z","finished_at":"2026-01-01T00:00:01.5Z"},)"
      << R"({"request_index":1,"started_at":"2026-01-01T00:00:02Z","finished_at":"2026-01-01T00:00:03.250Z"}]})";
  Outcome times = Results(dir, {"export", "csvtime", "--format", "csv"});
  ASSERT_EQ(times.code, 0);
  EXPECT_NE(times.out.find(",2026-01-01T00:00:00.123Z,2026-01-01T00:00:01.500Z,"), std::string::npos) << times.out;
  EXPECT_NE(times.out.find(",2026-01-01T00:00:02.000Z,2026-01-01T00:00:03.250Z,"), std::string::npos) << times.out;
}

// The OpenMetrics export needs the run clock's wall time (ib's metadata.clock_origin); the
// original tool's files lack it and are refused, printing nothing on stdout. Its success path
// is checked by lib/openmetrics' test and, through promtool and Prometheus, by
// tests/node/prometheus.test.js.
TEST(IbResults, OpenMetricsExportRefusesWhatItCannotPlaceInTime) {
  std::string dir = Fixtures();
  Outcome om = Results(dir, {"export", "baseline", "--format", "openmetrics"});
  EXPECT_EQ(om.code, 1);
  EXPECT_EQ(om.out, "");
  EXPECT_EQ(Results(dir, {"export", "baseline", "--format", "openmetrics", "--summary"}).code, 2);
  EXPECT_EQ(Results(dir, {"export", "baseline", "--format", "openmetrics", "--step", "-1"}).code, 2);
}

}  // namespace
