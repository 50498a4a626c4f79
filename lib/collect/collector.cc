#include "lib/collect/collector.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "lib/events/events.h"
#include "lib/events/stream.h"

namespace ib::collect {

using nlohmann::json;

namespace {

int64_t Now(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
int64_t Mono() { return Now(CLOCK_MONOTONIC); }

// Reads one line (without '\n') from a blocking-mode socket within deadline (CLOCK_MONOTONIC
// ns). Bytes after the newline stay in *rest. False on EOF, error or timeout.
bool ReadLine(int fd, int64_t deadline, std::string* rest, std::string* line) {
  while (true) {
    auto nl = rest->find('\n');
    if (nl != std::string::npos) {
      *line = rest->substr(0, nl);
      rest->erase(0, nl + 1);
      return true;
    }
    if (rest->size() > 4096) return false;  // a handshake line is short
    int64_t left_ms = (deadline - Mono()) / 1'000'000;
    if (left_ms <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[1024];
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    rest->append(buf, static_cast<std::size_t>(got));
  }
}

bool SendLine(int fd, const json& j) { return events::WriteAll(fd, j.dump() + "\n"); }

bool SameToken(const std::string& a, const std::string& b) {
  // Constant time in the length of the expected token: no early exit that a timing could reveal.
  unsigned diff = a.size() != b.size();
  for (std::size_t i = 0; i < b.size(); ++i) diff |= static_cast<unsigned>(b[i] ^ (i < a.size() ? a[i] : 0));
  return diff == 0;
}

// The type of an event line: the value of its last top-level "type" key. Events are written
// with sorted keys, so "type" follows "data"; a quote inside a string value is escaped, so the
// exact bytes "type":" occur only as keys (a nested "type", as in experiment.workload, comes
// earlier in the line).
std::string_view LineType(std::string_view line) {
  static constexpr std::string_view kKey = "\"type\":\"";
  auto at = line.rfind(kKey);
  if (at == std::string_view::npos) return {};
  auto begin = at + kKey.size();
  auto end = line.find('"', begin);
  return end == std::string_view::npos ? std::string_view{} : line.substr(begin, end - begin);
}

// A worker busy this share of the measured time or more was saturated (docs/ib-load.md).
constexpr double kBottleneckCpuShare = 0.9;

// A shard's own figures as one entry of the merged client.shards[] (keys it did not know kept).
events::ProcessFigures OwnFigures(const events::ClientFigures& c) {
  events::ProcessFigures p;
  std::string error;
  events::FromJson(events::ToJson(c), &p, &error);
  return p;
}

template <typename T>
void Sum(std::optional<T>& into, const std::optional<T>& v) {
  if (v) into = into.value_or(T{}) + *v;
}
void Max(std::optional<double>& into, const std::optional<double>& v) {
  if (v) into = std::max(into.value_or(0.0), *v);
}

}  // namespace

struct Collector::Conn {
  int fd = -1;
  int k = -1;
  std::string buf;
  std::string peer;
  bool done_seen = false;
};

std::vector<int> Result::lost() const {
  std::vector<int> out;
  for (const auto& s : shards)
    if (s.lost) out.push_back(s.k);
  return out;
}

Collector::Collector(Options options) : o_(std::move(options)) {
  r_.shards.resize(static_cast<std::size_t>(std::max(o_.shards, 1)));
  for (std::size_t k = 0; k < r_.shards.size(); ++k) r_.shards[k].k = static_cast<int>(k);
}

Collector::~Collector() {
  for (Conn* c : conns_) {
    if (c->fd >= 0) close(c->fd);
    delete c;
  }
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::string Collector::address() const { return o_.host + ":" + std::to_string(port_); }

bool Collector::Listen(std::string* error) {
  if (o_.token.size() < 16) {
    *error = "the collector needs a token of at least 16 characters";
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(o_.port);
  if (int rc = getaddrinfo(o_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *error = "cannot resolve collector address " + o_.host + ": " + gai_strerror(rc);
    return false;
  }
  std::string last = "no address";
  for (addrinfo* a = found; a && listen_fd_ < 0; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 256) == 0) {
      listen_fd_ = fd;
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    } else {
      last = std::strerror(errno);
      close(fd);
    }
  }
  freeaddrinfo(found);
  if (listen_fd_ < 0) {
    *error = "cannot listen on " + o_.host + ":" + port + ": " + last;
    return false;
  }
  return true;
}

void Collector::WriteLine(const std::string& line) {
  if (r_.output_closed) return;
  if (!events::WriteAll(o_.out_fd, line + "\n")) r_.output_closed = true;
}

void Collector::Warn(const std::string& message) {
  std::fprintf(stderr, "ib-load: collector: %s\n", message.c_str());
  WriteLine(events::Serialize(events::Event(events::MakeLog(r_.run_id, "warning", "collector: " + message, o_.source))));
}

void Collector::DeclareLost(int k, const std::string& reason, bool even_if_connected) {
  if (k < 0 || k >= static_cast<int>(r_.shards.size())) return;
  ShardState& s = r_.shards[static_cast<std::size_t>(k)];
  if (s.finished || s.lost || (s.connected && !even_if_connected)) return;
  s.lost = true;
  s.lost_reason = reason;
  Warn("shard " + std::to_string(k) + " lost: " + reason);
}

bool Collector::Handshake(int fd, const std::string& peer) {
  const int64_t deadline = Mono() + static_cast<int64_t>(o_.handshake_timeout_s * 1e9);
  std::string rest, line;
  auto refuse = [&](const std::string& why) {
    ++r_.refused;
    SendLine(fd, {{"error", why}});
    close(fd);
    Warn("refused a connection from " + peer + ": " + why);
    return false;
  };
  if (!ReadLine(fd, deadline, &rest, &line)) return refuse("no hello within " + std::to_string(static_cast<int>(o_.handshake_timeout_s)) + " s");
  json hello = json::parse(line, nullptr, false);
  if (!hello.is_object() || hello.value("hello", "") != "ib-load") return refuse("not an ib-load shard hello");
  if (!hello.contains("token") || !hello["token"].is_string() || !SameToken(hello["token"].get<std::string>(), o_.token))
    return refuse("missing or wrong token");
  int k = hello.value("shard", -1), n = hello.value("of", -1);
  if (n != o_.shards || k < 0 || k >= n)
    return refuse("shard " + std::to_string(k) + "/" + std::to_string(n) + " does not fit this run of " +
                  std::to_string(o_.shards) + " shards");
  ShardState& s = r_.shards[static_cast<std::size_t>(k)];
  if (s.connected || s.finished || s.lost) return refuse("shard " + std::to_string(k) + " is already " + (s.lost ? "lost" : "connected"));
  // Clock offset by round trip (the best of 5).
  double best_rtt = -1, best_offset = 0;
  for (int i = 0; i < 5; ++i) {
    int64_t t1 = Now(CLOCK_REALTIME);
    if (!SendLine(fd, {{"ping", i}}) || !ReadLine(fd, deadline, &rest, &line)) return refuse("no answer to the clock ping");
    int64_t t2 = Now(CLOCK_REALTIME);
    json pong = json::parse(line, nullptr, false);
    if (!pong.is_object() || pong.value("pong", -1) != i || !pong.contains("realtime_ns") || !pong["realtime_ns"].is_number_integer())
      return refuse("bad answer to the clock ping");
    double rtt = static_cast<double>(t2 - t1) / 1e6;
    double offset = static_cast<double>(pong["realtime_ns"].get<int64_t>() - (t1 + (t2 - t1) / 2)) / 1e6;
    if (best_rtt < 0 || rtt < best_rtt) best_rtt = rtt, best_offset = offset;
  }
  if (!SendLine(fd, {{"ok", true}})) return refuse("the shard went away during the handshake");
  s.connected = true;
  s.peer = peer;
  s.clock_offset_ms = best_offset;
  s.round_trip_ms = best_rtt;
  Conn* c = new Conn;
  c->fd = fd;
  c->k = k;
  c->peer = peer;
  c->buf = std::move(rest);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  conns_.push_back(c);
  // Lines that arrived with the last handshake line.
  std::size_t nl;
  while ((nl = c->buf.find('\n')) != std::string::npos) {
    std::string l = c->buf.substr(0, nl);
    c->buf.erase(0, nl + 1);
    HandleLine(*c, l);
  }
  return true;
}

void Collector::Accept() {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  if (fd < 0) return;
  char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
  getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Handshake(fd, std::string(host) + ":" + serv);
}

void Collector::HandleLine(Conn& c, std::string_view line) {
  if (line.empty()) return;
  ShardState& s = r_.shards[static_cast<std::size_t>(c.k)];
  ++s.lines;
  std::string_view type = LineType(line);
  if (type != "phase") {  // request_complete, log, error, ...: forwarded as the whole line
    WriteLine(std::string(line));
    return;
  }
  auto parsed = events::ParseEvent(line);
  const auto* phase = parsed.event ? std::get_if<events::Phase>(&*parsed.event) : nullptr;
  if (!phase) {
    WriteLine(std::string(line));
    return;
  }
  if (r_.run_id.empty()) r_.run_id = phase->run_id;
  if (phase->phase == events::phase::kExecution) {
    if (execution_sent_) return;  // every shard sends the same; one is forwarded
    execution_sent_ = true;
    events::Execution e = events::ExecutionOf(*phase);
    e.shard.reset();
    e.shards = o_.shards;
    WriteLine(events::Serialize(events::Phase{phase->run_id, events::phase::kExecution, events::ToJson(e)}));
  } else if (phase->phase == events::phase::kIterationDone) {
    c.done_seen = true;
    s.done = events::IterationDoneOf(*phase);
  } else {
    WriteLine(std::string(line));
  }
}

void Collector::Close(Conn& c, bool eof) {
  ShardState& s = r_.shards[static_cast<std::size_t>(c.k)];
  if (!c.buf.empty()) {  // a last line without its newline is still a whole line at EOF
    std::string l;
    l.swap(c.buf);
    if (eof) HandleLine(c, l);
  }
  close(c.fd);
  c.fd = -1;
  if (c.done_seen) {
    s.finished = true;
  } else {
    s.connected = false;
    DeclareLost(c.k, "connection from " + c.peer + " closed without iteration_done");
  }
}

void Collector::ReadFrom(Conn& c) {
  char buf[65536];
  while (c.fd >= 0) {
    ssize_t got = read(c.fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (got <= 0) {
      Close(c, got == 0);
      return;
    }
    c.buf.append(buf, static_cast<std::size_t>(got));
    std::size_t start = 0, nl;
    while ((nl = c.buf.find('\n', start)) != std::string::npos) {
      HandleLine(c, std::string_view(c.buf).substr(start, nl - start));
      start = nl + 1;
    }
    c.buf.erase(0, start);
  }
}

void Collector::Finish() {
  events::RequestCounts requests{.sent = 0, .succeeded = 0, .failed = 0};
  events::ClientFigures client;
  std::vector<events::ShardFigures> per_shard;
  bool all_completed = true;
  std::string other_reason;
  double elapsed = 0, worst_offset = 0;
  int iteration = 0, total = 0;
  for (const ShardState& s : r_.shards) {
    events::ShardFigures one;
    one.shard = s.k;
    one.clock_offset_ms = s.clock_offset_ms;
    one.round_trip_ms = s.round_trip_ms;
    worst_offset = std::max(worst_offset, std::abs(s.clock_offset_ms));
    if (s.lost) {
      all_completed = false;
      one.lost = s.lost_reason;
    }
    if (s.done) {
      const events::IterationDone& d = *s.done;
      const bool completed = d.completed && std::holds_alternative<bool>(*d.completed) && std::get<bool>(*d.completed);
      if (!completed) {
        all_completed = false;
        if (other_reason.empty()) other_reason = "shard " + std::to_string(s.k) + ": " + d.reason.value_or("not completed");
      }
      elapsed = std::max(elapsed, d.elapsed_s.value_or(0));
      iteration = std::max(iteration, d.iteration.value_or(0));
      total = std::max(total, d.total.value_or(0));
      if (d.requests) {
        Sum(requests.sent, d.requests->sent);
        Sum(requests.succeeded, d.requests->succeeded);
        Sum(requests.failed, d.requests->failed);
      }
      if (d.client) {
        const events::ClientFigures& c = *d.client;
        Sum(client.cpu_s, c.cpu_s);
        Sum(client.sse_events, c.sse_events);
        Sum(client.bytes, c.bytes);
        Sum(client.loop_passes, c.loop_passes);
        Sum(client.loop_stalls, c.loop_stalls);
        Max(client.max_rss_mb, c.max_rss_mb);
        Max(client.max_loop_pass_ms, c.max_loop_pass_ms);
        one.client = OwnFigures(c);
        double e = d.elapsed_s.value_or(0);
        // CPU share of its core: the figure that says whether this worker kept up.
        if (e > 0 && c.cpu_s) one.cpu_share = *c.cpu_s / e;
      }
    }
    per_shard.push_back(std::move(one));
  }
  if (client.cpu_s && client.sse_events && *client.sse_events > 0)
    client.cpu_us_per_sse_event = *client.cpu_s * 1e6 / static_cast<double>(*client.sse_events);
  // The client self-check: a worker whose event loop used most of its core could not keep up,
  // and its requests' timings carry its own delays.
  std::vector<int> bottleneck;
  for (const events::ShardFigures& one : per_shard)
    if (one.cpu_share && *one.cpu_share >= kBottleneckCpuShare) bottleneck.push_back(one.shard.value_or(0));
  for (int k : bottleneck)
    Warn("worker " + std::to_string(k) + " was the bottleneck: its event loop used " +
         std::to_string(static_cast<int>(per_shard[static_cast<std::size_t>(k)].cpu_share.value_or(0) * 100)) +
         "% of a core; add workers (client.shards has each one's figures)");
  client.bottleneck_shards = bottleneck;
  client.shards = std::move(per_shard);
  std::vector<int> lost = r_.lost();
  std::string reason = "finished";
  if (!lost.empty()) {
    reason = "shard";
    reason += lost.size() > 1 ? "s " : " ";
    for (std::size_t i = 0; i < lost.size(); ++i) reason += (i ? ", " : "") + std::to_string(lost[i]);
    reason += " lost (" + r_.shards[static_cast<std::size_t>(lost[0])].lost_reason + ")";
  } else if (!other_reason.empty()) {
    reason = other_reason;
  }
  events::IterationDone data;
  data.completed = all_completed;
  data.reason = reason;
  data.elapsed_s = elapsed;
  data.requests = requests;
  data.client = std::move(client);
  data.shards = o_.shards;
  data.lost_shards = lost;
  data.clock_offset_max_ms = worst_offset;
  if (iteration > 0) data.iteration = iteration;
  if (total > 0) data.total = total;
  r_.merged_done = data;
  if (r_.run_id.empty()) return;  // no shard said anything: there is no run to end
  WriteLine(events::Serialize(events::Phase{r_.run_id, events::phase::kIterationDone, events::ToJson(data)}));
}

Result Collector::Run(const Tick& tick) {
  const int64_t connect_deadline = Mono() + static_cast<int64_t>(o_.connect_timeout_s * 1e9);
  auto settled = [&] {
    for (const ShardState& s : r_.shards)
      if (!s.finished && !s.lost) return false;
    return true;
  };
  while (!settled() && !r_.output_closed) {
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    for (Conn* c : conns_) fds.push_back({c->fd, POLLIN, 0});
    int n = poll(fds.data(), fds.size(), 100);
    if (n < 0 && errno != EINTR) break;
    if (n > 0) {
      if (fds[0].revents & POLLIN) Accept();
      for (std::size_t i = 1; i < fds.size(); ++i)
        if (fds[i].revents) ReadFrom(*conns_[i - 1]);
      conns_.erase(std::remove_if(conns_.begin(), conns_.end(),
                                  [](Conn* c) {
                                    if (c->fd >= 0) return false;
                                    delete c;
                                    return true;
                                  }),
                   conns_.end());
    }
    if (tick) tick(*this);
    if (Mono() > connect_deadline)
      for (const ShardState& s : r_.shards)
        if (!s.connected && !s.finished) DeclareLost(s.k, "never connected within " + std::to_string(static_cast<int>(o_.connect_timeout_s)) + " s");
  }
  Finish();
  return r_;
}

std::string NewToken() {
  unsigned char raw[16] = {};
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t got = read(fd, raw, sizeof raw);
    (void)got;
    close(fd);
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool SplitAddress(const std::string& address, std::string* host, int* port, std::string* error) {
  auto colon = address.rfind(':');
  std::string h = colon == std::string::npos ? "" : address.substr(0, colon);
  std::string p = colon == std::string::npos ? "" : address.substr(colon + 1);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty() || p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(p) > 65535) {
    *error = "an address is HOST:PORT, e.g. 127.0.0.1:7000 (got '" + address + "')";
    return false;
  }
  *host = h;
  *port = std::stoi(p);
  return true;
}

}  // namespace ib::collect
