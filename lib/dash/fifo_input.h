// Reads the event stream from a named FIFO, again and again: each writer's stream (from open
// to its EOF) is one stream for the sink, then the FIFO is re-opened for the next writer.
// Creates the FIFO (mode 0600) when it does not exist.
//   FifoInput fifo("/tmp/ib.fifo", dashboard);
//   if (!fifo.Start(&error)) ...;      // `ib-run x.yaml --fifo /tmp/ib.fifo` then feeds it
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "lib/dash/stream_sink.h"

namespace ib::dash {

class FifoInput {
 public:
  FifoInput(std::string path, StreamSink& sink) : path_(std::move(path)), sink_(sink) {}
  ~FifoInput();  // Stop()

  bool Start(std::string* error);
  // Stops waiting for writers and joins the reader; a reader in the middle of a writer's
  // stream finishes that stream first.
  void Stop();

 private:
  void Loop();
  std::string path_;
  StreamSink& sink_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ib::dash
