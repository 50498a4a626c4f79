#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>

#include "lib/events/stream.h"
#include "lib/results/file.h"
#include "lib/results/aggregator.h"
#include "lib/results/store.h"
#include "lib/results/test_runs.h"

namespace ib::results {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<events::Event> ReadEvents(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  events::EventReader reader(fd, path);
  std::vector<events::Event> out;
  while (auto item = reader.Next()) out.push_back(std::move(item->event));
  ::close(fd);
  return out;
}

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(RunAggregation, GoldenStreamGivesTheDocumentedNumbers) {
  auto runs = AllRunsOf(ReadEvents("tests/results/golden-run.ndjson"));
  ASSERT_EQ(runs.size(), 2u);
  const RunRecord& run = runs[0];
  EXPECT_EQ(run.run_id, "golden-c2-20261128-030000");
  EXPECT_EQ(run.status, "completed");
  EXPECT_EQ(run.stop_reason, "");
  const json& s = run.summary;
  EXPECT_EQ(s["total_requests"], 4);
  EXPECT_EQ(s["successful_requests"], 3);
  EXPECT_EQ(s["failed_requests"], 1);
  EXPECT_DOUBLE_EQ(s["total_duration_s"].get<double>(), 2.3);
  EXPECT_DOUBLE_EQ(s["requests_per_second"].get<double>(), 3 / 2.3);
  EXPECT_EQ(s["total_prompt_tokens"], 30);
  EXPECT_EQ(s["total_completion_tokens"], 182);
  EXPECT_DOUBLE_EQ(s["tokens_per_second"].get<double>(), 182 / 2.3);
  // TTFT over successful requests [50, 100, 200]; the config asks for p50 and p90.
  EXPECT_DOUBLE_EQ(s["ttft"]["p50"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(s["ttft"]["p90"].get<double>(), 180);
  EXPECT_DOUBLE_EQ(s["ttft"]["p99"].get<double>(), 198);  // always present: an original key
  EXPECT_EQ(s["ttft"]["count"], 3);
  EXPECT_EQ(s["ttft"]["min"], 50.0);
  // ITL pooled over chunks [10,10,10,20,20,50] and the original's "tbt" alias.
  EXPECT_DOUBLE_EQ(s["itl"]["p50"].get<double>(), 15);
  EXPECT_EQ(s["itl"]["count"], 6);
  EXPECT_EQ(s["tbt"], s["itl"]);
  // TPOT per request [10, 20, 50].
  EXPECT_DOUBLE_EQ(s["tpot"]["p50"].get<double>(), 20);
  EXPECT_EQ(s["errors_by_reason"], json({{"http_status", 1}}));
  EXPECT_EQ(s["goodput"]["good_requests"], 2);
  EXPECT_EQ(s["warmup_requests"], 1);
  EXPECT_EQ(run.warmup_requests.size(), 1u);
  ASSERT_EQ(run.requests.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(run.requests[i].request_index, int64_t(i));
  // GPU: per-run counter deltas.
  const json& g = s["gpu_summary"];
  EXPECT_DOUBLE_EQ(g["kv_cache_usage_peak"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(g["kv_cache_usage_mean"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(g["prefix_cache_hit_rate"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(g["generation_throughput"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(g["active_requests_mean"].get<double>(), 1.25);
  EXPECT_EQ(g["server_counter_deltas"]["preemptions"], 1.0);
  EXPECT_EQ(g["total_samples"], 4);
  EXPECT_EQ(g["scrape_errors"], 1);
  EXPECT_EQ(run.gpu_metrics["total_scrapes"], 5);
  // Metadata from ib-load's execution phase and the sweep.
  const json& m = run.metadata;
  EXPECT_EQ(m["experiment_name"], "golden-c2");
  EXPECT_EQ(m["started_at"], "2026-11-28T03:00:00.000Z");
  EXPECT_EQ(m["finished_at"], "2026-11-28T03:00:02.300Z");
  EXPECT_EQ(m["pod_id"], "pod1");
  EXPECT_EQ(m["framework"], "vllm");
  EXPECT_EQ(m["params"], json({{"concurrency", 2}}));
  EXPECT_DOUBLE_EQ(m["cost_usd"].get<double>(), 0.36 * 2.3 / 3600);
  EXPECT_EQ(run.output_dir_hint, "results/");

  const RunRecord& partial = runs[1];
  EXPECT_EQ(partial.run_id, "golden-c4-20261128-030005");
  EXPECT_EQ(partial.status, "partial");
  EXPECT_EQ(partial.stop_reason, "end of stream before the run finished");
  EXPECT_EQ(partial.summary["successful_requests"], 1);
  EXPECT_EQ(partial.summary["ttft"]["p90"], 40.0);  // default percentiles without a config
  EXPECT_TRUE(partial.summary["gpu_summary"].is_null());
}

events::RequestComplete Request(const std::string& run, int64_t index, double ttft) {
  events::RequestComplete r;
  r.run_id = run;
  r.request_index = index;
  r.start_ms = index * 10.0;
  r.end_ms = index * 10.0 + 100;
  r.ttft_ms = ttft;
  r.e2e_latency_ms = 100;
  r.completion_tokens = 5;
  return r;
}

events::Phase Phase(const std::string& run, const std::string& name, json data = json::object()) {
  return events::Phase{run, name, std::move(data)};
}

TEST(RunAggregation, EndingsSetStatus) {
  std::vector<events::Event> evs = {
      Request("a", 0, 10), Phase("a", "failed", {{"reason", "server crashed"}}),
      Phase("b", "execution", {{"total_requests", 3}}), Request("b", 0, 10),
      Phase("b", "iteration_done", {{"completed", 1}}),
      Request("c", 0, 10), Phase("c", "iteration_done", {{"reason", "error_threshold"}}),
      Request("d", 0, 10), Phase("d", "done"),
      Phase("e", "provisioning"), Phase("e", "done"),  // nothing measured: no file
  };
  auto runs = AllRunsOf(std::move(evs));
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].status, "failed");
  EXPECT_EQ(runs[0].stop_reason, "server crashed");
  EXPECT_EQ(runs[1].status, "partial");
  EXPECT_EQ(runs[1].stop_reason, "ib-load finished 1 of 3 requests");
  EXPECT_EQ(runs[2].status, "partial");
  EXPECT_EQ(runs[2].stop_reason, "error_threshold");
  EXPECT_EQ(runs[3].status, "completed");
}

TEST(RunAggregation, LateEventsOfAFinishedRunAreIgnored) {
  StreamAggregator aggregator({});
  EXPECT_TRUE(aggregator.Add(Request("a", 0, 10)).empty());
  EXPECT_EQ(aggregator.Add(Phase("a", "iteration_done")).size(), 1u);
  EXPECT_TRUE(aggregator.Add(Request("a", 1, 10)).empty());
  EXPECT_TRUE(aggregator.Add(Phase("a", "done")).empty());
  EXPECT_EQ(aggregator.late_events(), 1);
  EXPECT_TRUE(aggregator.Finish("eof").empty());
}

TEST(RunAggregation, ScrapeOnlyStreamStillMakesARun) {
  events::GpuSample s;
  s.run_id = "scrape-only";
  s.t_s = 1;
  s.kv_cache_usage_frac = 0.5;
  auto runs = AllRunsOf({s});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status, "partial");
  EXPECT_EQ(runs[0].summary["total_requests"], 0);
  EXPECT_TRUE(runs[0].summary["ttft"].is_null());
  EXPECT_EQ(runs[0].summary["gpu_summary"]["kv_cache_usage_peak"], 0.5);
}

TEST(RunAggregation, AllFailedGivesNullBlocksAndZeroRates) {
  auto r = Request("x", 0, 10);
  r.error = "boom";
  r.ttft_ms.reset();
  json s = Summarize({r}, {}, 0, 0, {50}, {});
  EXPECT_EQ(s["successful_requests"], 0);
  EXPECT_TRUE(s["ttft"].is_null());
  EXPECT_EQ(s["tokens_per_second"], 0.0);
  EXPECT_EQ(s["errors_by_reason"]["other"], 1);
  EXPECT_TRUE(s["goodput"].is_null());
}

TEST(ResultsFile, WritesAtomicallyAndNeverOverwrites) {
  std::string dir = TempDir("write") + "/nested/results";
  auto runs = AllRunsOf(ReadEvents("tests/results/golden-run.ndjson"));
  RunRecord first = runs[0];
  first.requests[0].ttft_ms = std::numeric_limits<double>::quiet_NaN();
  first.requests[0].error = std::string("bad \xff byte \"quoted\"\n");
  std::string path, error;
  ASSERT_TRUE(WriteRunFile(dir, first, &path, &error)) << error;
  EXPECT_EQ(path, dir + "/golden-c2-20261128-030000.json");
  RunRecord again = runs[0];
  std::string path2;
  ASSERT_TRUE(WriteRunFile(dir, again, &path2, &error)) << error;
  EXPECT_EQ(path2, dir + "/golden-c2-20261128-030000-2.json");
  EXPECT_EQ(again.run_id, "golden-c2-20261128-030000-2");
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2);  // no temporary file left behind

  std::string text = Slurp(path);
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  json j = json::parse(text);  // strict JSON
  EXPECT_EQ(j["run_id"], "golden-c2-20261128-030000");
  EXPECT_TRUE(j["requests"][0]["ttft_ms"].is_null());
  EXPECT_EQ(j["requests"][0]["finished_at"], "2026-11-28T03:00:01.000Z");
  EXPECT_EQ(j["requests"][1]["started_at"], "2026-11-28T03:00:00.100Z");
  EXPECT_EQ(j["requests"][3]["inter_token_latencies_ms"], json({50.0}));
  EXPECT_EQ(j["warmup_requests"].size(), 1u);
  EXPECT_EQ(j["gpu_metrics"]["time_series"].size(), 4u);
  EXPECT_EQ(j["gpu_metrics"]["time_series"][1]["kv_cache_usage"], 0.3);
  EXPECT_EQ(j["definitions_version"], kDefinitionsVersion);
  EXPECT_EQ(j["summary"], runs[0].summary);
  EXPECT_EQ(json::parse(Slurp(path2))["run_id"], "golden-c2-20261128-030000-2");
}

TEST(ResultsFile, UnwritableDirectoryIsAClearError) {
  RunRecord run;
  run.run_id = "x";
  std::string path, error;
  std::string file = TempDir("unwritable") + "/a-file";
  std::ofstream(file) << "x";
  EXPECT_FALSE(WriteRunFile(file + "/sub", run, &path, &error));
  EXPECT_NE(error.find("cannot create"), std::string::npos) << error;
}

TEST(ResultsFile, OddRunIdsBecomeSafeFileNames) {
  EXPECT_EQ(SafeRunId("../../etc/passwd"), "_._.._etc_passwd");
  EXPECT_EQ(SafeRunId(""), "run");
  EXPECT_TRUE(IsSafeRunId(SafeRunId(".hidden\n")));
}

std::string DirWithFixtures(const std::string& name) {
  std::string dir = TempDir(name);
  for (const char* sub : {"tests/results/original", "tests/results/corrupt"}) {
    for (const auto& e : fs::directory_iterator(sub)) fs::copy(e.path(), dir + "/" + e.path().filename().string());
  }
  return dir;
}

TEST(RunAggregation, FailedScrapesComeFromIbScrapesClosingLine) {
  auto stream = ReadEvents("tests/results/golden-run.ndjson");
  // ib-run stops ib-scrape before it forwards iteration_done, so the closing line comes first.
  auto end = std::find_if(stream.begin(), stream.end(), [](const events::Event& e) {
    const auto* p = std::get_if<events::Phase>(&e);
    return p && p->phase == "iteration_done" && p->run_id == "golden-c2-20261128-030000";
  });
  ASSERT_NE(end, stream.end());
  // The count travels as a field through a serialized line, not as words in the message.
  auto closing = events::ParseEvent(events::Serialize(
      events::ScrapeStopLog("golden-c2-20261128-030000", {12, 3, 0, 1})));
  ASSERT_TRUE(closing.event) << closing.error;
  const auto& log = std::get<events::Log>(*closing.event);
  ASSERT_TRUE(log.scrape_stats);
  EXPECT_EQ(log.scrape_stats->skipped_slots, 1);
  EXPECT_EQ(log.message, "stopped after 12 scrapes (3 failed, 0 counter resets, 1 slots skipped)");
  // The same words without the field count for nothing.
  auto words = events::MakeLog("golden-c2-20261128-030000", "info",
                               "stopped after 40 scrapes (30 failed, 0 counter resets, 0 slots skipped)",
                               "ib-scrape");
  end = stream.insert(end, *closing.event);
  stream.insert(end, words);
  auto runs = AllRunsOf(stream);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].summary["gpu_summary"]["scrape_errors"], 3);  // not the 1 outage event
  EXPECT_EQ(runs[0].gpu_metrics["total_scrapes"], 7);            // 4 samples + 3 failed
}

TEST(Events, StderrLevelReadsTheToolsPrefixNotWordsInTheLine) {
  EXPECT_EQ(events::StderrLevel("ib-scrape: error: cannot write to stdout"), "error");
  EXPECT_EQ(events::StderrLevel("ib-run: error (at x.yaml:3): bad key"), "error");
  EXPECT_EQ(events::StderrLevel("ib-run: warning: no GPU"), "warning");
  EXPECT_EQ(events::StderrLevel("ib-aggregate: wrote results/error-warn.json (completed)"), "info");
  EXPECT_EQ(events::StderrLevel("the server said: error"), "info");
  EXPECT_EQ(events::StderrLevel("error"), "info");
}

TEST(ResultsStore, ReadResultsGivesTheTypedFieldsToolsActOn) {
  std::string dir = TempDir("typed");
  std::ofstream(dir + "/r-20251001-101010-2.json")
      << R"({"run_id":"r-20251001-101010-2","status":"partial","metadata":{"resumed_from":"r-20251001-101010"},)"
      << R"("requests":[{"request_index":0},{"request_index":3,"error_kind":"cancelled"},{"request_index":"x"},)"
      << R"({"request_index":5,"error_kind":"http_500","ttft_ms":NaN}]})";
  auto read = ReadResults(dir + "/r-20251001-101010-2.json");
  ASSERT_TRUE(read.file) << read.error;
  EXPECT_EQ(read.file->run_id, "r-20251001-101010-2");
  EXPECT_EQ(read.file->status, "partial");
  EXPECT_EQ(read.file->resumed_from, "r-20251001-101010");
  ASSERT_EQ(read.file->requests.size(), 3u);  // the one without an integer index is skipped
  EXPECT_EQ(read.file->requests[1].request_index, 3);
  EXPECT_EQ(read.file->requests[1].error_kind, "cancelled");
  EXPECT_EQ(read.file->requests[2].error_kind, "http_500");
  EXPECT_TRUE(read.file->data["requests"][3]["ttft_ms"].is_null());  // the original's NaN
  auto headers = ReadResults(dir + "/r-20251001-101010-2.json", /*headers_only=*/true);
  ASSERT_TRUE(headers.file);
  EXPECT_TRUE(headers.file->requests.empty());
  EXPECT_EQ(headers.file->status, "partial");
  std::ofstream(dir + "/list.json") << "[1,2]";
  EXPECT_EQ(ReadResults(dir + "/list.json").error, "not a JSON object");
  EXPECT_FALSE(ReadResults(dir + "/missing.json").file);
}

TEST(ResultsStore, ListingSkipsTheBulkButReadsEveryHeaderAndSeesChanges) {
  std::string dir = TempDir("skim");
  // Brackets, braces, quotes and a "summary" key inside the bulk must not confuse the skim.
  const std::string requests =
      R"([{"error":"bad ] } [ {\"x\":1","summary":{"total_requests":999}},{"prompt":"\\"}])";
  std::ofstream(dir + "/skim-20251001-101010.json")
      << R"({"run_id":"skim-20251001-101010","status":"completed","requests":)" << requests
      << R"(,"gpu_metrics":{"time_series":[{"a":[1,2]}],"peak":{"kv":0.5}},"warmup_requests":[[]],)"
      << R"("metadata":{"framework":"vllm","started_at":"2025-10-01T10:10:10Z"},)"
      << R"("summary":{"total_requests":2,"successful_requests":1,"ttft":{"p50":12.5}}})";
  std::ofstream(dir + "/cut-20251002-101010.json") << R"({"run_id":"cut","requests":[{"a":1},)";
  auto items = ListRuns(dir);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].run_id, "skim-20251001-101010");
  EXPECT_TRUE(items[0].readable) << items[0].error;
  EXPECT_EQ(items[0].framework, "vllm");
  EXPECT_EQ(items[0].total_requests, 2);
  EXPECT_EQ(items[0].ttft_p50_ms, 12.5);
  EXPECT_FALSE(items[1].readable);
  EXPECT_EQ(items[1].error, "not valid JSON");
  // A rewritten file (new inode, as ib-aggregate's rename gives) is read again, not cached.
  std::ofstream(dir + "/cut-20251002-101010.json.tmp") << R"({"run_id":"cut-20251002-101010","status":"partial"})";
  fs::rename(dir + "/cut-20251002-101010.json.tmp", dir + "/cut-20251002-101010.json");
  items = ListRuns(dir);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].run_id, "cut-20251002-101010");
  EXPECT_EQ(items[1].status, "partial");
}

