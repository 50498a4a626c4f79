// The dashboard's core, independent of the HTTP server: it receives every stream (StreamSink),
// fans events out through the LiveHub, runs experiments through the ExperimentRunner, answers
// the REST routes and the WebSocket commands of docs/dashboard-protocol.md.
// server.cc adapts it to Civetweb; tests may drive it directly.
//   Dashboard dash({.results_dir = "results", .experiments_dir = "experiments"});
//   PumpStream(0, "stdin", dash);                        // in a reader thread
//   auto client = dash.hub().Connect();  dash.HandleCommand(*client, R"({"type":"list_results"})");
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/dash/experiment_runner.h"
#include "lib/dash/stream_recorder.h"
#include "lib/dash/studies.h"
#include "lib/dash/live_hub.h"
#include "lib/dash/stream_sink.h"
#include "lib/openmetrics/run_metrics.h"

namespace ib::dash {

struct DashboardOptions {
  std::string results_dir = "results";
  std::string experiments_dir = "experiments";
  std::string ib_run;  // path of ib-run; empty: FindTool("ib-run") when a run starts
  HubOptions hub;
  // How long a run that ended without a summary waits for its results file (written by an
  // ib-aggregate fed the same stream) before ib-dash saves it itself.
  std::chrono::milliseconds save_grace = std::chrono::seconds(5);
  // On Shutdown, how long at most the grace of pending runs is still waited.
  std::chrono::milliseconds shutdown_save_wait = std::chrono::seconds(3);
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool compressible = false;  // large JSON worth gzip when the client accepts it
  // Non-empty when the same key always means the same body (a results file's identity): the
  // server may reuse the body's gzip instead of compressing 50 MB again.
  std::string cache_key;
};

class Dashboard : public StreamSink {
 public:
  explicit Dashboard(DashboardOptions options);
  ~Dashboard() override;  // Shutdown()

  // Stops a running experiment (SIGTERM, then SIGKILL to its group after a grace period),
  // drops the queue, waits for the results files of ended runs until `save_deadline` at most
  // (default: now + shutdown_save_wait) and saves the missing ones (partial for streams still
  // open, except ib-run's, which its ib-aggregate saves). Commands that start experiments fail
  // afterwards.
  void Shutdown(std::optional<std::chrono::steady_clock::time_point> save_deadline = std::nullopt);

  // StreamSink: every stream's events, in order per source.
  void OnEvent(const std::string& source, const events::Event& event,
               std::string_view raw_line = {}, bool deferred = false) override;
  void Flush(const std::string& source) override;
  void OnStreamEnd(const std::string& source) override;

  // Queues an experiment as if a client had sent start_experiment (ib-dash --start).
  // Returns "" or the error the client would have received.
  std::string StartAtLaunch(const events::StartExperiment& command);

  // A WebSocket text message from a client. Every command gets a reply or an error event.
  void HandleCommand(LiveHub::Client& client, std::string_view text);
  // GET /api/... (path without the query string, URL-decoded but not normalized).
  HttpReply HandleApiGet(std::string_view path);
  // GET /metrics: the current run as OpenMetrics, or Prometheus text when `accept` prefers it.
  HttpReply HandleMetrics(std::string_view accept) const;

  LiveHub& hub() { return hub_; }
  const DashboardOptions& options() const { return options_; }

 private:
  HttpReply ApiGet(std::string_view path);  // HandleApiGet before redaction
  nlohmann::json ErrorEvent(const std::string& command, const std::string& message,
                            nlohmann::json extra = nlohmann::json::object()) const;
  void StartExperiment(LiveHub::Client& client, const events::StartExperiment& command);
  // Validates and queues; returns the queue id, or the error event to send.
  std::variant<std::string, nlohmann::json> Enqueue(const events::StartExperiment& command);
  // Maps a client's config path ("experiments/examples/x.yaml" or "examples/x.yaml") to the
  // file under experiments_dir; on failure *status is 400 or 404 and the error is returned.
  std::optional<std::string> ResolveConfig(const std::string& config_path, std::string* error) const;

  DashboardOptions options_;
  LiveHub hub_;
  StreamRecorder recorder_;
  StudyWatcher studies_;  // the running sweep/search's study file, pushed as it changes
  openmetrics::LiveMetrics metrics_;
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool tick_stop_ = false;
  std::thread tick_thread_;  // saves runs whose summary never came (StreamRecorder::Tick)
  // The runner or null after Shutdown().
  std::shared_ptr<ExperimentRunner> Runner() const;

  mutable std::mutex runner_mu_;
  std::shared_ptr<ExperimentRunner> runner_;  // last member: destroyed first
};

}  // namespace ib::dash
