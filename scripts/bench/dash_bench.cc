// Benchmark of ib-dash (scripts/bench/dash-fanout): the real binary, fed on stdin at a fixed
// event rate, with N WebSocket clients (Civetweb's client). Prints the rate achieved, request
// events lost per client, p50/p99/max latency from a line entering stdin to a client receiving
// it, ib-dash's peak memory, and the time to serve /api/results/{id} of a 100k-request run.
//   dash_bench [EVENTS_PER_S [SECONDS [CLIENTS]]]       (default 50000 10 10)
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <civetweb.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "lib/events/stream.h"
#include "lib/http/http.h"
#include "lib/proc/proc.h"

namespace {

using Clock = std::chrono::steady_clock;
const Clock::time_point kT0 = Clock::now();
double NowMs() { return std::chrono::duration<double, std::milli>(Clock::now() - kT0).count(); }

struct ClientStats {
  std::mutex mu;
  int64_t requests = 0;
  int64_t gpu = 0;
  std::vector<double> latencies_ms;
  bool closed = false;
};

int OnData(mg_connection*, int bits, char* data, size_t len, void* user) {
  auto* stats = static_cast<ClientStats*>(user);
  if ((bits & 0x0f) != MG_WEBSOCKET_OPCODE_TEXT) return 1;
  double now = NowMs();
  std::string_view text(data, len);
  std::lock_guard lock(stats->mu);
  if (text.find("\"type\":\"request_complete\"") != std::string_view::npos &&
      text.find("\"run_id\":\"bench-fanout\"") != std::string_view::npos) {
    ++stats->requests;
    auto pos = text.find("\"start_ms\":");
    if (pos != std::string_view::npos) stats->latencies_ms.push_back(now - std::atof(data + pos + 11));
  } else if (text.find("\"type\":\"gpu_sample\"") != std::string_view::npos) {
    ++stats->gpu;
  }
  return 1;
}

void OnClose(const mg_connection*, void* user) {
  auto* stats = static_cast<ClientStats*>(user);
  std::lock_guard lock(stats->mu);
  stats->closed = true;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5))];
}

long PeakRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

