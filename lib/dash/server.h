// The Civetweb adapter of the Dashboard: the only file that includes civetweb.h.
// Binds 127.0.0.1 only. Routes:
//   GET /, /index.html       web/index.html with __IB_TOKEN__ replaced by the launch token
//   GET /<file>              other files of web/ (confined; no listing)
//   GET /api/...             Dashboard::HandleApiGet (gzip when accepted and large)
//   WS  /ws?token=TOKEN      state first, then the live stream; client commands
// Every request must carry Host 127.0.0.1:PORT or localhost:PORT (DNS rebinding); the
// WebSocket and every POST/PUT/PATCH/DELETE also need a same-site Origin (or none) and the token
// (query `token` for /ws, header X-IB-Token otherwise). Refusals are 403.
//   DashServer server(dashboard, {.port = 0});
//   if (!server.Start(&error)) ...;   server.port();   server.Stop();
#pragma once

#include <memory>
#include <string>

#include "lib/dash/dashboard.h"

namespace ib::dash {

struct ServerOptions {
  int port = 8420;      // 0: an ephemeral port (read it back with port())
  std::string web_dir;  // directory holding index.html; empty: no page (404)
  std::string token;    // empty: a random 128-bit token
  int threads = 64;     // each open WebSocket holds one Civetweb worker
};

class DashServer {
 public:
  DashServer(Dashboard& dashboard, ServerOptions options);
  ~DashServer();  // Stop()
  DashServer(const DashServer&) = delete;
  DashServer& operator=(const DashServer&) = delete;

  bool Start(std::string* error);
  void Stop();  // closes every WebSocket; takes about 2 s (Civetweb's mg_stop)
  int port() const;
  const std::string& token() const;
  std::string url() const;  // http://127.0.0.1:PORT/

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A random token of 32 hex digits from getrandom(2).
std::string RandomToken();

}  // namespace ib::dash
