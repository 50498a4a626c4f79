#include "lib/dash/stream_recorder.h"

#include <sys/stat.h>

#include <variant>

#include "lib/results/file.h"

namespace ib::dash {

StreamRecorder::StreamRecorder(std::string results_dir,
                               std::function<void(const events::Event&)> publish,
                               std::chrono::milliseconds grace)
    : results_dir_(std::move(results_dir)), publish_(std::move(publish)), grace_(grace) {}

void StreamRecorder::Hold(std::vector<results::RunRecord> runs) {
  for (auto& run : runs) {
    if (summarized_.count(run.run_id)) continue;
    pending_.push_back({std::move(run), Clock::now()});
  }
}

void StreamRecorder::Add(const std::string& source, const events::Event& event) {
  {
    std::lock_guard lock(mu_);
    if (const auto* summary = std::get_if<events::Summary>(&event)) {
      summarized_.insert(summary->run_id);
      std::erase_if(pending_, [&](const Pending& p) { return p.run.run_id == summary->run_id; });
      return;
    }
    if (std::holds_alternative<events::Error>(event)) return;  // bad lines are not run data
    auto it = aggregators_.try_emplace(source, results::AggregateOptions{}).first;
    events::Event copy = event;
    Hold(it->second.Add(std::move(copy)));
  }
  Tick();
}

void StreamRecorder::EndStream(const std::string& source) {
  {
    std::lock_guard lock(mu_);
    if (auto it = aggregators_.find(source); it != aggregators_.end()) {
      Hold(it->second.Finish("end of stream before the run finished"));
      aggregators_.erase(it);
    }
  }
  Save(TakeDue(/*all=*/true));
}

void StreamRecorder::Tick() { Save(TakeDue(/*all=*/false)); }

void StreamRecorder::FlushAll(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    for (auto& [source, aggregator] : aggregators_) Hold(aggregator.Finish(reason));
    aggregators_.clear();
  }
  Save(TakeDue(/*all=*/true));
  std::unique_lock lock(mu_);
  saved_cv_.wait_for(lock, std::chrono::seconds(60), [&] { return saving_ == 0; });
}

std::vector<results::RunRecord> StreamRecorder::TakeDue(bool all) {
  std::lock_guard lock(mu_);
  std::vector<results::RunRecord> due;
  auto now = Clock::now();
  std::erase_if(pending_, [&](Pending& p) {
    if (!all && now - p.since < grace_) return false;
    due.push_back(std::move(p.run));
    return true;
  });
  if (!due.empty()) ++saving_;  // Save() below takes them; FlushAll waits for it
  return due;
}

void StreamRecorder::Save(std::vector<results::RunRecord> runs) {
  if (runs.empty()) return;
  struct Done {
    StreamRecorder* self;
    ~Done() {
      {
        std::lock_guard lock(self->mu_);
        --self->saving_;
      }
      self->saved_cv_.notify_all();
    }
  } done{this};
  for (auto& run : runs) {
    struct stat st{};
    std::string existing = results_dir_ + "/" + results::SafeRunId(run.run_id) + ".json";
    if (::stat(existing.c_str(), &st) == 0) continue;  // ib-aggregate (or we) already wrote it
    std::string path, error;
    if (!results::WriteRunFile(results_dir_, run, &path, &error)) {
      publish_(events::MakeLog(run.run_id, "error", "cannot save results: " + error, "ib-dash"));
      continue;
    }
    {
      std::lock_guard lock(mu_);
      summarized_.insert(run.run_id);
    }
    nlohmann::json data = run.summary;
    data["result_path"] = path;
    data["status"] = run.status;
    publish_(events::Summary{run.run_id, data});
    publish_(events::MakeLog(run.run_id, "info",
                             "saved " + path + " (" + run.status +
                                 (run.stop_reason.empty() ? "" : ": " + run.stop_reason) + ")",
                             "ib-dash"));
  }
}

}  // namespace ib::dash
