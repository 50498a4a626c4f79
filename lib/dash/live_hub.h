// Fan-out of the live stream to every connected WebSocket client. Each event is serialized
// once, applied to the LiveState and appended to every client's bounded queue; the server's
// per-client writer drains that queue, so a slow client only ever slows itself.
// gpu_sample events are downsampled per run to one every `gpu_interval_s` of run time.
// A client that connects gets {"type":"state"} first: the state and the registration happen
// under one lock, so it misses and repeats nothing.
//   LiveHub hub;
//   auto client = hub.Connect();                 // state is already queued
//   hub.PublishEvent(event);                     // from the stream readers
//   auto batch = client->WaitBatch(256 << 10, std::chrono::seconds(1));
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/dash/client_queue.h"
#include "lib/dash/live_state.h"
#include "lib/events/events.h"

namespace ib::dash {

struct HubOptions {
  QueueLimits queue_limits;
  LiveStateLimits state_limits;
  double gpu_interval_s = 1.0;
  // Strings that must never leave the process (the RunPod key): replaced by "[redacted]".
  std::vector<std::string> secrets;
};

class LiveHub {
 public:
  class Client {
   public:
    // Blocks until messages are queued, the client is closed, or `timeout` passes.
    std::vector<OutMessage> WaitBatch(std::size_t max_bytes, std::chrono::milliseconds timeout);
    void Close();
    bool closed() const;
    // Queue overflowed: the server must drop this client (it reconnects and gets the state).
    bool overflowed() const;
    uint64_t id() const { return id_; }
    nlohmann::json Stats() const;

   private:
    friend class LiveHub;
    explicit Client(uint64_t id, QueueLimits limits) : id_(id), queue_(limits) {}
    void Push(const OutMessage& message, bool wake = true);  // takes mu_
    void Wake();
    uint64_t id_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    ClientQueue queue_;
    bool closed_ = false;
  };

  explicit LiveHub(HubOptions options = {});

  // One stream event, in arrival order (any thread; events are serialized with one lock).
  // raw_line, when it is a stream-version-2 line of this event, is forwarded as is (saves
  // re-serializing); otherwise the event is serialized.
  // wake = false queues it without waking the clients' writers: the caller calls WakeAll after
  // a burst (ib-dash's stream readers do so once per read), so 10 clients at 50,000 events/s
  // are not 500,000 thread wake-ups per second.
  void PublishEvent(const events::Event& event, std::string_view raw_line = {}, bool wake = true);
  // Wakes the writer of every client with queued messages.
  void WakeAll();
  // A reply or notice to one client, or to all.
  void SendTo(Client& client, const nlohmann::json& message);
  // `text` must be one JSON object (e.g. a results file wrapped in a reply).
  void SendRawTo(Client& client, std::string text);
  void Broadcast(const nlohmann::json& message);
  // Replaces the queue in the state and tells every client {"type":"queue","data":queue}.
  void SetQueue(const nlohmann::json& queue);
  void SetPort(int port);

  std::shared_ptr<Client> Connect();
  void Disconnect(const std::shared_ptr<Client>& client);

  std::string StateJson() const;
  std::string CurrentRunId() const;
  // {events_in, gpu_samples_in, gpu_samples_forwarded, clients: [...]} for /api/stats.
  nlohmann::json Stats() const;
  // `text` with every secret (HubOptions::secrets) replaced by "[redacted]".
  std::string Redact(std::string text) const;

 private:
  void FanOut(const OutMessage& message, bool wake = true);  // requires mu_

  HubOptions options_;
  mutable std::mutex mu_;
  LiveState state_;
  std::map<uint64_t, std::shared_ptr<Client>> clients_;
  uint64_t next_client_id_ = 1;
  std::map<std::string, double> last_forwarded_gpu_t_s_;  // per run id
  uint64_t events_in_ = 0;
  uint64_t gpu_samples_in_ = 0;
  uint64_t gpu_samples_forwarded_ = 0;
};

}  // namespace ib::dash