TEST(ResultsStore, ListsOriginalAndCorruptFilesWithoutCrashing) {
  std::string dir = DirWithFixtures("list");
  std::string outside = TempDir("outside") + "/secret-20990101-000000.json";
  std::ofstream(outside) << R"({"run_id":"secret"})";
  fs::create_symlink(outside, dir + "/link-out-20250101-000000.json");
  ASSERT_EQ(::mkfifo((dir + "/fifo-20250101-000000.json").c_str(), 0600), 0);
  std::ofstream(dir + "/notes.txt") << "ignored";

  auto items = ListRuns(dir);
  ASSERT_EQ(items.size(), 9u);
  // Newest first by started_at; files without a date (unreadable ones) after them.
  EXPECT_EQ(items[0].run_id, "no-gpu-20250317-090000");
  EXPECT_EQ(items[1].run_id, "multiturn-sglang-20250316-101500");
  EXPECT_EQ(items[2].run_id, "baseline-vllm-20250315-143022");
  int unreadable = 0;
  for (const auto& item : items) {
    json j = ToJson(item);
    EXPECT_EQ(j["readable"], item.readable);
    if (!item.readable) {
      ++unreadable;
      EXPECT_FALSE(item.error.empty()) << item.run_id;
      EXPECT_EQ(j["error"], item.error);
    }
    if (item.run_id == "link-out-20250101-000000") {
      EXPECT_EQ(item.error, "points outside the results directory");
    }
    if (item.run_id == "fifo-20250101-000000") {
      EXPECT_EQ(item.error, "not a regular file");
    }
    if (item.run_id == "no-run-id-20250318-000002") {
      EXPECT_EQ(item.error, "no run_id");
    }
  }
  EXPECT_EQ(unreadable, 6);
  EXPECT_EQ(items[1].framework, "sglang");
  EXPECT_EQ(items[1].status, "partial");
  EXPECT_EQ(items[2].gpu_type, "A100-80GB");
  EXPECT_EQ(items[2].ttft_p50_ms, 120.5);
  EXPECT_EQ(items[2].total_requests, 3);
  EXPECT_TRUE(ListRuns(dir + "/missing").empty());
}

