// ib-results: browse the results directory (list, show, compare, export).
#include <sys/stat.h>

#include <cstdio>
#include <iostream>

#include "lib/cli/exit_codes.h"
#include "lib/cli/flags.h"
#include "lib/openmetrics/run_metrics.h"
#include "lib/results/report.h"
#include "lib/results/study.h"
#include "lib/results/store.h"

namespace {

using nlohmann::json;

// Loads one run, or prints "ib-results: error: ..." and returns the exit code: 2 for an id
// that is not one (a path: bad usage), 1 for a run not found, ambiguous or unreadable.
int Load(const std::string& dir, const std::string& id, json* out) {
  auto found = ib::results::LoadRun(dir, id);
  if (!found.ok()) {
    std::fprintf(stderr, "ib-results: error: %s\n", found.error.c_str());
    return found.status == ib::results::FindStatus::kBadId ? ib::exit_code::kUsage
                                                           : ib::exit_code::kFailed;
  }
  *out = std::move(found.data);
  return -1;
}

bool IsDirectory(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "ib-results: error: %s (see --help)\n", message.c_str());
  return ib::exit_code::kUsage;
}

}  // namespace

int main(int argc, char** argv) {
  ib::cli::Flags flags("ib-results", "lists, shows, compares and exports results files");
  std::string dir = "results";
  std::string format;
  bool as_json = false, summary = false;
  std::vector<std::string> args;
  flags.String("dir", &dir, "the results directory");
  flags.Bool("json", &as_json, "print JSON instead of tables (list, show, compare)");
  flags.String("format", &format, "export format: csv, json or openmetrics");
  double step_s = 0;
  flags.Double("step", &step_s,
               "openmetrics: seconds between points (default 1, longer for runs over an hour)");
  flags.Bool("summary", &summary, "export the summary as metric,value rows instead of requests");
  flags.Positional("list | show RUN|STUDY | compare A B [C...] | export RUN|STUDY --format csv|json|openmetrics", &args, 1);
  flags.Epilog(
      "RUN is a run id or any part of one that matches a single file.\n"
      "Examples:\n"
      "  ib-results list\n"
      "  ib-results show 20260212-1500\n"
      "  ib-results compare baseline-vllm baseline-sglang --json\n"
      "  ib-results export sim-smoke --format csv > requests.csv\n"
      "  ib-results show sim-search-20260101-120000        # a study: the curve and the answer\n"
      "  ib-results export sim-smoke --format openmetrics > run.om   # promtool tsdb create-blocks-from openmetrics run.om DIR\n"
      "Exit codes: 0 ok, 1 run not found, ambiguous or unreadable, 2 bad usage (a RUN that is a\n"
      "path, a --dir that does not exist).");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  const std::string& command = args[0];
  json run;
  // A --dir that does not exist is a mistake to say so (not "No results found."); only the
  // default results/ may be missing: no run has written there yet.
  if (!IsDirectory(dir)) {
    if (dir != "results") {
      return Usage("results directory '" + dir + "' does not exist");
    }
    if (command == "list") {
      std::cout << "No results found (no results/ directory yet: every run writes its file there).\n";
      return ib::exit_code::kOk;
    }
  }
  if (command == "list") {
    if (args.size() != 1) return Usage("list takes no arguments");
    auto items = ib::results::ListRuns(dir);
    if (as_json) {
      json list = json::array();
      for (const auto& item : items) list.push_back(ib::results::ToJson(item));
      std::cout << list.dump(2) << "\n";
    } else {
      std::cout << ib::results::FormatList(items);
    }
    return ib::exit_code::kOk;
  }
  if ((command == "show" || command == "export") && args.size() == 2) {
    // A study (results/<id>.study.json): its curve and answer.
    if (std::string path = ib::results::StudyPath(dir, args[1]); !path.empty()) {
      std::string error;
      auto study = ib::results::ReadStudy(path, &error);
      if (!study) {
        std::fprintf(stderr, "ib-results: error: %s\n", error.c_str());
        return ib::exit_code::kFailed;
      }
      if (command == "export" && format != "csv" && format != "json") return Usage("a study exports as --format csv or json");
      if (command == "show" && !as_json) {
        std::cout << ib::results::FormatStudy(*study);
      } else if (command == "export" && format == "csv") {
        std::cout << ib::results::StudyCsv(*study);
      } else {
        std::cout << study->dump(2) << "\n";
      }
      return ib::exit_code::kOk;
    }
  }
  if (command == "show") {
    if (args.size() != 2) return Usage("show takes one RUN");
    if (int rc = Load(dir, args[1], &run); rc >= 0) return rc;
    if (as_json) {
      std::cout << run.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    } else {
      std::cout << ib::results::FormatShow(run);
    }
    return ib::exit_code::kOk;
  }
  if (command == "compare") {
    if (args.size() < 3) return Usage("compare takes two or more RUNs");
    std::vector<json> runs;
    for (std::size_t i = 1; i < args.size(); ++i) {
      // A study (STUDY or STUDY@VALUE) stands for the mean of its repeats, with intervals.
      bool is_study = false;
      std::string error;
      if (auto m = ib::results::StudyMeasurement(dir, args[i], &is_study, &error)) {
        runs.push_back(std::move(*m));
        continue;
      }
      if (is_study) {
        std::fprintf(stderr, "ib-results: error: %s\n", error.c_str());
        return ib::exit_code::kFailed;
      }
      if (int rc = Load(dir, args[i], &run); rc >= 0) return rc;
      runs.push_back(std::move(run));
    }
    json table = ib::results::Compare(runs);
    std::cout << (as_json ? table.dump(2) + "\n" : ib::results::FormatComparison(table));
    return ib::exit_code::kOk;
  }
  if (command == "export") {
    if (args.size() != 2) return Usage("export takes one RUN");
    if (format != "csv" && format != "json" && format != "openmetrics")
      return Usage("export needs --format csv, json or openmetrics");
    if (step_s < 0) return Usage("--step must be positive");
    if (format == "openmetrics" && summary) return Usage("--summary is for csv and json");
    if (int rc = Load(dir, args[1], &run); rc >= 0) return rc;
    if (format == "openmetrics") {
      std::string out, error;
      if (!ib::openmetrics::ExportRun(run, step_s, &out, &error)) {
        std::fprintf(stderr, "ib-results: error: %s: %s\n", args[1].c_str(), error.c_str());
        return ib::exit_code::kFailed;
      }
      std::cout << out;
      return ib::exit_code::kOk;
    }
    if (format == "csv") {
      std::cout << (summary ? ib::results::SummaryCsv(run) : ib::results::RequestsCsv(run));
    } else {
      json out = summary ? json{{"run_id", run["run_id"]}, {"summary", run.value("summary", json())}}
                         : ib::results::RequestsJson(run);
      std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    }
    return ib::exit_code::kOk;
  }
  return Usage("unknown command \"" + command + "\"");
}
