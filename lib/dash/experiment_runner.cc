#include "lib/dash/experiment_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/events/stream.h"
#include "lib/proc/proc.h"

namespace ib::dash {

using nlohmann::json;

// Forwards the child's events and remembers the run ids it announced, so Stop can match them.
class ExperimentRunner::ChildSink : public StreamSink {
 public:
  ChildSink(ExperimentRunner& runner, std::string queue_id)
      : runner_(runner), queue_id_(std::move(queue_id)) {}
  void OnEvent(const std::string& source, const events::Event& event, std::string_view raw_line,
               bool deferred) override {
    const std::string& run_id = events::RunId(event);
    if (!run_id.empty()) {
      bool added = false;
      {
        std::lock_guard lock(runner_.mu_);
        for (auto& e : runner_.entries_) {
          if (e.queue_id == queue_id_ &&
              std::find(e.run_ids.begin(), e.run_ids.end(), run_id) == e.run_ids.end()) {
            e.run_ids.push_back(run_id);
            added = true;
          }
        }
        last_run_id_ = run_id;
      }
      if (added) runner_.NotifyQueue();
    }
    runner_.sink_.OnEvent(source, event, raw_line, deferred);
  }
  void Flush(const std::string& source) override { runner_.sink_.Flush(source); }
  void OnStreamEnd(const std::string& source) override { runner_.sink_.OnStreamEnd(source); }
  std::string last_run_id() const {
    std::lock_guard lock(runner_.mu_);
    return last_run_id_;
  }

 private:
  ExperimentRunner& runner_;
  std::string queue_id_;
  std::string last_run_id_;  // guarded by runner_.mu_
};

ExperimentRunner::ExperimentRunner(RunnerOptions options, StreamSink& sink,
                                   std::function<void(const json&)> on_queue_change)
    : options_(std::move(options)), sink_(sink), on_queue_change_(std::move(on_queue_change)) {
  thread_ = std::thread([this] { Loop(); });
}

ExperimentRunner::~ExperimentRunner() {
  pid_t pid = -1;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    std::erase_if(entries_, [](const Entry& e) { return !e.running; });
    if (!entries_.empty()) pid = entries_.front().pid;
  }
  cv_.notify_all();
  if (pid > 0) {
    ::kill(pid, SIGTERM);
    std::unique_lock lock(mu_);
    bool ended = cv_.wait_for(lock, std::chrono::milliseconds(options_.shutdown_grace_ms),
                              [&] { return entries_.empty() || entries_.front().pid != pid; });
    if (!ended) ::kill(-pid, SIGKILL);
  }
  thread_.join();
}

std::string ExperimentRunner::Enqueue(const std::string& config_file,
                                      const std::string& config_path,
                                      const events::StartExperiment& options) {
  std::string id;
  {
    std::lock_guard lock(mu_);
    id = "q-" + std::to_string(next_id_++);
    Entry e;
    e.queue_id = id;
    e.config_file = config_file;
    e.config_path = config_path;
    e.options = options;
    entries_.push_back(std::move(e));
  }
  cv_.notify_all();
  NotifyQueue();
  return id;
}

std::string ExperimentRunner::Cancel(const std::string& queue_id) {
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.queue_id == queue_id; });
    if (it == entries_.end()) return "no queued experiment \"" + queue_id + "\"";
    if (it->running) return "\"" + queue_id + "\" is running: use stop_experiment";
    entries_.erase(it);
  }
  NotifyQueue();
  return "";
}

std::variant<StopOutcome, std::string> ExperimentRunner::Stop(const std::string& run_id) {
  StopOutcome outcome;
  {
    std::lock_guard lock(mu_);
    if (entries_.empty() || !entries_.front().running) return std::string("no experiment is running");
    Entry& e = entries_.front();
    bool match = run_id.empty() || run_id == e.queue_id ||
                 std::find(e.run_ids.begin(), e.run_ids.end(), run_id) != e.run_ids.end();
    if (!match) return "run \"" + run_id + "\" is not running";
    if (e.pid <= 0) return std::string("the experiment is still starting; try again");
    ++e.stops;
    outcome.queue_id = e.queue_id;
    outcome.run_id = e.run_ids.empty() ? "" : e.run_ids.back();
    if (e.stops == 1) {
      ::kill(e.pid, SIGTERM);
      outcome.signal = "SIGTERM";
    } else {
      ::kill(-e.pid, SIGKILL);
      outcome.signal = "SIGKILL";
    }
  }
  Log("warning",
      outcome.signal == "SIGTERM"
          ? "stop requested: SIGTERM sent to ib-run (" + outcome.queue_id + ")"
          : "second stop: SIGKILL sent to ib-run's process group (" + outcome.queue_id + ")",
      outcome.run_id);
  return outcome;
}

