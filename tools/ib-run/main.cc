// ib-run: turns an experiment config into a running pipeline of ib tools and one combined
// NDJSON stream on stdout (docs/ib-run.md).
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "lib/cli/flags.h"
#include "lib/orchestrate/run.h"
#include "lib/orchestrate/signals.h"
#include "lib/orchestrate/subcommands.h"

namespace {

bool IsPipe(int fd) {
  struct stat st{};
  return ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

}  // namespace

int main(int argc, char** argv) {
  if (auto rc = ib::orchestrate::RunSubcommand(argc, argv)) return *rc;
  ib::orchestrate::RunOptions o;
  bool progress = false, quiet = false, ndjson = false;
  std::vector<std::string> positional;
  ib::cli::Flags flags("ib-run", "runs an experiment: provisioning, load, GPU metrics, results; "
                                 "one NDJSON stream on stdout");
  flags.Positional("CONFIG", &positional, 1, 1);
  flags.Bool("dry-run", &o.dry_run, "print the resolved config, iterations, request count and cost; run nothing");
  flags.Bool("confirm", &o.confirm, "do not ask before spending money on a pod");
  flags.String("server-url", &o.server_url, "use this running server (no provisioning)");
  flags.String("name", &o.name, "run name instead of the config's name (run ids, pod name)");
  flags.Bool("keep-server", &o.keep_server, "leave the pod (or local ib-sim) running at the end");
  flags.Bool("fresh-server", &o.fresh_server, "provider local: restart ib-sim between sweep iterations (cold prefix cache)");
  flags.Bool("flush-cache", &o.flush_cache, "between sweep iterations, ask the server to drop its prefix cache (SGLang /flush_cache; vLLM /reset_prefix_cache, dev mode)");
  flags.String("resume", &o.resume_run_id, "continue the partial run RUN_ID's remaining requests");
  flags.String("output-dir", &o.output_dir, "results directory (default: the config's metrics.output_dir)");
  flags.String("fifo", &o.fifo_path, "also copy the stream into this named FIFO (created if missing)");
  flags.Double("health-timeout-s", &o.health_timeout_s, "give up on /health after this long (default 600; local: load time + 120)");
  flags.String("emit", &o.emit, "k8s: write the Kubernetes Indexed Job manifest of the load shards "
                                "(infrastructure.load.launcher k8s), print how to apply it, then collect the pods");
  flags.String("emit-dir", &o.emit_dir, "with --emit: write the manifests here (default: the results directory)");
  flags.Bool("progress", &progress, "show the progress display on stderr even when stdout is piped");
  flags.Bool("quiet", &quiet, "no progress display");
  flags.Bool("ndjson", &ndjson, "write the NDJSON stream even when stdout is a terminal");
  flags.Epilog(
      "Examples:\n"
      "  ib-run experiments/examples/sim-smoke.yaml | ib-dash\n"
      "  ib-run experiments/examples/quick-smoke-test.yaml --dry-run\n"
      "  ib-run x.yaml --server-url http://127.0.0.1:8000 > run.ndjson\n"
      "On a terminal stderr shows phases, a progress bar and the summaries; a piped stdout gets\n"
      "pure NDJSON and stderr stays quiet. A terminal stdout gets no NDJSON unless --ndjson.\n"
      "Ctrl-C (or SIGTERM) stops gracefully within about 5 s: in-flight requests cancelled,\n"
      "partial results written, pod terminated; a second Ctrl-C stops at once.\n"
      "Subcommands: init, config set KEY VALUE, doctor, server status|stop, update-pricing\n"
      "  (ib-run init --help lists them).\n"
      "Exit codes: 0 success, 1 the run failed, 2 bad usage or config, 130 interrupted.");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  o.config_path = positional[0];
  if (o.dry_run) return ib::orchestrate::DryRun(o, std::cout, std::cerr);

  o.write_stream = ndjson || !::isatty(STDOUT_FILENO);
  o.progress = !quiet && (progress || (::isatty(STDERR_FILENO) && !IsPipe(STDOUT_FILENO)));
  ib::orchestrate::StopSignals::Install();
  return ib::orchestrate::Run(o);
}
