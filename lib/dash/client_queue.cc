#include "lib/dash/client_queue.h"

#include <algorithm>

namespace ib::dash {

bool ClientQueue::Push(OutMessage message) {
  bytes_ += message.text->size();
  if (message.kind == MessageKind::kGpuSample) ++gpu_count_;
  if (message.kind == MessageKind::kLog) ++log_count_;
  items_.push_back(std::move(message));
  ++counters_.pushed;
  if (bytes_ > limits_.soft_limit_bytes && gpu_count_ > 0) {
    counters_.dropped_gpu_samples += DropOldest(MessageKind::kGpuSample, limits_.soft_limit_bytes / 2);
  }
  if (bytes_ > limits_.hard_limit_bytes && log_count_ > 0) {
    counters_.dropped_logs += DropOldest(MessageKind::kLog, limits_.hard_limit_bytes / 2);
  }
  if (bytes_ > limits_.hard_limit_bytes) overflowed_ = true;
  return !overflowed_;
}

uint64_t ClientQueue::DropOldest(MessageKind kind, std::size_t target) {
  // One pass that keeps order: drop matching messages from the front until under target.
  uint64_t dropped = 0;
  auto keep = std::remove_if(items_.begin(), items_.end(), [&](const OutMessage& m) {
    if (bytes_ <= target || m.kind != kind) return false;
    bytes_ -= m.text->size();
    ++dropped;
    return true;
  });
  items_.erase(keep, items_.end());
  if (kind == MessageKind::kGpuSample) gpu_count_ -= dropped;
  if (kind == MessageKind::kLog) log_count_ -= dropped;
  return dropped;
}

std::vector<OutMessage> ClientQueue::PopBatch(std::size_t max_bytes) {
  std::vector<OutMessage> batch;
  std::size_t taken = 0;
  while (!items_.empty() && (batch.empty() || taken + items_.front().text->size() <= max_bytes)) {
    OutMessage m = std::move(items_.front());
    items_.pop_front();
    taken += m.text->size();
    bytes_ -= m.text->size();
    if (m.kind == MessageKind::kGpuSample) --gpu_count_;
    if (m.kind == MessageKind::kLog) --log_count_;
    batch.push_back(std::move(m));
  }
  counters_.sent += batch.size();
  if (bytes_ <= limits_.hard_limit_bytes) overflowed_ = false;
  return batch;
}

}  // namespace ib::dash