std::string RequestLine(const char* run, int64_t index, double start_ms) {
  char buf[640];
  std::snprintf(buf, sizeof buf,
                "{\"v\":2,\"type\":\"request_complete\",\"run_id\":\"%s\",\"data\":{\"request_index\":%lld,"
                "\"start_ms\":%.3f,\"end_ms\":%.3f,\"ttft_ms\":50.5,\"e2e_latency_ms\":900.1,"
                "\"inter_token_latencies_ms\":[10.1,10.2,10.3,10.4,10.5,10.6,10.7,10.8],"
                "\"prompt_tokens\":120,\"completion_tokens\":64,\"token_count_source\":\"usage\","
                "\"http_status\":200}}\n",
                run, static_cast<long long>(index), start_ms, start_ms + 900.1);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  double rate = argc > 1 ? std::atof(argv[1]) : 50000;
  double seconds = argc > 2 ? std::atof(argv[2]) : 10;
  int clients = argc > 3 ? std::atoi(argv[3]) : 10;
  ::signal(SIGPIPE, SIG_IGN);
  mg_init_library(0);

  char dir_tmpl[] = "/tmp/ib-dash-bench-XXXXXX";
  std::string dir = ::mkdtemp(dir_tmpl);
  ::mkdir((dir + "/web").c_str(), 0755);
  ::mkdir((dir + "/results").c_str(), 0755);
  std::ofstream(dir + "/web/index.html") << "<meta name=\"ib-token\" content=\"__IB_TOKEN__\">";

  std::string ib_dash = ib::proc::FindTool("ib-dash");
  if (ib_dash.empty()) {
    std::fprintf(stderr, "dash_bench: ib-dash not found (bazel build //tools/ib-dash)\n");
    return 2;
  }
  int err_pipe[2];
  if (::pipe(err_pipe) != 0) return 2;
  ib::proc::SpawnOptions spawn;
  spawn.argv = {ib_dash, "--port", "0", "--no-browser", "--results-dir", dir + "/results",
                "--web-dir", dir + "/web", "--experiments-dir", dir};
  spawn.pipe_stdin = true;
  spawn.pipe_stdout = false;
  spawn.stderr_fd = err_pipe[1];
  std::string error;
  auto child = ib::proc::Spawn(spawn, &error);
  ::close(err_pipe[1]);
  if (!child) {
    std::fprintf(stderr, "dash_bench: %s\n", error.c_str());
    return 2;
  }
  ib::events::LineReader err_lines(err_pipe[0]);
  int port = 0;
  while (auto l = err_lines.Next()) {
    std::smatch m;
    if (std::regex_search(l->text, m, std::regex("127\\.0\\.0\\.1:(\\d+)/"))) {
      port = std::stoi(m[1]);
      break;
    }
  }
  std::thread([&err_lines] { while (err_lines.Next()) {} }).detach();
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto page = ib::http::Get(base + "/");
  std::smatch m;
  std::regex_search(page.body, m, std::regex("content=\"([0-9a-f]+)\""));
  std::string token = m[1];

  std::vector<std::unique_ptr<ClientStats>> stats;
  std::vector<mg_connection*> conns;
  std::string path = "/ws?token=" + token, origin = base;
  for (int i = 0; i < clients; ++i) {
    stats.push_back(std::make_unique<ClientStats>());
    char err[256] = "";
    mg_connection* c = mg_connect_websocket_client("127.0.0.1", port, 0, err, sizeof err, path.c_str(),
                                                   origin.c_str(), OnData, OnClose, stats.back().get());
    if (c == nullptr) {
      std::fprintf(stderr, "dash_bench: client %d: %s\n", i, err);
      return 1;
    }
    conns.push_back(c);
  }

  // Fan-out: `rate` events/s for `seconds`, one gpu_sample (10 Hz of run time) per 10 events.
  ib::events::EventWriter writer(child->stdin_fd);
  int64_t sent_requests = 0, sent_total = 0;
  double start = NowMs(), end = start + seconds * 1000;
  std::string batch;
  while (NowMs() < end) {
    double now = NowMs();
    int64_t due = static_cast<int64_t>((now - start) / 1000.0 * rate);
    batch.clear();
    for (; sent_total < due; ++sent_total) {
      if (sent_total % 10 == 9) {
        char buf[200];
        std::snprintf(buf, sizeof buf,
                      "{\"v\":2,\"type\":\"gpu_sample\",\"run_id\":\"bench-fanout\",\"data\":{\"t_s\":%.2f,"
                      "\"kv_cache_usage_frac\":0.42,\"running_requests\":12,\"waiting_requests\":0}}\n",
                      sent_total / 100.0);
        batch += buf;
      } else {
        batch += RequestLine("bench-fanout", sent_requests++, NowMs());
      }
    }
    if (!batch.empty() && !ib::events::WriteAll(child->stdin_fd, batch)) break;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  double elapsed_s = (NowMs() - start) / 1000.0;
  // The run ends and "ib-aggregate" announces its file, so ib-dash does not save 400k requests.
  ib::events::WriteAll(child->stdin_fd,
                       "{\"v\":2,\"type\":\"phase\",\"run_id\":\"bench-fanout\",\"phase\":\"done\",\"data\":{}}\n"
                       "{\"v\":2,\"type\":\"summary\",\"run_id\":\"bench-fanout\",\"data\":{}}\n");
  double wait_until = NowMs() + 30000;
  auto all_in = [&] {
    for (auto& s : stats) {
      std::lock_guard lock(s->mu);
      if (s->requests < sent_requests && !s->closed) return false;
    }
    return true;
  };
  while (!all_in() && NowMs() < wait_until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto server_stats = ib::http::Get(base + "/api/stats");

  std::printf("ib-dash fan-out: %.0f events/s asked, %.0f events/s written for %.1f s (%lld request events), %d clients\n",
              rate, sent_total / elapsed_s, elapsed_s, static_cast<long long>(sent_requests), clients);
  std::vector<double> all;
  int64_t lost = 0;
  for (size_t i = 0; i < stats.size(); ++i) {
    std::lock_guard lock(stats[i]->mu);
    lost += sent_requests - stats[i]->requests;
    all.insert(all.end(), stats[i]->latencies_ms.begin(), stats[i]->latencies_ms.end());
    if (i == 0) std::printf("  client 0: %lld requests, %lld gpu samples (downsampled)\n",
                            static_cast<long long>(stats[i]->requests), static_cast<long long>(stats[i]->gpu));
  }
  std::printf("  request events lost: %lld (over all clients)\n", static_cast<long long>(lost));
  std::printf("  line-in -> client latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu samples)\n",
              Percentile(all, 50), Percentile(all, 99), Percentile(all, 100), all.size());
  std::printf("  ib-dash peak RSS: %.1f MB\n", PeakRssKb(child->pid) / 1024.0);
  std::printf("  /api/stats: %s\n", server_stats.body.substr(0, 400).c_str());
  for (auto* c : conns) mg_close_connection(c);

  // A 100k-request run without a results file: ib-dash saves it at EOF, then serves it.
  std::string big;
  big += "{\"v\":2,\"type\":\"phase\",\"run_id\":\"bench-big\",\"phase\":\"execution\",\"data\":{\"total_requests\":100000}}\n";
  for (int64_t i = 0; i < 100000; ++i) big += RequestLine("bench-big", i, static_cast<double>(i));
  big += "{\"v\":2,\"type\":\"phase\",\"run_id\":\"bench-big\",\"phase\":\"done\",\"data\":{}}\n";
  ib::events::WriteAll(child->stdin_fd, big);
  ::close(child->stdin_fd);
  std::string file = dir + "/results/bench-big.json";
  struct stat st{};
  double deadline = NowMs() + 60000;
  while (::stat(file.c_str(), &st) != 0 && NowMs() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::stat(file.c_str(), &st);
  for (bool gzip : {false, true}) {
    ib::http::Request req;
    req.url = base + "/api/results/bench-big";
    req.timeout_ms = 30000;
    if (gzip) req.headers.push_back({"Accept-Encoding", "gzip"});
    auto r = ib::http::Send(req);
    std::printf("  GET /api/results/bench-big (100k requests, file %.1f MB)%s: HTTP %ld, %.1f MB in %.0f ms\n",
                st.st_size / 1e6, gzip ? " gzip" : "", r.status, r.body.size() / 1e6, r.elapsed_ms);
  }
  ::kill(child->pid, SIGTERM);
  ib::proc::Wait(child->pid);
  std::error_code ec;
  std::remove(file.c_str());
  return 0;
}
