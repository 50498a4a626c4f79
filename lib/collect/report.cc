#include "lib/collect/report.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "lib/collect/collector.h"
#include "lib/events/stream.h"

namespace ib::collect {
namespace {

int64_t Now(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int TryConnect(const std::string& host, int port, std::string* why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    *why = std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
    return -2;  // not worth retrying
  }
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      *why = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

}  // namespace

int ConnectToCollector(const std::string& address, const std::string& token, int64_t k, int64_t n, double timeout_s,
                       std::string* error) {
  std::string host;
  int port = 0;
  if (!SplitAddress(address, &host, &port, error)) {
    *error = "--report-to: " + *error;
    return -1;
  }
  const int64_t deadline = Now(CLOCK_MONOTONIC) + static_cast<int64_t>(timeout_s * 1e9);
  std::string why;
  int fd = -1;
  while (true) {
    fd = TryConnect(host, port, &why);
    if (fd >= 0 || fd == -2 || Now(CLOCK_MONOTONIC) >= deadline) break;
    timespec ts{0, 200'000'000};
    nanosleep(&ts, nullptr);
  }
  if (fd < 0) {
    *error = "cannot reach the collector at " + address + ": " + why;
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto fail = [&](const std::string& message) {
    close(fd);
    *error = "the collector at " + address + " " + message;
    return -1;
  };
  nlohmann::json hello = {{"hello", "ib-load"}, {"token", token}, {"shard", k}, {"of", n}};
  if (!events::WriteAll(fd, hello.dump() + "\n")) return fail("closed the connection");
  std::string buf;
  while (true) {
    auto nl = buf.find('\n');
    if (nl == std::string::npos) {
      int64_t left_ms = (deadline - Now(CLOCK_MONOTONIC)) / 1'000'000;
      pollfd p{fd, POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(std::max<int64_t>(left_ms, 1000)));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) return fail("did not answer the handshake");
      char chunk[512];
      ssize_t got = read(fd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return fail("closed the connection during the handshake");
      buf.append(chunk, static_cast<std::size_t>(got));
      continue;
    }
    // Read the clock as soon as the ping's line is complete: the offset's error is the delay
    // between here and the collector's receive.
    int64_t realtime = Now(CLOCK_REALTIME);
    nlohmann::json msg = nlohmann::json::parse(buf.substr(0, nl), nullptr, false);
    buf.erase(0, nl + 1);
    if (msg.is_object() && msg.contains("ping")) {
      nlohmann::json pong = {{"pong", msg["ping"]}, {"realtime_ns", realtime}};
      if (!events::WriteAll(fd, pong.dump() + "\n")) return fail("closed the connection");
    } else if (msg.is_object() && msg.value("ok", false)) {
      return fd;
    } else if (msg.is_object() && msg.contains("error") && msg["error"].is_string()) {
      return fail("refused this shard: " + msg["error"].get<std::string>());
    } else {
      return fail("sent something that is not the ib collector protocol");
    }
  }
}

}  // namespace ib::collect
