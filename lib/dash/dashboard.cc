#include "lib/dash/dashboard.h"

#include <variant>

#include "lib/dash/catalog.h"
#include "lib/dash/paths.h"

namespace ib::dash {

using nlohmann::json;

namespace {

constexpr std::string_view kExperimentsPrefix = "experiments/";

json NotFound(const std::string& message) { return {{"error", message}}; }

}  // namespace

Dashboard::Dashboard(DashboardOptions options)
    : options_(std::move(options)),
      hub_(options_.hub),
      recorder_(options_.results_dir, [this](const events::Event& e) { hub_.PublishEvent(e); },
                options_.save_grace),
      studies_(options_.results_dir) {
  tick_thread_ = std::thread([this] {
    std::unique_lock lock(tick_mu_);
    while (!tick_cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return tick_stop_; })) {
      lock.unlock();
      recorder_.Tick();
      if (auto study = studies_.Poll()) hub_.Broadcast(*study);
      lock.lock();
    }
  });
  RunnerOptions runner;
  runner.ib_run = options_.ib_run;
  runner.results_dir = options_.results_dir;
  runner_ = std::make_shared<ExperimentRunner>(runner, *this,
                                               [this](const json& queue) { hub_.SetQueue(queue); });
}

Dashboard::~Dashboard() { Shutdown(); }

void Dashboard::Shutdown(std::optional<std::chrono::steady_clock::time_point> save_deadline) {
  auto deadline = save_deadline.value_or(std::chrono::steady_clock::now() +
                                         options_.shutdown_save_wait);
  std::shared_ptr<ExperimentRunner> runner;
  {
    std::lock_guard lock(runner_mu_);
    runner.swap(runner_);
  }
  if (!runner && !tick_thread_.joinable()) return;
  runner.reset();  // the child's stream ends (and is saved) before the flush below
  {
    std::lock_guard lock(tick_mu_);
    tick_stop_ = true;
  }
  tick_cv_.notify_all();
  if (tick_thread_.joinable()) tick_thread_.join();
  recorder_.FlushAll("ib-dash stopped before the run finished", deadline);
}

std::shared_ptr<ExperimentRunner> Dashboard::Runner() const {
  std::lock_guard lock(runner_mu_);
  return runner_;
}

void Dashboard::OnEvent(const std::string& source, const events::Event& event,
                        std::string_view raw_line, bool deferred) {
  hub_.PublishEvent(event, raw_line, /*wake=*/!deferred);
  recorder_.Add(source, event);
  metrics_.Add(event);
  studies_.Note(event);
}

HttpReply Dashboard::HandleMetrics(std::string_view accept) const {
  openmetrics::Format format = openmetrics::NegotiateFormat(accept);
  HttpReply reply;
  reply.content_type = std::string(openmetrics::ContentType(format));
  reply.body = hub_.Redact(metrics_.Page(format));
  return reply;
}

void Dashboard::Flush(const std::string&) { hub_.WakeAll(); }

void Dashboard::OnStreamEnd(const std::string& source) { recorder_.EndStream(source); }

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

std::variant<std::string, json> Dashboard::Enqueue(const events::StartExperiment& command) {
  auto runner = Runner();
  if (!runner) return ErrorEvent("start_experiment", "ib-dash is shutting down");
  std::string error;
  auto file = ResolveConfig(command.config_path, &error);
  if (!file) return ErrorEvent("start_experiment", error);
  json config = DescribeConfig(*file, command.config_path);
  if (!config["errors"].empty()) {
    return ErrorEvent("start_experiment", "invalid config " + command.config_path,
                      {{"errors", config["errors"]}});
  }
  // Spending money needs the user's yes: the page asks (showing ib-run's estimate), then sends
  // confirm: true. An existing server (server_url) rents nothing.
  if (config["provider"] != "local" && !command.confirm && !command.server_url) {
    std::string estimate = config["cost_estimate"].is_string()
                               ? " (estimated " + config["cost_estimate"].get<std::string>() + ")"
                               : "";
    return ErrorEvent("start_experiment",
                      command.config_path + " rents a GPU pod" + estimate + ": confirmation required",
                      {{"needs_confirmation", true},
                       {"cost_per_hr_usd", config["cost_per_hr_usd"]},
                       {"estimated_cost_usd", config["estimated_cost_usd"]},
                       {"cost_estimate", config["cost_estimate"]}});
  }
  return runner->Enqueue(*file, command.config_path, command);
}

