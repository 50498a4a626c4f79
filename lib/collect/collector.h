// The collector of a sharded run (docs/ib-load.md "Sharding"): N ib-load shards each stream
// their NDJSON over their own TCP connection (`ib-load --report-to HOST:PORT`), and the
// collector multiplexes whole lines into one stream, as ib-run does with its children's pipes.
// Used by `ib-load --workers` and the Slurm / Kubernetes launchers (the ib-load that ib-run
// starts is the collector), so ib-run and ib-aggregate see one ordinary stream.
//
//   ib::collect::Collector c({.token = ib::collect::NewToken(), .shards = 4, .out_fd = 1});
//   if (!c.Listen(&error)) ...;            // binds only the address it is given
//   ... start the shards with --report-to 127.0.0.1:<c.port()> and IB_REPORT_TOKEN ...
//   ib::collect::Result r = c.Run();       // one iteration: until every shard ended or was lost
//
// Protocol (one line each, JSON): the shard sends {"hello":"ib-load","token":T,"shard":K,"of":N};
// the collector answers 5 x {"ping":i}, the shard {"pong":i,"realtime_ns":NOW} (clock offset by
// round trip: offset = shard clock - midpoint of the collector's send and receive instants, the
// round with the shortest trip kept), then {"ok":true} or {"error":"..."} and closes. After
// "ok" the shard streams its events, one line each, and closes after its iteration_done.
//
// One iteration ends when every shard's iteration_done arrived or the shard is lost (its
// connection closed without one, or it never connected): the collector then writes one merged
// iteration_done (completed only when every shard completed; reason names the lost shards;
// requests and client figures summed, per-shard figures in client.shards, the worst clock offset
// in clock_offset_max_ms). Everything received is forwarded; nothing is dropped but the
// duplicate execution events (one is forwarded, with "shards": N) and the shards' own
// iteration_done lines (merged).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/events/events.h"

namespace ib::collect {

struct Options {
  std::string host = "127.0.0.1";  // binds only this address
  int port = 0;                    // 0: ephemeral
  std::string token;               // required; a connection without it is refused and logged
  int shards = 1;                  // N expected
  int out_fd = 1;                  // the merged stream
  double connect_timeout_s = 120;  // a shard not connected by then is lost ("never connected")
  double handshake_timeout_s = 5;  // a connection that does not say hello in time is refused
  std::string source = "ib-load";  // source of the log events the collector writes
};

struct ShardState {
  int k = 0;
  bool connected = false, finished = false, lost = false;
  std::string lost_reason;
  std::string peer;
  double clock_offset_ms = 0, round_trip_ms = 0;
  std::optional<events::IterationDone> done;  // its iteration_done
  int64_t lines = 0;
};

struct Result {
  std::vector<ShardState> shards;
  int refused = 0;             // connections refused (no or wrong token, bad hello)
  bool output_closed = false;  // the merged stream's reader went away
  bool interrupted = false;
  std::string run_id;
  std::optional<events::IterationDone> merged_done;  // the iteration_done written (unset if none could be)
  std::vector<int> lost() const;
};

class Collector {
 public:
  explicit Collector(Options options);
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  bool Listen(std::string* error);
  int port() const { return port_; }
  // "host:port" to give the shards.
  std::string address() const;

  // A hook called about every 100 ms while Run waits; it may declare shards lost (a local worker
  // or an srun that exited before its shards connected) or forward a signal to the shards.
  using Tick = std::function<void(Collector&)>;
  // Declares shard k lost if it has not finished (no effect on a finished or connected shard
  // unless `even_if_connected`).
  void DeclareLost(int k, const std::string& reason, bool even_if_connected = false);
  // Runs one iteration (see above) until every shard finished or was lost.
  Result Run(const Tick& tick = nullptr);

 private:
  struct Conn;
  void Accept();
  bool Handshake(int fd, const std::string& peer);
  void ReadFrom(Conn& c);
  void HandleLine(Conn& c, std::string_view line);
  void Close(Conn& c, bool eof);
  void Warn(const std::string& message);
  void WriteLine(const std::string& line);
  void Finish();

  Options o_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<Conn*> conns_;
  Result r_;
  bool execution_sent_ = false;
};

// 32 hex characters from /dev/urandom.
std::string NewToken();

// "host:port" -> host and port (port 0..65535). False with a message otherwise.
bool SplitAddress(const std::string& address, std::string* host, int* port, std::string* error);

}  // namespace ib::collect
