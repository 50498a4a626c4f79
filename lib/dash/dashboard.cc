#include "lib/dash/dashboard.h"

#include <variant>

#include "lib/dash/paths.h"

namespace ib::dash {

using nlohmann::json;

namespace {

constexpr std::string_view kExperimentsPrefix = "experiments/";

json NotFound(const std::string& message) { return {{"error", message}}; }

}  // namespace

Dashboard::Dashboard(DashboardOptions options) : options_(std::move(options)), hub_(options_.hub) {
  RunnerOptions runner;
  runner.ib_run = options_.ib_run;
  runner.results_dir = options_.results_dir;
  runner_ = std::make_shared<ExperimentRunner>(runner, *this,
                                               [this](const json& queue) { hub_.SetQueue(queue); });
}

Dashboard::~Dashboard() { Shutdown(); }

void Dashboard::Shutdown() {
  std::shared_ptr<ExperimentRunner> runner;
  {
    std::lock_guard lock(runner_mu_);
    runner.swap(runner_);
  }
  runner.reset();
}

std::shared_ptr<ExperimentRunner> Dashboard::Runner() const {
  std::lock_guard lock(runner_mu_);
  return runner_;
}

void Dashboard::OnEvent(const std::string& source, const events::Event& event) {
  hub_.PublishEvent(event);
}

void Dashboard::OnStreamEnd(const std::string& source) {}

json Dashboard::ErrorEvent(const std::string& command, const std::string& message,
                           json extra) const {
  extra["command"] = command;
  events::Error error = events::MakeError("", message, "ib-dash");
  json out = events::ToJson(events::Event(error));
  for (auto& [k, v] : extra.items()) out["data"][k] = v;
  return out;
}

std::optional<std::string> Dashboard::ResolveConfig(const std::string& config_path,
                                                    std::string* error) const {
  std::string_view rel = config_path;
  if (rel.substr(0, kExperimentsPrefix.size()) == kExperimentsPrefix) {
    rel.remove_prefix(kExperimentsPrefix.size());
  }
  bool yaml = rel.ends_with(".yaml") || rel.ends_with(".yml");
  auto resolved = ResolveUnder(options_.experiments_dir, rel);
  if (auto* e = std::get_if<ResolveError>(&resolved)) {
    *error = e->message;
    return std::nullopt;
  }
  if (!yaml) {
    *error = "not an experiment config (.yaml): " + config_path;
    return std::nullopt;
  }
  return std::get<std::string>(resolved);
}

void Dashboard::StartExperiment(LiveHub::Client& client, const events::StartExperiment& command) {
  std::string error;
  auto file = ResolveConfig(command.config_path, &error);
  if (!file) {
    hub_.SendTo(client, ErrorEvent("start_experiment", error));
    return;
  }
  auto runner = Runner();
  if (!runner) {
    hub_.SendTo(client, ErrorEvent("start_experiment", "ib-dash is shutting down"));
    return;
  }
  std::string queue_id = runner->Enqueue(*file, command.config_path, command);
  hub_.SendTo(client, {{"type", "ack"},
                       {"command", "start_experiment"},
                       {"data", {{"queue_id", queue_id}}}});
}

void Dashboard::HandleCommand(LiveHub::Client& client, std::string_view text) {
  auto parsed = events::ParseCommand(text);
  if (!parsed.command) {
    std::string type;
    if (auto j = json::parse(text, nullptr, false); j.is_object() && j.contains("type") &&
                                                     j["type"].is_string()) {
      type = j["type"].get<std::string>();
    }
    hub_.SendTo(client, ErrorEvent(type, "bad command: " + parsed.error));
    return;
  }
  const auto& command = *parsed.command;
  auto runner = Runner();
  if (!runner) {
    hub_.SendTo(client, ErrorEvent(events::ToJson(command)["type"].get<std::string>(),
                                   "ib-dash is shutting down"));
    return;
  }
  if (const auto* start = std::get_if<events::StartExperiment>(&command)) {
    StartExperiment(client, *start);
  } else if (const auto* stop = std::get_if<events::StopExperiment>(&command)) {
    auto outcome = runner->Stop(stop->run_id);
    if (auto* message = std::get_if<std::string>(&outcome)) {
      hub_.SendTo(client, ErrorEvent("stop_experiment", *message));
    } else {
      const auto& o = std::get<StopOutcome>(outcome);
      hub_.SendTo(client, {{"type", "ack"},
                           {"command", "stop_experiment"},
                           {"data", {{"run_id", o.run_id}, {"queue_id", o.queue_id}, {"signal", o.signal}}}});
    }
  } else if (const auto* cancel = std::get_if<events::CancelQueued>(&command)) {
    std::string message = runner->Cancel(cancel->queue_id);
    if (!message.empty()) {
      hub_.SendTo(client, ErrorEvent("cancel_queued", message));
    } else {
      hub_.SendTo(client, {{"type", "ack"},
                           {"command", "cancel_queued"},
                           {"data", {{"queue_id", cancel->queue_id}}}});
    }
  } else {
    std::string type = events::ToJson(command)["type"].get<std::string>();
    hub_.SendTo(client, ErrorEvent(type, type + " is not available in this build"));
  }
}

HttpReply Dashboard::HandleApiGet(std::string_view path) {
  if (path == "/api/state") return {200, "application/json", hub_.StateJson()};
  if (path == "/api/stats") return {200, "application/json", hub_.Stats().dump()};
  if (path == "/api/queue") {
    auto runner = Runner();
    return {200, "application/json", runner ? runner->QueueJson().dump() : "[]"};
  }
  return {404, "application/json", NotFound("no such route").dump()};
}

}  // namespace ib::dash
