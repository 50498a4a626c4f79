// A small Civetweb server for ib-load's own tests: streams OpenAI-style SSE with fixed delays
// and every failure shape on its own path. One per test binary (mg_stop takes ~2 s).
//   /stream?tokens=N&ttft_ms=T&itl_ms=I   role chunk, N content chunks, finish, usage, [DONE]
//   /http500 /sse_error /reset /truncated /stall?ms=M /malformed /nousage?tokens=N
#pragma once

#include <string>

namespace ib::load::testing {

class TestServer {
 public:
  TestServer();
  ~TestServer();
  const std::string& base_url() const { return base_url_; }
  int requests() const;  // how many requests arrived
  std::string last_body() const;

 private:
  void* ctx_ = nullptr;
  std::string base_url_;
};

// A 127.0.0.1 URL on which nothing listens (a port that was bound and closed).
std::string RefusedUrl();

}  // namespace ib::load::testing
