#include "lib/dash/studies.h"

#include "lib/dash/catalog.h"
#include "lib/results/report.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ib::dash {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class StudiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("studies-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "results");
    results_ = (dir_ / "results").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Atomically, as ib-run writes it.
  void Write(const std::string& name, const std::string& text) {
    std::string tmp = results_ + "/." + name + ".tmp";
    std::ofstream(tmp) << text;
    fs::rename(tmp, results_ + "/" + name);
  }
  static json Study(const std::string& id, int points, const std::string& status = "running") {
    json curve = json::array();
    json iterations = json::array();
    for (int i = 1; i <= points; ++i) {
      std::string run = id + "-p" + std::to_string(i);
      iterations.push_back({{"index", i}, {"run_id", run}, {"value", i * 2.0}});
      curve.push_back({{"run_id", run}, {"value", i * 2.0}, {"output_tok_s", 100.0 * i}});
    }
    return {{"study_id", id}, {"kind", "search"}, {"status", status}, {"over", "request_rate"},
            {"config", {{"name", "s"}, {"framework", "vllm"}, {"model", {{"name", "m"}}},
                        {"infrastructure", {{"gpu_type", "A100-80GB"}, {"gpu_count", 1}}}}},
            {"iterations", iterations}, {"curve", curve},
            {"answer", {{"value", 4.0}, {"output_tok_s", 200.0}}},
            {"cost", {{"usd_per_million_output_tokens", 1.5}}}};
  }
  static events::Event SweepIteration(const std::string& study_id) {
    return events::Phase{study_id + "-p1", events::phase::kSweepIteration,
                         {{"iteration", 1}, {"study_id", study_id}}};
  }
  fs::path dir_;
  std::string results_;
};

TEST_F(StudiesTest, ListsStudiesOnlyWithTheirFigures) {
  Write("a-20260101-000000.study.json", Study("a-20260101-000000", 3, "completed").dump());
  Write("a-20260101-000000-p1.json", R"({"run_id": "a-20260101-000000-p1"})");  // a run: not listed
  Write("junk-20260101-000000.study.json", "{\"study_id\": ");
  json list = ListStudies(results_);
  ASSERT_EQ(list.size(), 2u);
  json good, bad;
  for (const auto& e : list) (e["readable"].get<bool>() ? good : bad) = e;
  EXPECT_EQ(good["study_id"], "a-20260101-000000");
  EXPECT_EQ(good["kind"], "search");
  EXPECT_EQ(good["status"], "completed");
  EXPECT_EQ(good["framework"], "vllm");
  EXPECT_EQ(good["model"], "m");
  EXPECT_EQ(good["gpu_type"], "A100-80GB");
  EXPECT_EQ(good["points"], 3);
  EXPECT_EQ(good["run_ids"], json({"a-20260101-000000-p1", "a-20260101-000000-p2", "a-20260101-000000-p3"}));
  EXPECT_EQ(good["answer_value"], 4.0);
  EXPECT_EQ(good["usd_per_million_output_tokens"], 1.5);
  EXPECT_EQ(bad["study_id"], "junk-20260101-000000");
  EXPECT_EQ(bad["error"], "not a study file: not valid JSON");
}

TEST_F(StudiesTest, SymlinkOutOfResultsIsNotListedNorServed) {
  std::ofstream(dir_ / "outside.study.json") << Study("outside", 1).dump();
  fs::create_symlink(dir_ / "outside.study.json", fs::path(results_) / "evil.study.json");
  EXPECT_TRUE(ListStudies(results_).empty());
  EXPECT_EQ(ReadStudyFile(results_, "evil").status, 404);
}

TEST_F(StudiesTest, ReadsOneStudyByIdConfined) {
  std::string text = Study("b-20260101-000000", 2).dump();
  Write("b-20260101-000000.study.json", text);
  Write("notastudy.study.json", R"({"run_id": "x"})");
  StudyFile f = ReadStudyFile(results_, "b-20260101-000000");
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.body, text);  // the file's own bytes
  EXPECT_EQ(ReadStudyFile(results_, "b-20260101-000000.study.json").status, 200);
  EXPECT_EQ(ReadStudyFile(results_, "../results/b-20260101-000000").status, 400);
  EXPECT_EQ(ReadStudyFile(results_, "/etc/passwd").status, 400);
  EXPECT_EQ(ReadStudyFile(results_, "").status, 400);
  EXPECT_EQ(ReadStudyFile(results_, "missing").status, 404);
  StudyFile bad = ReadStudyFile(results_, "notastudy");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(json::parse(bad.body)["error"], "study file notastudy.study.json is unreadable: no study_id");
}