void Dashboard::StartExperiment(LiveHub::Client& client, const events::StartExperiment& command) {
  auto queued = Enqueue(command);
  if (auto* error = std::get_if<json>(&queued)) {
    hub_.SendTo(client, *error);
    return;
  }
  hub_.SendTo(client, {{"type", "ack"},
                       {"command", "start_experiment"},
                       {"data", {{"queue_id", std::get<std::string>(queued)}}}});
}

std::string Dashboard::StartAtLaunch(const events::StartExperiment& command) {
  auto queued = Enqueue(command);
  if (auto* error = std::get_if<json>(&queued)) {
    std::string message = (*error)["message"].get<std::string>();
    for (const auto& e : (*error)["data"].value("errors", json::array())) {
      message += "\n  " + e.get<std::string>();
    }
    return message;
  }
  return "";
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
  } else if (std::holds_alternative<events::ListConfigs>(command)) {
    hub_.SendTo(client, {{"type", "configs"}, {"data", ListConfigs(options_.experiments_dir)}});
  } else if (std::holds_alternative<events::ListResults>(command)) {
    hub_.SendTo(client, {{"type", "results"}, {"data", ListResults(options_.results_dir)}});
  } else if (const auto* load = std::get_if<events::LoadResult>(&command)) {
    ResultFile file = ReadResultFile(options_.results_dir, load->run_id);
    if (file.status != 200) {
      hub_.SendTo(client, ErrorEvent("load_result", json::parse(file.body)["error"].get<std::string>(),
                                     {{"run_id", load->run_id}, {"status", file.status}}));
    } else {
      // The file's text goes in as is: no parse and re-dump of a 100k-request run.
      hub_.SendRawTo(client, "{\"type\":\"result\",\"run_id\":" + json(load->run_id).dump() +
                                 ",\"data\":" + file.body + "}");
    }
  }
}

HttpReply Dashboard::HandleApiGet(std::string_view path) {
  // No reply carries a secret, whatever a results file or a config holds.
  HttpReply reply = ApiGet(path);
  reply.body = hub_.Redact(std::move(reply.body));
  return reply;
}

HttpReply Dashboard::ApiGet(std::string_view path) {
  if (path == "/api/state") return {200, "application/json", hub_.StateJson(), true};
  if (path == "/api/configs") return {200, "application/json", ListConfigs(options_.experiments_dir).dump()};
  if (path == "/api/results") {
    return {200, "application/json", ListResults(options_.results_dir).dump(), true};
  }
  if (path.starts_with("/api/results/")) {
    ResultFile file = ReadResultFile(options_.results_dir, std::string(path.substr(13)));
    return {file.status, "application/json", std::move(file.body), true, file.identity};
  }
  if (path.starts_with("/api/compare/")) {
    CompareReply c = CompareRuns(options_.results_dir, path.substr(13));
    return {c.status, "application/json", std::move(c.body), true};
  }
  if (path == "/api/studies") return {200, "application/json", ListStudies(options_.results_dir).dump(), true};
  if (path.starts_with("/api/studies/")) {
    StudyFile file = ReadStudyFile(options_.results_dir, std::string(path.substr(13)));
    return {file.status, "application/json", std::move(file.body), true};
  }
  if (path == "/api/stats") return {200, "application/json", hub_.Stats().dump()};
  if (path == "/api/schema") {
    // The event fields the page reads, from lib/events' one definition (request_fields.h, and
    // payloads.h for execution / iteration_done / summary).
    static const std::string kSchema = [] {
      nlohmann::json schema = events::PayloadSchemas();
      schema["request_complete"] = events::RequestCompleteSchema();
      return schema.dump();
    }();
    return {200, "application/json", kSchema};
  }
  if (path == "/api/queue") {
    auto runner = Runner();
    return {200, "application/json", runner ? runner->QueueJson().dump() : "[]"};
  }
  return {404, "application/json", NotFound("no such route").dump()};
}

}  // namespace ib::dash
