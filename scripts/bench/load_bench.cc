// Benchmark of ib-load's measurement overhead against ib-sim's deterministic mode and truth file
// (scripts/bench/load.sh runs it at 1, 100, 500 and 1000 streams). Prints figures; asserts nothing.
//   load_bench --ib-load PATH --ib-sim PATH --streams N [--ttft-ms 50] [--itl-ms 10] [--tokens 100]
// For each run: a fresh ib-sim, ib-load with N concurrent streams (one request each), then a
// fresh ib-sim and a bare libcurl sink (same epoll + multi-socket loop, bytes discarded) reading
// the same N streams, for CPU per SSE chunk. Pairing of requests with truth records: by first
// token, each request takes the unused truth record whose first write is the latest one at or
// before the request's first arrival (all streams have the same shape in deterministic mode).
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/cli/flags.h"
#include "lib/load/stream_client.h"
#include "lib/proc/proc.h"

namespace {

using ib::load::NowNs;

struct Child {
  pid_t pid = -1;
  rusage usage{};
  int status = 0;
};

pid_t Start(const std::vector<std::string>& argv, int stdout_fd) {
  std::string error;
  auto c = ib::proc::Spawn({.argv = argv, .pipe_stdout = false, .stdout_fd = stdout_fd}, &error);
  if (!c) {
    std::fprintf(stderr, "load_bench: %s\n", error.c_str());
    std::exit(1);
  }
  return c->pid;
}

Child Reap(pid_t pid) {
  Child c;
  c.pid = pid;
  while (wait4(pid, &c.status, 0, &c.usage) < 0 && errno == EINTR) {
  }
  return c;
}

double CpuS(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Sim {
  pid_t pid = -1;
  std::string url;
};

Sim StartSim(const std::string& bin, double ttft, double itl, const std::string& truth, const std::string& dir) {
  std::string port_file = dir + "/port";
  unlink(port_file.c_str());
  Sim s;
  s.pid = Start({bin, "--deterministic", "--ttft-ms", std::to_string(ttft), "--itl-ms", std::to_string(itl),
                 "--truth", truth, "--port", "0", "--port-file", port_file, "--threads", "1200",
                 "--die-with-parent"},
                -1);
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      s.url = "http://127.0.0.1:" + std::to_string(port);
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "load_bench: ib-sim did not start\n");
  std::exit(1);
}

void StopSim(const Sim& s) {
  kill(s.pid, SIGTERM);
  Reap(s.pid);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  double idx = p / 100 * static_cast<double>(v.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(idx));
  std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}

double Sigma(const std::vector<double>& v) {
  double mean = 0, sq = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) sq += (x - mean) * (x - mean);
  return std::sqrt(sq / static_cast<double>(v.size()));
}

// The bare sink: the same loop shape as StreamClient (epoll over libcurl multi-socket), with a
// write callback that only counts bytes. Runs in a child so its rusage is its own.
struct Sink {
  CURLM* multi;
  int epfd;
  int64_t deadline = -1;
  static size_t Write(char*, size_t s, size_t n, void* user) {
    *static_cast<int64_t*>(user) += static_cast<int64_t>(s * n);
    return s * n;
  }
  static int Socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
    auto* self = static_cast<Sink*>(userp);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    ev.data.fd = fd;
    if (socketp) {
      epoll_ctl(self->epfd, EPOLL_CTL_MOD, fd, &ev);
    } else {
      epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &ev);
      curl_multi_assign(self->multi, fd, self);
    }
    return 0;
  }
  static int Timer(CURLM*, long ms, void* userp) {
    static_cast<Sink*>(userp)->deadline = ms < 0 ? -1 : NowNs() + int64_t{ms} * 1'000'000;
    return 0;
  }
};