TEST_F(StudiesTest, WatcherPushesEachNewVersionOfTheRunningStudyOnce) {
  StudyWatcher w(results_);
  const std::string id = "c-20260101-000000";
  Write(id + ".study.json", Study(id, 1).dump());
  EXPECT_FALSE(w.Poll()) << "no sweep named a study yet";
  w.Note(events::Phase{"x", events::phase::kSweepIteration, {{"iteration", 1}}});  // a sweep without a study
  EXPECT_FALSE(w.Poll());
  w.Note(events::Phase{"x", "../evil", {{"study_id", id}}});  // not a sweep_iteration phase
  EXPECT_FALSE(w.Poll());
  w.Note(SweepIteration(id));
  EXPECT_EQ(w.current(), id);
  auto first = w.Poll();
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)["type"], "study");
  EXPECT_EQ((*first)["study_id"], id);
  EXPECT_EQ((*first)["data"]["curve"].size(), 1u);
  EXPECT_FALSE(w.Poll()) << "unchanged file: pushed once";
  Write(id + ".study.json", Study(id, 2).dump());
  auto second = w.Poll();
  ASSERT_TRUE(second);
  EXPECT_EQ((*second)["data"]["curve"].size(), 2u);
  EXPECT_FALSE(w.Poll());
  Write(id + ".study.json", "{\"study_id\": \"c-2");  // never happens with ib-run: not pushed
  EXPECT_FALSE(w.Poll());
  Write(id + ".study.json", Study(id, 3, "completed").dump());
  auto third = w.Poll();
  ASSERT_TRUE(third);
  EXPECT_EQ((*third)["data"]["status"], "completed");
}

TEST_F(StudiesTest, WatcherIgnoresABadStudyIdAndWaitsForTheFile) {
  StudyWatcher w(results_);
  w.Note(SweepIteration("../../etc/passwd"));
  EXPECT_EQ(w.current(), "");
  w.Note(SweepIteration("d-20260101-000000"));
  EXPECT_FALSE(w.Poll()) << "the first iteration has not finished: no file yet";
  Write("d-20260101-000000.study.json", Study("d-20260101-000000", 1).dump());
  EXPECT_TRUE(w.Poll());
}

// Compare's rows have one definition (lib/results' Compare, as ib-results compare --json): ib-dash
// serves exactly that table for the page.
TEST_F(StudiesTest, CompareRunsServesLibResultsCompare) {
  json a = {{"run_id", "a-20260101-000000"}, {"status", "completed"}, {"metadata", {{"framework", "vllm"}}},
            {"summary", {{"tokens_per_second", 100.0}, {"ttft", {{"p50", 200.0}}}}}};
  json b = {{"run_id", "b-20260101-000100"}, {"status", "completed"}, {"metadata", {{"framework", "sglang"}}},
            {"summary", {{"tokens_per_second", 150.0}, {"ttft", {{"p50", 100.0}}}}}};
  Write("a-20260101-000000.json", a.dump());
  Write("b-20260101-000100.json", b.dump());
  CompareReply ok = CompareRuns(results_, "a-20260101-000000,b-20260101-000100");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body), results::Compare({a, b}));
  EXPECT_EQ(CompareRuns(results_, "a-20260101-000000").status, 400) << "one run is no comparison";
  EXPECT_EQ(CompareRuns(results_, "a-20260101-000000,").status, 400);
  EXPECT_EQ(CompareRuns(results_, "a-20260101-000000,../etc/passwd").status, 400);
  CompareReply missing = CompareRuns(results_, "a-20260101-000000,nope-20260101-000000");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json::parse(missing.body)["error"], "no run nope-20260101-000000");
  std::string many = "a-20260101-000000";
  for (int i = 0; i < 16; ++i) many += ",b-20260101-000100";
  EXPECT_EQ(CompareRuns(results_, many).status, 400) << "17 ids";
}


}  // namespace
}  // namespace ib::dash

