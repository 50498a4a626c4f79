// The shard's side of the collector protocol (collector.h): `ib-load --report-to HOST:PORT`.
//
//   std::string error;
//   int fd = ib::collect::ConnectToCollector("10.0.0.5:7000", token, /*k=*/1, /*n=*/4, 10, &error);
//   if (fd < 0) { fprintf(stderr, "ib-load: error: %s\n", error.c_str()); return 1; }
//   // write the NDJSON stream to fd, close it after iteration_done
#pragma once

#include <cstdint>
#include <string>

namespace ib::collect {

// Connects (retrying a refused connection until timeout_s: the collector may still be starting),
// says hello with the token, answers the clock pings and waits for "ok". Returns the connected
// socket, or -1 with *error saying what went wrong (unreachable, refused and why).
int ConnectToCollector(const std::string& address, const std::string& token, int64_t k, int64_t n, double timeout_s,
                       std::string* error);

}  // namespace ib::collect
