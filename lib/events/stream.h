// Reading and writing NDJSON event streams on file descriptors.
//
// LineReader splits a byte stream into lines without ever buffering more than
// kMaxLineBytes: an oversized line is reported (with its number) and skipped to its end.
// EventReader turns lines into events and never stops on bad input: a malformed, unknown or
// oversized line becomes an Error event naming its line number, and reading goes on.
// EventWriter writes each event as one whole line with a single write(2) loop and no
// user-space buffering, so a reader never sees half an event.
//
//   ib::events::EventReader reader(STDIN_FILENO, "stdin");
//   ib::events::EventWriter writer(STDOUT_FILENO);
//   while (auto item = reader.Next()) writer.Write(item->event);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "lib/events/events.h"

namespace ib::events {

class LineReader {
 public:
  explicit LineReader(int fd, std::size_t max_line_bytes = kMaxLineBytes);

  struct Line {
    std::string text;        // without the trailing '\n' (and without a trailing '\r')
    int64_t number = 0;      // 1-based
    bool oversized = false;  // text is empty; the line was longer than the limit
    bool unterminated = false;  // the last line of the stream had no final newline
  };
  // Blocks until a line is available. Returns nullopt at end of stream (or on a read error,
  // in which case error() says what happened).
  std::optional<Line> Next();
  const std::string& error() const { return error_; }
  // Called before each read(2), which may block; returning false ends the stream there as if at
  // EOF. A filter uses it to flush its output once per read and to stop on a signal.
  void set_before_read(std::function<bool()> hook) { before_read_ = std::move(hook); }

 private:
  bool Fill();  // reads more bytes; false at EOF or error
  std::function<bool()> before_read_;
  int fd_;
  std::size_t max_line_bytes_;
  std::string buffer_;
  std::size_t start_ = 0;
  int64_t line_number_ = 0;
  bool eof_ = false;
  std::string error_;
};

class EventReader {
 public:
  // source names the stream in error events (for example "stdin" or a FIFO path).
  EventReader(int fd, std::string source);

  struct Item {
    std::string raw;  // the line exactly as read (empty for oversized lines)
    Event event;      // the parsed event, or an Error event describing the bad line
    bool valid = false;
    int64_t line_number = 0;
  };
  // Skips blank lines. Returns nullopt at end of stream.
  std::optional<Item> Next();
  int64_t bad_lines() const { return bad_lines_; }
  // Parse request_complete lines with ParseEventFast (same events, far less CPU). Off by default.
  void set_fast_request_complete(bool on) { fast_request_complete_ = on; }
  // Set when reading stopped on a read error (see LineReader::error).
  const std::string& error() const { return lines_.error(); }
  // See LineReader::set_before_read.
  void set_before_read(std::function<bool()> hook) { lines_.set_before_read(std::move(hook)); }

 private:
  LineReader lines_;
  std::string source_;
  int64_t bad_lines_ = 0;
  bool fast_request_complete_ = false;
};

class EventWriter {
 public:
  explicit EventWriter(int fd) : fd_(fd) {}
  // Each returns false if the reader went away (EPIPE) or another write error occurred.
  bool Write(const Event& event);
  bool WriteLine(std::string_view line_without_newline);

 private:
  int fd_;
};

// Writes all of data to fd, retrying on EINTR and short writes. False on error.
bool WriteAll(int fd, std::string_view data);

}  // namespace ib::events
