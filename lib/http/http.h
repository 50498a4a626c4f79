// Blocking HTTP requests with libcurl for the tools' control paths (scrapes, health checks,
// the RunPod API). The load generator has its own event loop; it does not use this.
//
//   ib::http::Response r = ib::http::Get("http://127.0.0.1:8000/health", 2000);
//   if (!r.error.empty() || r.status != 200) ...;   // r.body holds the answer
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ib::http {

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  long timeout_ms = 10000;
  long connect_timeout_ms = 5000;
};

struct Response {
  long status = 0;     // 0 when no response arrived
  std::string body;
  std::string error;   // transport error ("Connection refused", "Timeout was reached"); empty if a response arrived
  double elapsed_ms = 0;
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

Response Send(const Request& request);
Response Get(const std::string& url, long timeout_ms = 10000);

// Returns the URL without a trailing slash.
std::string TrimSlash(std::string url);

}  // namespace ib::http
