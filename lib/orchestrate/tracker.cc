#include "lib/orchestrate/tracker.h"

#include <chrono>

#include "lib/events/events.h"

namespace ib::orchestrate {

void ResultTracker::Observe(std::string_view line) {
  if (line.find("\"summary\"") == std::string_view::npos) return;  // cheap pre-check
  auto parsed = events::ParseEvent(line);
  if (!parsed.event) return;
  const auto* summary = std::get_if<events::Summary>(&*parsed.event);
  if (summary == nullptr) return;
  std::string path = events::SummaryOf(*summary).result_path.value_or("");
  std::lock_guard<std::mutex> lock(mu_);
  by_run_[summary->run_id] = path;
  summaries_[summary->run_id] = summary->data;
  if (!path.empty()) paths_.push_back(path);
  cv_.notify_all();
}

bool ResultTracker::WaitForSummary(const std::string& run_id, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return by_run_.count(run_id) > 0; });
}

std::vector<std::string> ResultTracker::ResultPaths() const {
  std::lock_guard<std::mutex> lock(mu_);
  return paths_;
}

nlohmann::json ResultTracker::SummaryOf(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = summaries_.find(run_id);
  return it == summaries_.end() ? nlohmann::json(nullptr) : it->second;
}

}  // namespace ib::orchestrate