json ExperimentRunner::QueueJsonLocked() const {
  json queue = json::array();
  for (const auto& e : entries_) {
    json options = {{"confirm", e.options.confirm}};
    options["server_url"] = e.options.server_url ? json(*e.options.server_url) : json(nullptr);
    options["name"] = e.options.name ? json(*e.options.name) : json(nullptr);
    queue.push_back({{"queue_id", e.queue_id},
                     {"config_path", e.config_path},
                     {"options", options},
                     {"state", e.running ? "running" : "queued"},
                     {"run_ids", e.run_ids},
                     {"started_at", e.started_at.empty() ? json(nullptr) : json(e.started_at)}});
  }
  return queue;
}

json ExperimentRunner::QueueJson() const {
  std::lock_guard lock(mu_);
  return QueueJsonLocked();
}

void ExperimentRunner::NotifyQueue() {
  if (on_queue_change_) on_queue_change_(QueueJson());
}

void ExperimentRunner::Log(const std::string& level, const std::string& message,
                           const std::string& run_id) {
  sink_.OnEvent("ib-dash", events::MakeLog(run_id, level, message, "ib-dash"));
}

void ExperimentRunner::Loop() {
  while (true) {
    Entry entry;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || (!entries_.empty() && !entries_.front().running); });
      if (stopping_) return;
      entries_.front().running = true;
      entries_.front().started_at = events::NowIso8601();
      entry = entries_.front();
    }
    NotifyQueue();
    RunEntry(entry);
    {
      std::lock_guard lock(mu_);
      if (!entries_.empty() && entries_.front().queue_id == entry.queue_id) entries_.pop_front();
    }
    cv_.notify_all();
    NotifyQueue();
  }
}

void ExperimentRunner::RunEntry(Entry entry) {
  std::string tool = options_.ib_run.empty() ? proc::FindTool("ib-run") : options_.ib_run;
  if (tool.empty()) {
    Log("error", "cannot start " + entry.config_path + ": ib-run not found (set IB_BIN_DIR)");
    return;
  }
  std::vector<std::string> argv = {tool, entry.config_file};
  if (!options_.results_dir.empty()) argv.insert(argv.end(), {"--output-dir", options_.results_dir});
  if (entry.options.confirm) argv.push_back("--confirm");
  if (entry.options.server_url) argv.insert(argv.end(), {"--server-url", *entry.options.server_url});
  if (entry.options.name) argv.insert(argv.end(), {"--name", *entry.options.name});

  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    Log("error", std::string("cannot start ib-run: pipe: ") + std::strerror(errno));
    return;
  }
  proc::SpawnOptions spawn;
  spawn.argv = argv;
  spawn.stderr_fd = err_pipe[1];
  spawn.new_process_group = true;
  std::string error;
  auto child = proc::Spawn(spawn, &error);
  ::close(err_pipe[1]);
  if (!child) {
    ::close(err_pipe[0]);
    Log("error", "cannot start ib-run: " + error);
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (!entries_.empty() && entries_.front().queue_id == entry.queue_id) entries_.front().pid = child->pid;
  }
  Log("info", "started ib-run " + entry.config_path + " (" + entry.queue_id + ", pid " +
                  std::to_string(child->pid) + ")");

  ChildSink child_sink(*this, entry.queue_id);
  std::thread stderr_thread([&, fd = err_pipe[0]] {
    events::LineReader lines(fd, 64 * 1024);
    while (auto line = lines.Next()) {
      if (line->oversized || line->text.empty()) continue;
      sink_.OnEvent("ib-run", events::MakeLog(child_sink.last_run_id(), events::StderrLevel(line->text),
                                              line->text, "ib-run"));
    }
  });
  PumpStream(child->stdout_fd, "ib-run " + entry.queue_id, child_sink);
  ::close(child->stdout_fd);
  proc::ExitStatus status = proc::Wait(child->pid);
  stderr_thread.join();
  ::close(err_pipe[0]);
  int stops = 0;
  {
    std::lock_guard lock(mu_);
    if (!entries_.empty() && entries_.front().queue_id == entry.queue_id) {
      entries_.front().pid = -1;
      stops = entries_.front().stops;
    }
  }
  cv_.notify_all();
  bool ok = status.exited && status.code == 0;
  // A run the user stopped ended as asked: not an error.
  Log(ok || stops > 0 ? "info" : "error",
      "ib-run " + entry.config_path + " (" + entry.queue_id + ") ended: " + status.Describe() +
          (stops > 0 && !ok ? " (stopped from the page)" : ""),
      child_sink.last_run_id());
}

}  // namespace ib::dash