TEST(ResultsStore, LoadsByExactOrUniquePartialId) {
  std::string dir = DirWithFixtures("load");
  auto exact = LoadRun(dir, "baseline-vllm-20250315-143022");
  ASSERT_TRUE(exact.ok()) << exact.error;
  // The original's NaN and Infinity read as null.
  EXPECT_TRUE(exact.data["gpu_metrics"]["time_series"][2]["kv_cache_usage"].is_null());
  EXPECT_TRUE(exact.data["gpu_metrics"]["time_series"][3]["generation_throughput"].is_null());
  EXPECT_EQ(exact.data["requests"].size(), 3u);
  auto partial = LoadRun(dir, "20250316");
  ASSERT_TRUE(partial.ok()) << partial.error;
  EXPECT_EQ(partial.run_id, "multiturn-sglang-20250316-101500");
  EXPECT_TRUE(LoadRun(dir, "baseline-vllm-20250315-143022.json").ok());

  // An experiment's name picks its newest run, even when the name is a prefix of another's.
  std::ofstream(dir + "/sweep-c4-20251001-101010.json") << R"({"run_id":"sweep-c4-20251001-101010"})";
  std::ofstream(dir + "/sweep-c4-20251002-101010.json") << R"({"run_id":"sweep-c4-20251002-101010"})";
  std::ofstream(dir + "/sweep-c48-20251003-101010.json") << R"({"run_id":"sweep-c48-20251003-101010"})";
  EXPECT_EQ(FindRun(dir, "sweep-c4").run_id, "sweep-c4-20251002-101010");
  EXPECT_EQ(FindRun(dir, "sweep-c48").run_id, "sweep-c48-20251003-101010");
  EXPECT_EQ(FindRun(dir, "sweep-c").status, FindStatus::kAmbiguous);

  auto ambiguous = FindRun(dir, "2025031");
  EXPECT_EQ(ambiguous.status, FindStatus::kAmbiguous);
  EXPECT_GE(ambiguous.matches.size(), 3u);
  EXPECT_NE(ambiguous.error.find("Ambiguous run ID '2025031'"), std::string::npos);
  auto missing = FindRun(dir, "nope");
  EXPECT_EQ(missing.status, FindStatus::kNotFound);
  EXPECT_EQ(missing.error, "No result found for 'nope' in " + dir);
  auto corrupt = LoadRun(dir, "truncated");
  EXPECT_EQ(corrupt.status, FindStatus::kUnreadable);
  EXPECT_NE(corrupt.error.find("not valid JSON"), std::string::npos);
}

