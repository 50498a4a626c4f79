// ib-dash: the localhost dashboard server. Streams runs to browsers, keeps them, runs
// experiments on request. docs/ib-dash.md documents flags, routes and decisions.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "lib/cli/exit_codes.h"
#include "lib/cli/flags.h"
#include "lib/dash/dashboard.h"
#include "lib/dash/fifo_input.h"
#include "lib/dash/paths.h"
#include "lib/dash/secrets.h"
#include "lib/dash/server.h"
#include "lib/dash/stream_sink.h"
#include "lib/proc/proc.h"

namespace {

bool StdinIsPiped() {
  struct stat st{};
  return ::fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode));
}

std::string FindWebDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  // ./web (run from the checkout), then beside the binary: bin/ib-dash of a checkout (../web),
  // an install (../share/ib/web), or web/ next to it.
  for (const std::string& dir : {std::string("web"), ib::proc::SelfDir() + "/../web", ib::proc::SelfDir() + "/web",
                                 ib::proc::SelfDir() + "/../share/ib/web"}) {
    struct stat st{};
    if (::stat((dir + "/index.html").c_str(), &st) == 0) return dir;
  }
  std::fprintf(stderr,
               "ib-dash: warning: no page files (web/index.html) here or beside the binary: the page will "
               "answer 404; run from the checkout or pass --web-dir\n");
  return "web";
}

// Opens the page with xdg-open when there is a display; false when it could not.
bool OpenBrowser(const std::string& url) {
  if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) return false;
  std::string opener = ib::proc::FindTool("xdg-open");
  if (opener.empty()) return false;
  ib::proc::SpawnOptions spawn;
  spawn.argv = {opener, url};
  spawn.pipe_stdout = false;
  spawn.die_with_parent = false;
  std::string error;
  if (auto child = ib::proc::Spawn(spawn, &error)) {
    std::thread([pid = child->pid] { ib::proc::Wait(pid); }).detach();
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  ib::cli::Flags flags("ib-dash", "the localhost dashboard: live runs, history, experiments");
  int64_t port = 8420;
  std::string fifo, results_dir = "results", experiments_dir = "experiments", web_dir;
  bool browser = true, confirm = false;
  double save_grace_s = 5;
  std::vector<std::string> start;
  flags.Int("port", &port, "port on 127.0.0.1 (0: any free port)");
  flags.String("fifo", &fifo, "also read events from this named FIFO (created if missing)");
  flags.Bool("browser", &browser, "open the page in a browser (--no-browser: only print the URL)");
  flags.String("results-dir", &results_dir, "where results files are read and written");
  flags.String("experiments-dir", &experiments_dir, "the experiment configs offered to the page");
  flags.List("start", &start, "queue this experiment config at launch (repeatable)");
  flags.Bool("confirm", &confirm, "with --start: do not ask before renting a pod");
  flags.Double("save-grace", &save_grace_s,
               "seconds a run that ended without a results file waits for another writer's "
               "(ib-aggregate) before ib-dash saves it");
  flags.String("web-dir", &web_dir, "the page's files (default: ./web, else ../web, web/ or ../share/ib/web beside the binary)");
  flags.Epilog(
      "Reads an event stream from stdin when it is piped:  ib-run x.yaml | ib-dash\n"
      "Exit codes: 0 stopped by SIGINT/SIGTERM (its normal end), 2 bad usage or cannot listen.");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "ib-dash: error: --port %lld is not a port\n", static_cast<long long>(port));
    return ib::exit_code::kUsage;
  }
  if (!(save_grace_s >= 0 && save_grace_s <= 3600)) {
    std::fprintf(stderr, "ib-dash: error: --save-grace %g is not between 0 and 3600 seconds\n",
                 save_grace_s);
    return ib::exit_code::kUsage;
  }

  // Signals are taken by sigwait below; every thread inherits the mask (children get it cleared).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  ib::dash::DashboardOptions options;
  options.results_dir = results_dir;
  options.experiments_dir = experiments_dir;
  options.save_grace = std::chrono::milliseconds(static_cast<int64_t>(save_grace_s * 1000));
  options.hub.secrets = ib::dash::KnownSecrets();  // redacted from every event and reply
  auto dashboard = std::make_unique<ib::dash::Dashboard>(options);

  ib::dash::ServerOptions server_options;
  server_options.port = static_cast<int>(port);
  server_options.web_dir = FindWebDir(web_dir);
  ib::dash::DashServer server(*dashboard, server_options);
  std::string error;
  if (!server.Start(&error)) {
    std::fprintf(stderr, "ib-dash: error: %s\n", error.c_str());
    return ib::exit_code::kUsage;
  }
  std::unique_ptr<ib::dash::FifoInput> fifo_input;
  if (!fifo.empty()) {
    fifo_input = std::make_unique<ib::dash::FifoInput>(fifo, *dashboard);
    if (!fifo_input->Start(&error)) {
      std::fprintf(stderr, "ib-dash: error: %s\n", error.c_str());
      return ib::exit_code::kUsage;
    }
  }
  if (StdinIsPiped()) {
    std::thread([&d = *dashboard] { ib::dash::PumpStream(0, "stdin", d); }).detach();
  }
  for (const auto& config : start) {
    ib::events::StartExperiment command;
    command.config_path = config;
    command.confirm = confirm;
    if (std::string message = dashboard->StartAtLaunch(command); !message.empty()) {
      std::fprintf(stderr, "ib-dash: error: --start %s: %s\n", config.c_str(), message.c_str());
      server.Stop();
      dashboard->Shutdown();
      return ib::exit_code::kUsage;
    }
  }
  std::fprintf(stderr, "ib-dash: serving %s (web: %s, results: %s)\n", server.url().c_str(),
               server_options.web_dir.c_str(), results_dir.c_str());
  bool opened = browser && OpenBrowser(server.url());
  if (!opened) std::fprintf(stderr, "ib-dash: open %s in a browser\n", server.url().c_str());

  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "ib-dash: stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  // Files of ended runs are still awaited while the server stops (mg_stop takes ~2 s).
  auto save_deadline = std::chrono::steady_clock::now() + options.shutdown_save_wait;
  server.Stop();
  dashboard->Shutdown(save_deadline);  // stops a running experiment, saves runs without a file
  std::fflush(nullptr);
  // Stopping is ib-dash's normal end (lib/cli/exit_codes.h); _Exit: reader threads may still
  // block on stdin or the FIFO.
  std::_Exit(ib::exit_code::kOk);
}
