#include "lib/dash/stream_recorder.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>
#include <variant>

#include "lib/results/file.h"

namespace ib::dash {

namespace {
// How long a writer's temporary file may postpone saving past the grace (a big run's file
// takes seconds to write on a loaded machine; a writer killed mid-write leaves its temp).
constexpr auto kWriterPatience = std::chrono::seconds(60);
}  // namespace

StreamRecorder::StreamRecorder(std::string results_dir,
                               std::function<void(const events::Event&)> publish,
                               std::chrono::milliseconds grace)
    : results_dir_(std::move(results_dir)), publish_(std::move(publish)), grace_(grace) {}

std::string StreamRecorder::FinalPath(const std::string& run_id) const {
  return results_dir_ + "/" + results::SafeRunId(run_id) + ".json";
}

bool StreamRecorder::WriterBusy(const std::string& run_id) const {
  std::string prefix = "." + results::SafeRunId(run_id) + ".json.tmp-";
  DIR* dir = ::opendir(results_dir_.c_str());
  if (!dir) return false;
  bool busy = false;
  while (const dirent* entry = ::readdir(dir)) {
    if (std::string_view(entry->d_name).starts_with(prefix)) {
      busy = true;
      break;
    }
  }
  ::closedir(dir);
  return busy;
}

void StreamRecorder::Hold(std::vector<results::RunRecord> runs) {
  auto now = Clock::now();
  for (auto& run : runs) {
    if (summarized_.count(run.run_id)) continue;
    pending_.push_back({std::move(run), now + grace_, now + grace_ + kWriterPatience});
  }
}

void StreamRecorder::Add(const std::string& source, const events::Event& event) {
  std::lock_guard lock(mu_);
  if (const auto* summary = std::get_if<events::Summary>(&event)) {
    summarized_.insert(summary->run_id);
    std::erase_if(pending_, [&](const Pending& p) { return p.run.run_id == summary->run_id; });
    return;
  }
  if (std::holds_alternative<events::Error>(event)) return;  // bad lines are not run data
  if (const auto* phase = std::get_if<events::Phase>(&event);
      phase && phase->phase == events::phase::kSweepIteration) {
    from_ib_run_.insert(source);
  }
  auto it = aggregators_.try_emplace(source, results::AggregateOptions{}).first;
  events::Event copy = event;
  Hold(it->second.Add(std::move(copy)));
}

void StreamRecorder::EndStream(const std::string& source) {
  {
    std::lock_guard lock(mu_);
    from_ib_run_.erase(source);
    if (auto it = aggregators_.find(source); it != aggregators_.end()) {
      Hold(it->second.Finish("end of stream before the run finished"));
      aggregators_.erase(it);
    }
  }
  Tick();
}

void StreamRecorder::Tick() {
  std::vector<std::string> resolved;
  auto due = TakeDue(&resolved);
  Save(std::move(due), resolved);
}

void StreamRecorder::FlushAll(const std::string& reason, Clock::time_point deadline) {
  std::vector<std::string> left;
  {
    std::lock_guard lock(mu_);
    for (auto& [source, aggregator] : aggregators_) {
      auto runs = aggregator.Finish(reason);
      if (!from_ib_run_.count(source)) {
        Hold(std::move(runs));
        continue;
      }
      // ib-run does not stop when its reader goes: its ib-aggregate writes these runs later.
      for (const auto& run : runs) {
        if (!summarized_.count(run.run_id)) left.push_back(run.run_id);
      }
    }
    aggregators_.clear();
    from_ib_run_.clear();
    for (auto& p : pending_) {
      p.due = std::min(p.due, deadline);
      p.give_up = std::min(p.give_up, deadline);
    }
  }
  for (const auto& id : left) {
    publish_(events::MakeLog(id, "info",
                             "ib-dash stopped during " + id +
                                 ": its results file is left to ib-run's ib-aggregate",
                             "ib-dash"));
  }
  for (;;) {
    Tick();
    {
      std::lock_guard lock(mu_);
      if (pending_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::unique_lock lock(mu_);
  saved_cv_.wait_for(lock, std::chrono::seconds(60), [&] { return saving_ == 0; });
}

std::size_t StreamRecorder::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

std::vector<results::RunRecord> StreamRecorder::TakeDue(std::vector<std::string>* resolved) {
  std::lock_guard lock(mu_);
  std::vector<results::RunRecord> due;
  if (pending_.empty()) return due;
  auto now = Clock::now();
  std::erase_if(pending_, [&](Pending& p) {
    struct stat st{};
    if (::stat(FinalPath(p.run.run_id).c_str(), &st) == 0) {
      resolved->push_back(p.run.run_id);  // another writer (ib-aggregate) saved it
      return true;
    }
    if (now < p.due) return false;
    if (now < p.give_up && WriterBusy(p.run.run_id)) {
      p.due = now + std::chrono::milliseconds(200);
      return false;
    }
    due.push_back(std::move(p.run));
    return true;
  });
  if (!due.empty()) ++saving_;  // Save() below takes them; FlushAll waits for it
  return due;
}

void StreamRecorder::Save(std::vector<results::RunRecord> runs,
                          const std::vector<std::string>& resolved) {
  for (const auto& id : resolved) {
    publish_(events::MakeLog(id, "info",
                             FinalPath(id) + " exists (ib-aggregate wrote it): ib-dash does not save " + id,
                             "ib-dash"));
  }
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
    std::string wanted = FinalPath(run.run_id);
    struct stat st{};
    if (::stat(wanted.c_str(), &st) == 0) continue;  // it appeared since TakeDue
    std::string path, error;
    std::string run_id = run.run_id;
    if (!results::WriteRunFile(results_dir_, run, &path, &error)) {
      publish_(events::MakeLog(run_id, "error", "cannot save results: " + error, "ib-dash"));
      continue;
    }
    if (run.run_id != results::SafeRunId(run_id)) {
      // Another writer linked <id>.json while we wrote: theirs stands, ours would be a duplicate.
      ::unlink(path.c_str());
      continue;
    }
    {
      std::lock_guard lock(mu_);
      summarized_.insert(run.run_id);
    }
    publish_(results::SavedRunSummary(run, run.run_id, path));
    publish_(events::MakeLog(run.run_id, "info",
                             "saved " + path + " (" + run.status +
                                 (run.stop_reason.empty() ? "" : ": " + run.stop_reason) + ")",
                             "ib-dash"));
  }
}

}  // namespace ib::dash