TEST(ResultsStore, FindsAFileByTheRunIdInsideItWhateverItsName) {
  std::string dir = DirWithFixtures("renamed");
  // A copied-in file: listed by the run id inside it, so it must open by that id too.
  std::ofstream(dir + "/smoke.json") << R"({"run_id":"quick-smoke-20260212-150000","status":"completed"})";
  auto listed = ListRuns(dir);
  ASSERT_TRUE(std::any_of(listed.begin(), listed.end(), [](const ListItem& i) { return i.run_id == "quick-smoke-20260212-150000"; }));
  auto found = LoadRun(dir, "quick-smoke-20260212-150000");
  ASSERT_TRUE(found.ok()) << found.error;
  EXPECT_TRUE(found.exact);
  EXPECT_EQ(found.run_id, "smoke");
  EXPECT_EQ(found.data["run_id"], "quick-smoke-20260212-150000");
  EXPECT_TRUE(FindRun(dir, "smoke").exact);  // by its file name as well
  EXPECT_FALSE(FindRun(dir, "quick-smoke").exact);  // a part of an id is a search, not an exact hit
}

TEST(ResultsStore, RefusesIdsThatLeaveTheDirectory) {
  std::string dir = DirWithFixtures("confine");
  for (const std::string& bad : std::vector<std::string>{"../load/baseline-vllm-20250315-143022", "/etc/passwd", "..", ".",
                          ".hidden", "a/b", "", "x\ny", "*", "baseline?", std::string("a\0b", 3),
                          "%2e%2e", "caf\xc3\xa9"}) {
    auto found = FindRun(dir, bad);
    EXPECT_EQ(found.status, FindStatus::kBadId) << bad;
    EXPECT_NE(found.error.find("invalid run id"), std::string::npos);
  }
  std::string outside = TempDir("outside2") + "/x.json";
  std::ofstream(outside) << R"({"run_id":"x"})";
  fs::create_symlink(outside, dir + "/escape-20250101-000000.json");
  auto escaped = LoadRun(dir, "escape-20250101-000000");
  EXPECT_EQ(escaped.status, FindStatus::kUnreadable);
  EXPECT_NE(escaped.error.find("outside the results directory"), std::string::npos);
}

