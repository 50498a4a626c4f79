// A reusable HTTP client for polling one server many times a second (ib-scrape's GET /metrics):
// it keeps one libcurl handle, so the TCP connection stays open between requests, and it caps
// the body size so a misbehaving server cannot grow memory without bound.
//   ib::http::Session session;
//   ib::http::Response r = session.Get("http://127.0.0.1:8000/metrics", /*timeout_ms=*/1000);
// Not thread-safe: one Session per thread.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "lib/http/http.h"

namespace ib::http {

class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // GET url. A body over max_body_bytes aborts the transfer with an error naming the limit.
  // The returned Response's body buffer is reused by the next call's, via the `reuse` argument:
  // pass the previous Response back in to keep its capacity (no allocation in steady state).
  Response Get(const std::string& url, long timeout_ms,
               const std::vector<std::pair<std::string, std::string>>& headers = {},
               Response reuse = {});
  void set_max_body_bytes(std::size_t limit) { max_body_bytes_ = limit; }

 private:
  void* curl_;  // CURL*, kept opaque so only session.cc includes libcurl
  std::size_t max_body_bytes_ = 64u << 20;
};

}  // namespace ib::http
