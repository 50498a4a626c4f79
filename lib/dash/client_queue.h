// The bounded outgoing queue of one WebSocket client. A slow client must neither slow the
// others nor grow memory without bound, and must never lose a request event:
//   - above soft_limit_bytes, the oldest gpu_sample messages are dropped (down to half the limit);
//   - above hard_limit_bytes, the oldest log messages are dropped too;
//   - if it is still above hard_limit_bytes (only request/phase/reply messages are left), Push
//     reports overflow and the server closes the client, which reconnects and gets the state.
//   ClientQueue q({.soft_limit_bytes = 4 << 20});
//   q.Push(OutMessage::Make(text, MessageKind::kRequest));
//   for (auto& m : q.PopBatch(256 << 10)) send(*m.text);
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace ib::dash {

enum class MessageKind { kGpuSample, kRequest, kLog, kOther };

struct OutMessage {
  std::shared_ptr<const std::string> text;  // one JSON object, shared by every client's queue
  MessageKind kind = MessageKind::kOther;
  static OutMessage Make(std::string text, MessageKind kind) {
    return {std::make_shared<const std::string>(std::move(text)), kind};
  }
};

struct QueueLimits {
  std::size_t soft_limit_bytes = 4u << 20;
  std::size_t hard_limit_bytes = 48u << 20;
};

struct QueueCounters {
  uint64_t pushed = 0;
  uint64_t sent = 0;
  uint64_t dropped_gpu_samples = 0;
  uint64_t dropped_logs = 0;
};

class ClientQueue {
 public:
  explicit ClientQueue(QueueLimits limits = {}) : limits_(limits) {}

  // False when the queue overflowed (see above); the message is kept regardless.
  bool Push(OutMessage message);
  // Removes and returns the oldest messages, at least one if any, up to about max_bytes.
  std::vector<OutMessage> PopBatch(std::size_t max_bytes);

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  std::size_t bytes() const { return bytes_; }
  bool overflowed() const { return overflowed_; }
  const QueueCounters& counters() const { return counters_; }

 private:
  // Drops the oldest messages of `kind` until bytes_ <= target; returns how many it dropped.
  uint64_t DropOldest(MessageKind kind, std::size_t target);

  QueueLimits limits_;
  std::deque<OutMessage> items_;
  std::size_t bytes_ = 0;
  std::size_t gpu_count_ = 0;
  std::size_t log_count_ = 0;
  bool overflowed_ = false;
  QueueCounters counters_;
};

}  // namespace ib::dash