TEST(ResultsStore, WrittenFilesLoadBackAndList) {
  std::string dir = TempDir("roundtrip");
  auto runs = AllRunsOf(ReadEvents("tests/results/golden-run.ndjson"));
  std::string path, error;
  for (auto& run : runs) ASSERT_TRUE(WriteRunFile(dir, run, &path, &error)) << error;
  auto items = ListRuns(dir);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(items[0].readable);
  EXPECT_EQ(items[1].run_id, "golden-c2-20261128-030000");
  EXPECT_EQ(items[1].framework, "vllm");
  EXPECT_EQ(items[1].successful_requests, 3);
  auto loaded = LoadRun(dir, "c2");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.data, RunToJson(runs[0]));
}

}  // namespace
}  // namespace ib::results

namespace ib::results {
namespace {

// The exact ending ib-load writes (found by scripts/chaos: every finished run was "partial").
TEST(RunAggregation, IbLoadsFinishedIterationIsCompleted) {
  auto parse = [](const std::string& line) { return *events::ParseEvent(line).event; };
  const std::string request =
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":0,"start_ms":1,"end_ms":50,"ttft_ms":10,"e2e_latency_ms":49,"completion_tokens":5,"prompt_tokens":3,"token_count_source":"usage","error":null}})";
  auto finished = AllRunsOf({parse(R"({"v":2,"type":"phase","run_id":"r","phase":"execution","data":{"total_requests":1}})"),
                             parse(request),
                             parse(R"({"v":2,"type":"phase","run_id":"r","phase":"iteration_done","data":{"completed":true,"reason":"finished","elapsed_s":0.1}})")});
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].status, "completed");
  auto stopped = AllRunsOf({parse(R"({"v":2,"type":"phase","run_id":"r","phase":"execution","data":{"total_requests":1}})"),
                            parse(request),
                            parse(R"({"v":2,"type":"phase","run_id":"r","phase":"iteration_done","data":{"completed":false,"reason":"finished"}})")});
  EXPECT_EQ(stopped[0].status, "partial");
}

}  // namespace
}  // namespace ib::results
