// CPU cost of ib-scrape's loop at 10 Hz: serves the real 45 KB vLLM V1 page from Civetweb on
// 127.0.0.1:0 (or scrapes --url), runs the real ib-scrape binary for a few seconds with its
// NDJSON going to /dev/null, and prints the child's user+system CPU as a share of one core.
//   bazel run -c opt //scripts/bench:scrape_cpu_bench [-- SECONDS [INTERVAL_MS [URL]]]
#include <civetweb.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "lib/proc/proc.h"

namespace {

std::string g_page;

int Serve(mg_connection* conn, void*) {
  mg_send_http_ok(conn, "text/plain; version=0.0.4", g_page.size());
  mg_write(conn, g_page.data(), g_page.size());
  return 200;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 10;
  int interval_ms = argc > 2 ? std::atoi(argv[2]) : 100;
  std::string url = argc > 3 ? argv[3] : "";
  mg_context* ctx = nullptr;
  if (url.empty()) {
    std::ifstream in("lib/prom/testdata/vllm-v1-idle-qwen1.5-0.5b-chat.txt", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    g_page = ss.str();
    const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "2", nullptr};
    ctx = mg_start(nullptr, nullptr, options);
    if (ctx == nullptr) {
      std::fprintf(stderr, "scrape_cpu_bench: error: cannot start civetweb\n");
      return 1;
    }
    mg_set_request_handler(ctx, "/metrics", Serve, nullptr);
    mg_server_port ports[1];
    mg_get_server_ports(ctx, 1, ports);
    url = "http://127.0.0.1:" + std::to_string(ports[0].port) + "/metrics";
  }
  std::string tool = ib::proc::FindTool("ib-scrape");
  if (tool.empty()) {
    std::fprintf(stderr, "scrape_cpu_bench: error: ib-scrape not found\n");
    return 1;
  }
  int null_fd = open("/dev/null", O_WRONLY);
  ib::proc::SpawnOptions o;
  o.argv = {tool, "--url", url, "--framework", "vllm", "--interval-ms", std::to_string(interval_ms),
            "--duration-s", std::to_string(seconds), "--ndjson"};
  o.pipe_stdout = false;
  o.stdout_fd = null_fd;
  std::string error;
  auto start = std::chrono::steady_clock::now();
  auto child = ib::proc::Spawn(o, &error);
  if (!child) {
    std::fprintf(stderr, "scrape_cpu_bench: error: %s\n", error.c_str());
    return 1;
  }
  int status = 0;
  rusage usage{};
  wait4(child->pid, &status, 0, &usage);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
               usage.ru_stime.tv_usec / 1e6;
  double scrapes = seconds * 1000.0 / interval_ms;
  std::printf("ib-scrape at %d ms against %s for %.1f s (exit %d)\n", interval_ms, url.c_str(), wall,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  std::printf("cpu %.3f s = %.2f %% of one core; %.0f us per scrape%s\n", cpu, 100 * cpu / wall,
              1e6 * cpu / scrapes,
              g_page.empty() ? "" : (" (" + std::to_string(g_page.size()) + "-byte page)").c_str());
  if (ctx) mg_stop(ctx);
  return 0;
}
