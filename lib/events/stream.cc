#include "lib/events/stream.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "lib/events/fast_parse.h"

namespace ib::events {

LineReader::LineReader(int fd, std::size_t max_line_bytes)
    : fd_(fd), max_line_bytes_(max_line_bytes) {}

bool LineReader::Fill() {
  if (eof_) return false;
  // Compact before growing so the buffer stays near one line in size.
  if (start_ > 0) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  if (before_read_ && !before_read_()) {
    eof_ = true;
    return false;
  }
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    error_ = std::string("read failed: ") + std::strerror(errno);
    eof_ = true;
    return false;
  }
}

std::optional<LineReader::Line> LineReader::Next() {
  bool skipping = false;  // inside an oversized line, discarding bytes until its newline
  std::size_t scanned = start_;  // no newline before this offset
  for (;;) {
    std::size_t nl = buffer_.find('\n', scanned);
    if (nl != std::string::npos) {
      Line line;
      line.number = ++line_number_;
      if (skipping) {
        line.oversized = true;
      } else {
        std::size_t end = nl;
        if (end > start_ && buffer_[end - 1] == '\r') --end;
        if (end - start_ > max_line_bytes_) {
          line.oversized = true;
        } else {
          line.text.assign(buffer_, start_, end - start_);
        }
      }
      start_ = nl + 1;
      return line;
    }
    if (skipping || buffer_.size() - start_ > max_line_bytes_) {
      // Too long: drop what we have of the line and keep dropping until its newline.
      skipping = true;
      buffer_.clear();
      start_ = 0;
    }
    std::size_t scanned_from_start = buffer_.size() - start_;
    if (!Fill()) {
      if (skipping) {
        Line line;
        line.number = ++line_number_;
        line.oversized = true;
        line.unterminated = true;
        return line;
      }
      if (buffer_.size() > start_) {
        Line line;
        line.number = ++line_number_;
        line.unterminated = true;
        line.text.assign(buffer_, start_, std::string::npos);
        if (!line.text.empty() && line.text.back() == '\r') line.text.pop_back();
        buffer_.clear();
        start_ = 0;
        return line;
      }
      return std::nullopt;
    }
    scanned = start_ + scanned_from_start;  // Fill() may have compacted the buffer
  }
}

EventReader::EventReader(int fd, std::string source) : lines_(fd), source_(std::move(source)) {}

std::optional<EventReader::Item> EventReader::Next() {
  for (;;) {
    auto line = lines_.Next();
    if (!line) return std::nullopt;
    if (!line->oversized && line->text.find_first_not_of(" \t") == std::string::npos) continue;
    Item item{std::move(line->text), Event{}, false, line->number};
    if (line->oversized) {
      ++bad_lines_;
      item.event = MakeError("", "line " + std::to_string(line->number) + " of " + source_ +
                                     " is longer than " + std::to_string(kMaxLineBytes) +
                                     " bytes; skipped",
                             source_, line->number);
      return item;
    }
    ParseResult parsed = fast_request_complete_ ? ParseEventFast(item.raw) : ParseEvent(item.raw);
    if (parsed.event) {
      item.event = std::move(*parsed.event);
      item.valid = true;
    } else {
      ++bad_lines_;
      item.event = MakeError("", "line " + std::to_string(line->number) + " of " + source_ + ": " +
                                     parsed.error + "; skipped",
                             source_, line->number);
    }
    return item;
  }
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool EventWriter::WriteLine(std::string_view line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.append(line);
  buf.push_back('\n');
  return WriteAll(fd_, buf);
}

bool EventWriter::Write(const Event& event) { return WriteLine(Serialize(event)); }

}  // namespace ib::events
