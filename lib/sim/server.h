// ib-sim's HTTP server: Civetweb on 127.0.0.1 in front of the Engine. Connection handler
// threads parse and validate a request, send the response headers and then block; one scheduler
// thread runs the engine's clock and writes every SSE chunk of every stream at its scheduled
// time (see docs/ib-sim.md for why, and the measurements).
//   ib::sim::Server server(options);
//   if (!server.Start(&error)) ...;     // listening; port file written
//   ... server.port() ...
//   server.Stop();                      // wakes every open stream, joins, closes the truth file
#pragma once

#include <memory>
#include <string>

#include "lib/sim/options.h"

namespace ib::sim {

class Server {
 public:
  explicit Server(const Options& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  bool Start(std::string* error);
  int port() const;
  // Ends open streams, stops the scheduler and flushes the truth file. With stop_http, also
  // stops Civetweb (about 2 s); a process about to exit can skip that.
  void Stop(bool stop_http = true);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The engine's parameters for these options: model times divided by --speed, deterministic
// times taken as given.
struct EngineConfig;
EngineConfig EngineConfigFor(const Options& o);

// CLOCK_MONOTONIC in nanoseconds: the clock of the truth file.
int64_t MonotonicNs();

}  // namespace ib::sim
