// Benchmark of ib-sim's timing loop: N concurrent deterministic streams from one curl-multi
// client thread, then the truth file tells how late each chunk was written against its schedule
// (arrival + ttft + i * itl), and /proc tells the server's CPU per chunk.
//   stream_bench [--streams 1000] [--tokens 100] [--ttft-ms 50] [--itl-ms 20] [--writer scheduler]
// Run it through scripts/bench/sim-streams (builds with -c opt).
#include <curl/curl.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/cli/flags.h"
#include "lib/proc/proc.h"

namespace {

int64_t Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  auto p = s.rfind(')');
  std::vector<std::string> f;
  std::string cur;
  for (std::size_t i = p + 2; i < s.size(); ++i) {
    if (s[i] == ' ') { f.push_back(cur); cur.clear(); } else cur += s[i];
  }
  // fields after ')' start at state (3rd field): utime is field 14, stime 15.
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

size_t Discard(char*, size_t size, size_t n, void* user) {
  *static_cast<int64_t*>(user) += static_cast<int64_t>(size * n);
  return size * n;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t streams = 1000, tokens = 100;
  double ttft = 50, itl = 20;
  std::string writer = "scheduler";
  int64_t rt = 0;
  ib::cli::Flags flags("stream_bench", "ib-sim timing-loop benchmark");
  flags.Int("streams", &streams, "concurrent streams");
  flags.Int("tokens", &tokens, "tokens per stream");
  flags.Double("ttft-ms", &ttft, "deterministic TTFT");
  flags.Double("itl-ms", &itl, "deterministic inter-token interval");
  flags.String("writer", &writer, "ib-sim --writer");
  flags.Int("rt-priority", &rt, "ib-sim --rt-priority");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;

  char dir[] = "/tmp/ib-sim-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  std::string port_file = std::string(dir) + "/port", truth = std::string(dir) + "/truth.ndjson";
  ib::proc::SpawnOptions o;
  o.argv = {ib::proc::FindTool("ib-sim"), "--port", "0", "--port-file", port_file, "--truth", truth,
            "--deterministic", "--ttft-ms", std::to_string(ttft), "--itl-ms", std::to_string(itl),
            "--threads", std::to_string(streams + 64), "--writer", writer, "--rt-priority", std::to_string(rt), "--die-with-parent"};
  o.pipe_stdout = false;
  std::string error;
  auto child = ib::proc::Spawn(o, &error);
  if (!child) { std::fprintf(stderr, "stream_bench: %s\n", error.c_str()); return 1; }
  int port = 0;
  for (int i = 0; i < 500 && port == 0; ++i) {
    std::ifstream in(port_file);
    if (!(in >> port)) { port = 0; std::this_thread::sleep_for(std::chrono::milliseconds(10)); }
  }
  if (port == 0) { std::fprintf(stderr, "stream_bench: ib-sim did not start\n"); return 1; }
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/chat/completions";
  std::string body = R"({"messages":[{"role":"user","content":"benchmark"}],"stream":true,"ignore_eos":true,"max_tokens":)" +
                     std::to_string(tokens) + "}";

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  std::vector<CURL*> easy(static_cast<std::size_t>(streams));
  std::vector<int64_t> bytes(easy.size(), 0);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  const double cpu0 = CpuSeconds(child->pid);
  rusage ru0;
  getrusage(RUSAGE_SELF, &ru0);
  // Ramp the starts over one inter-token interval so writes spread evenly over time.
  const int64_t t0 = Now();
  const int64_t ramp_ns = static_cast<int64_t>(itl * 1e6);
  std::size_t added = 0;
  int running = 0, failed = 0;
  do {
    while (added < easy.size() &&
           Now() - t0 >= ramp_ns * static_cast<int64_t>(added) / static_cast<int64_t>(easy.size())) {
      CURL* e = curl_easy_init();
      curl_easy_setopt(e, CURLOPT_URL, url.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, Discard);
      curl_easy_setopt(e, CURLOPT_WRITEDATA, &bytes[added]);
      curl_easy_setopt(e, CURLOPT_TIMEOUT, 300L);
      curl_multi_add_handle(multi, e);
      easy[added++] = e;
    }
    curl_multi_perform(multi, &running);
    int q;
    while (CURLMsg* m = curl_multi_info_read(multi, &q))
      if (m->msg == CURLMSG_DONE && m->data.result != CURLE_OK) ++failed;
    curl_multi_poll(multi, nullptr, 0, 1, nullptr);
  } while (running > 0 || added < easy.size());
  const int64_t t1 = Now();
  const double cpu1 = CpuSeconds(child->pid);
  rusage ru1;
  getrusage(RUSAGE_SELF, &ru1);
  auto status = ib::proc::Terminate(child->pid, 5000);

  std::vector<double> late_ms, first_ms, cadence_ms;
  int64_t chunks = 0, first_ns = INT64_MAX, last_ns = 0;
  std::ifstream in(truth);
  std::string line;
  int64_t requests = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    ++requests;
    int64_t arrival = j["arrival_ns"];
    int64_t i = 0;
    int64_t t0 = j["token_ns"].empty() ? 0 : j["token_ns"][0].get<int64_t>();
    for (int64_t t : j["token_ns"]) {
      double due = static_cast<double>(arrival) + ttft * 1e6 + static_cast<double>(i) * itl * 1e6;
      late_ms.push_back((static_cast<double>(t) - due) / 1e6);
      if (i == 0) first_ms.push_back(late_ms.back());
      else cadence_ms.push_back((static_cast<double>(t - t0) - static_cast<double>(i) * itl * 1e6) / 1e6);
      ++i;
      first_ns = std::min(first_ns, t);
      last_ns = std::max(last_ns, t);
      ++chunks;
    }
  }
  double within5 = 0;
  for (double l : late_ms) within5 += l <= 5.0;
  double client_cpu = static_cast<double>(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                      static_cast<double>(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  double window_s = static_cast<double>(last_ns - first_ns) / 1e9;
  std::printf("ib-sim stream benchmark (writer=%s, rt-priority %ld, %ld cores, load avg at end: ", writer.c_str(), static_cast<long>(rt), sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream la("/proc/loadavg");
  std::string load;
  std::getline(la, load);
  std::printf("%s)\n", load.c_str());
  std::printf("  streams requested %ld, completed in truth %ld, client errors %d, server %s\n",
              static_cast<long>(streams), static_cast<long>(requests), failed, status.Describe().c_str());
  std::printf("  tokens per stream %ld at ttft %.0f ms, itl %.0f ms; wall %.2f s\n", static_cast<long>(tokens), ttft, itl,
              static_cast<double>(t1 - t0) / 1e9);
  std::printf("  SSE token chunks written %ld, %.0f chunks/s over the %.2f s streaming window\n",
              static_cast<long>(chunks), window_s > 0 ? static_cast<double>(chunks) / window_s : 0.0, window_s);
  std::printf("  lateness vs schedule: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms; within 5 ms: %.2f%%\n",
              Pct(late_ms, 50), Pct(late_ms, 99), Pct(late_ms, 99.9), Pct(late_ms, 100),
              late_ms.empty() ? 0.0 : 100.0 * within5 / static_cast<double>(late_ms.size()));
  std::printf("  first token late (includes the request's wait for a handler thread): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
              Pct(first_ms, 50), Pct(first_ms, 99), Pct(first_ms, 100));
  std::printf("  later tokens vs the stream's own cadence (first token + i * itl): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
              Pct(cadence_ms, 50), Pct(cadence_ms, 99), Pct(cadence_ms, 100));
  std::printf("  ib-sim CPU %.2f s = %.1f us per chunk (%.0f%% of one core); client CPU %.2f s\n",
              cpu1 - cpu0, chunks ? (cpu1 - cpu0) * 1e6 / static_cast<double>(chunks) : 0.0,
              100.0 * (cpu1 - cpu0) / (static_cast<double>(t1 - t0) / 1e9), client_cpu);
  unlink(truth.c_str());
  unlink(port_file.c_str());
  rmdir(dir);
  return 0;
}
