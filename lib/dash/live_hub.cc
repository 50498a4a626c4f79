#include "lib/dash/live_hub.h"

#include <variant>

namespace ib::dash {

using nlohmann::json;

void LiveHub::Client::Push(const OutMessage& message, bool wake) {
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    was_empty = queue_.empty();
    queue_.Push(message);
  }
  // The writer waits only on an empty queue: one wake-up per batch, not per event.
  if (was_empty && wake) cv_.notify_one();
}

void LiveHub::Client::Wake() {
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return;
  }
  cv_.notify_one();
}

std::vector<OutMessage> LiveHub::Client::WaitBatch(std::size_t max_bytes,
                                                  std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); });
  if (closed_) return {};
  return queue_.PopBatch(max_bytes);
}

void LiveHub::Client::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool LiveHub::Client::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

bool LiveHub::Client::overflowed() const {
  std::lock_guard lock(mu_);
  return queue_.overflowed();
}

json LiveHub::Client::Stats() const {
  std::lock_guard lock(mu_);
  const auto& c = queue_.counters();
  return {{"id", id_},
          {"queued", queue_.size()},
          {"queued_bytes", queue_.bytes()},
          {"pushed", c.pushed},
          {"sent", c.sent},
          {"dropped_gpu_samples", c.dropped_gpu_samples},
          {"dropped_logs", c.dropped_logs}};
}

LiveHub::LiveHub(HubOptions options) : options_(std::move(options)), state_(options_.state_limits) {
  std::erase_if(options_.secrets, [](const std::string& s) { return s.size() < 8; });
}

std::string LiveHub::Redact(std::string text) const {
  for (const auto& secret : options_.secrets) {
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
      text.replace(pos, secret.size(), "[redacted]");
    }
  }
  return text;
}

void LiveHub::FanOut(const OutMessage& message, bool wake) {
  for (auto& [id, client] : clients_) client->Push(message, wake);
}

void LiveHub::WakeAll() {
  std::lock_guard lock(mu_);
  for (auto& [id, client] : clients_) client->Wake();
}

void LiveHub::PublishEvent(const events::Event& event, std::string_view raw_line, bool wake) {
  MessageKind kind = MessageKind::kOther;
  if (std::holds_alternative<events::GpuSample>(event)) kind = MessageKind::kGpuSample;
  if (std::holds_alternative<events::RequestComplete>(event)) kind = MessageKind::kRequest;
  if (std::holds_alternative<events::Log>(event)) kind = MessageKind::kLog;
  std::string text = Redact(raw_line.starts_with("{\"v\":2,") ? std::string(raw_line)
                                                               : events::Serialize(event));

  std::lock_guard lock(mu_);
  ++events_in_;
  if (const auto* sample = std::get_if<events::GpuSample>(&event)) {
    ++gpu_samples_in_;
    auto [it, fresh] = last_forwarded_gpu_t_s_.try_emplace(sample->run_id, sample->t_s);
    // Forward the first sample of a run, then one per interval (a clock reset restarts it).
    if (!fresh) {
      double since = sample->t_s - it->second;
      if (since >= 0 && since < options_.gpu_interval_s * 0.95) return;
      it->second = sample->t_s;
    }
    ++gpu_samples_forwarded_;
  }
  OutMessage message = OutMessage::Make(std::move(text), kind);
  bool run_changed = state_.Apply(event, message.text);
  FanOut(message, wake);
  if (!run_changed) return;
  // The page renders the run as the state decides it, and logs a phase at the time ib-dash
  // received it (phase events carry no time of their own).
  if (const auto* phase = std::get_if<events::Phase>(&event)) {
    events::Event log = LiveState::PhaseLog(*phase, events::NowIso8601());
    OutMessage line = OutMessage::Make(Redact(events::Serialize(log)), MessageKind::kLog);
    state_.Apply(log, line.text);
    FanOut(line, wake);
  }
  FanOut(OutMessage::Make(Redact(json{{"type", "run"}, {"data", state_.current_run()}}.dump()),
                          MessageKind::kOther),
         wake);
}

void LiveHub::SendTo(Client& client, const json& message) {
  client.Push(OutMessage::Make(Redact(message.dump()), MessageKind::kOther));
}

void LiveHub::SendRawTo(Client& client, std::string text) {
  client.Push(OutMessage::Make(Redact(std::move(text)), MessageKind::kOther));
}

void LiveHub::Broadcast(const json& message) {
  OutMessage out = OutMessage::Make(Redact(message.dump()), MessageKind::kOther);
  std::lock_guard lock(mu_);
  FanOut(out);
}

void LiveHub::SetQueue(const json& queue) {
  OutMessage out =
      OutMessage::Make(Redact(json{{"type", "queue"}, {"data", queue}}.dump()), MessageKind::kOther);
  std::lock_guard lock(mu_);
  state_.SetQueue(queue);
  FanOut(out);
}

void LiveHub::SetPort(int port) {
  std::lock_guard lock(mu_);
  state_.SetPort(port);
}

std::shared_ptr<LiveHub::Client> LiveHub::Connect() {
  std::lock_guard lock(mu_);
  auto client = std::shared_ptr<Client>(new Client(next_client_id_++, options_.queue_limits));
  client->Push(OutMessage::Make(Redact("{\"type\":\"state\",\"data\":" + state_.ToJson() + "}"),
                                MessageKind::kOther));
  clients_[client->id()] = client;
  return client;
}

void LiveHub::Disconnect(const std::shared_ptr<Client>& client) {
  client->Close();
  std::lock_guard lock(mu_);
  clients_.erase(client->id());
}

std::string LiveHub::StateJson() const {
  std::lock_guard lock(mu_);
  return state_.ToJson();
}

std::string LiveHub::CurrentRunId() const {
  std::lock_guard lock(mu_);
  return state_.current_run_id();
}

json LiveHub::Stats() const {
  std::lock_guard lock(mu_);
  json clients = json::array();
  for (const auto& [id, client] : clients_) clients.push_back(client->Stats());
  return {{"events_in", events_in_},
          {"gpu_samples_in", gpu_samples_in_},
          {"gpu_samples_forwarded", gpu_samples_forwarded_},
          {"clients", clients}};
}

}  // namespace ib::dash