int RunSink(const std::string& url, int64_t streams, const std::string& body) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  Sink s;
  s.multi = curl_multi_init();
  s.epfd = epoll_create1(0);
  curl_multi_setopt(s.multi, CURLMOPT_SOCKETFUNCTION, &Sink::Socket);
  curl_multi_setopt(s.multi, CURLMOPT_SOCKETDATA, &s);
  curl_multi_setopt(s.multi, CURLMOPT_TIMERFUNCTION, &Sink::Timer);
  curl_multi_setopt(s.multi, CURLMOPT_TIMERDATA, &s);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  int64_t bytes = 0;
  for (int64_t i = 0; i < streams; ++i) {
    CURL* e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Sink::Write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &bytes);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(s.multi, e);
  }
  int running = 1;
  curl_multi_socket_action(s.multi, CURL_SOCKET_TIMEOUT, 0, &running);
  epoll_event evs[256];
  while (running > 0) {
    int timeout = s.deadline < 0 ? 1000 : static_cast<int>(std::max<int64_t>(0, (s.deadline - NowNs()) / 1'000'000));
    int n = epoll_wait(s.epfd, evs, 256, timeout);
    for (int i = 0; i < n; ++i) {
      int mask = ((evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0);
      curl_multi_socket_action(s.multi, evs[i].data.fd, mask, &running);
    }
    if (s.deadline >= 0 && NowNs() >= s.deadline) {
      s.deadline = -1;
      curl_multi_socket_action(s.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    int left;
    while (CURLMsg* m = curl_multi_info_read(s.multi, &left)) {
      if (m->msg == CURLMSG_DONE) curl_multi_remove_handle(s.multi, m->easy_handle);
    }
  }
  std::printf("%lld\n", static_cast<long long>(bytes));
  return 0;
}

struct Truth {
  int64_t arrival = 0;
  std::vector<int64_t> tokens;
};

std::vector<Truth> ReadTruth(const std::string& path) {
  std::vector<Truth> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("status", 0) != 200) continue;
    out.push_back({j["arrival_ns"].get<int64_t>(), j["token_ns"].get<std::vector<int64_t>>()});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string load_bin, sim_bin, sink_url, dir = "/tmp";
  int64_t streams = 1, tokens = 100;
  double ttft = 50, itl = 10;
  ib::cli::Flags flags("load_bench", "ib-load overhead against ib-sim's truth (prints figures)");
  flags.String("ib-load", &load_bin, "ib-load binary", false);
  flags.String("ib-sim", &sim_bin, "ib-sim binary", false);
  flags.Int("streams", &streams, "concurrent streams");
  flags.Int("tokens", &tokens, "tokens per stream");
  flags.Double("ttft-ms", &ttft, "ib-sim deterministic TTFT");
  flags.Double("itl-ms", &itl, "ib-sim deterministic inter-token interval");
  flags.String("dir", &dir, "scratch directory");
  flags.String("sink", &sink_url, "internal: run the bare libcurl sink against this URL");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  std::string body = R"({"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"hello there"}],"max_tokens":)" +
                     std::to_string(tokens) + R"(,"stream":true,"ignore_eos":true,"stream_options":{"include_usage":true}})";
  if (!sink_url.empty()) return RunSink(sink_url, streams, body);
  if (load_bin.empty()) load_bin = ib::proc::FindTool("ib-load");
  if (sim_bin.empty()) sim_bin = ib::proc::FindTool("ib-sim");

  // 1. ib-load.
  std::string truth_path = dir + "/load_bench_truth.ndjson", events_path = dir + "/load_bench_events.ndjson";
  unlink(truth_path.c_str());
  Sim sim = StartSim(sim_bin, ttft, itl, truth_path, dir);
  int out = open(events_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int64_t t0 = NowNs();
  Child load = Reap(Start({load_bin, "--server-url", sim.url, "--model", "Qwen/Qwen3-0.6B", "--workload", "concurrent",
                           "--concurrency", std::to_string(streams), "--count", std::to_string(streams),
                           "--max-tokens", std::to_string(tokens), "--ignore-eos", "--input-tokens", "2",
                           "--t0-ns", std::to_string(t0), "--idle-timeout-s", "60"},
                          out));
  close(out);
  StopSim(sim);

  // 2. The bare sink on a fresh ib-sim.
  std::string sink_truth = dir + "/load_bench_sink_truth.ndjson";
  Sim sim2 = StartSim(sim_bin, ttft, itl, sink_truth, dir);
  int devnull = open("/dev/null", O_WRONLY);
  std::string self = ib::proc::SelfDir() + "/load_bench";
  Child sink = Reap(Start({self, "--sink", sim2.url + "/v1/chat/completions", "--streams", std::to_string(streams),
                           "--tokens", std::to_string(tokens)},
                          devnull));
  close(devnull);
  StopSim(sim2);

  // 3. Analysis.
  std::vector<Truth> truth = ReadTruth(truth_path);
  std::ifstream ev(events_path);
  std::string line;
  std::vector<double> ttft_err, inflation, gap_err;
  int64_t ok = 0, failed = 0, degraded = 0, sse_events = 0;
  std::vector<bool> used(truth.size(), false);
  std::sort(truth.begin(), truth.end(), [](auto& a, auto& b) { return a.tokens.front() < b.tokens.front(); });
  struct Req {
    double start_ns;
    std::vector<double> arrivals;  // per token
    double ttft_ms;
  };
  std::vector<Req> reqs;
  while (std::getline(ev, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    if (j["type"] == "phase" && j["phase"] == "iteration_done") sse_events = j["data"]["client"]["sse_events"];
    if (j["type"] != "request_complete") continue;
    auto& d = j["data"];
    if (!d["error"].is_null()) {
      ++failed;
      continue;
    }
    ++ok;
    degraded += d["client_degraded"].get<bool>();
    Req r;
    r.start_ns = static_cast<double>(t0) + d["start_ms"].get<double>() * 1e6;
    r.ttft_ms = d["ttft_ms"];
    double t = r.start_ns + r.ttft_ms * 1e6;
    std::vector<double> choice = {t};
    for (double g : d["inter_token_latencies_ms"]) choice.push_back(choice.back() + g * 1e6);
    // vLLM shape: the role chunk is written with token 0; the finish rides on the last token.
    r.arrivals.assign(choice.begin() + 1, choice.end());
    reqs.push_back(std::move(r));
  }
  std::sort(reqs.begin(), reqs.end(), [](auto& a, auto& b) { return a.arrivals.front() < b.arrivals.front(); });
  for (const Req& r : reqs) {
    // The latest unused first write at or before this first arrival.
    auto it = std::upper_bound(truth.begin(), truth.end(), r.arrivals.front(),
                               [](double a, const Truth& t) { return a < static_cast<double>(t.tokens.front()); });
    std::ptrdiff_t i = (it - truth.begin()) - 1;
    while (i >= 0 && used[static_cast<std::size_t>(i)]) --i;
    if (i < 0) continue;
    used[static_cast<std::size_t>(i)] = true;
    const Truth& t = truth[static_cast<std::size_t>(i)];
    ttft_err.push_back(r.ttft_ms - static_cast<double>(t.tokens.front() - t.arrival) / 1e6);
    std::size_t n = std::min(r.arrivals.size(), t.tokens.size());
    for (std::size_t k = 0; k < n; ++k) {
      inflation.push_back((r.arrivals[k] - static_cast<double>(t.tokens[k])) / 1e6);
      if (k > 0)
        gap_err.push_back((r.arrivals[k] - r.arrivals[k - 1]) / 1e6 -
                          static_cast<double>(t.tokens[k] - t.tokens[k - 1]) / 1e6);
    }
  }
  double load_cpu = CpuS(load.usage), sink_cpu = CpuS(sink.usage);
  double chunks = static_cast<double>(sse_events);
  std::printf(
      "streams=%lld itl_ms=%g ok=%lld failed=%lld paired=%zu degraded=%lld | TTFT error ms p50=%.3f p99=%.3f | "
      "inflation ms p50=%.3f p99=%.3f | gap error sigma ms=%.3f | CPU us/chunk ib-load=%.2f sink=%.2f ratio=%.2f | "
      "RSS MB ib-load=%.1f sink=%.1f\n",
      static_cast<long long>(streams), itl, static_cast<long long>(ok), static_cast<long long>(failed), ttft_err.size(),
      static_cast<long long>(degraded), Percentile(ttft_err, 50), Percentile(ttft_err, 99), Percentile(inflation, 50),
      Percentile(inflation, 99), gap_err.empty() ? NAN : Sigma(gap_err), load_cpu * 1e6 / chunks,
      sink_cpu * 1e6 / chunks, load_cpu / sink_cpu, static_cast<double>(load.usage.ru_maxrss) / 1024,
      static_cast<double>(sink.usage.ru_maxrss) / 1024);
  return 0;
}
