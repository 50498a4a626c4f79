// Incremental parsing of text/event-stream bodies (the WHATWG "server-sent events" format) as
// bytes arrive from the socket, and a fast reader of the OpenAI-style JSON chunks they carry.
//
//   ib::sse::Parser parser;
//   parser.Feed(bytes, n, [&](std::string_view data) { ... one event's data ... });
//
// Lines end in \n, \r\n or \r (a \r\n split across two Feed calls is still one line end);
// `data:` lines are joined with \n; comments (":...") and other fields are ignored; an event is
// dispatched at the blank line that ends it. The data view passed to the callback is valid only
// during the callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ib::sse {

class Parser {
 public:
  // An event whose data grows past this is dropped and counted in oversized_events().
  explicit Parser(std::size_t max_event_bytes = 16u << 20) : max_event_bytes_(max_event_bytes) {}

  template <typename OnEvent>
  void Feed(const char* bytes, std::size_t n, OnEvent&& on_event);

  // True when bytes of an event arrived after the last dispatched one (an incomplete event at
  // the end of the stream, which the format says to discard).
  bool HasPartialEvent() const { return !line_.empty() || has_data_ || drop_line_; }
  // At the end of the stream: dispatches an event whose data lines were complete but whose
  // closing blank line never came (servers and test captures that end in "data: [DONE]\n").
  // The format says to discard it; the original tool (reading lines) used it, and so do we.
  template <typename OnEvent>
  void Finish(OnEvent&& on_event) {
    if (has_data_ && !oversize_) {
      std::string_view d = data_;
      if (!d.empty() && d.back() == '\n') d.remove_suffix(1);
      on_event(d);
    }
    Reset();
  }
  int64_t oversized_events() const { return oversized_; }
  void Reset();

 private:
  // Processes one complete line (without its terminator). Returns true and sets *data when it
  // was the blank line that ends an event with data.
  bool Line(std::string_view line, std::string_view* data);

  std::size_t max_event_bytes_;
  std::string line_;  // an unterminated line carried over from the previous Feed
  std::string data_;  // the data of the event being assembled (with a trailing \n per line)
  bool has_data_ = false;
  bool skip_lf_ = false;  // the previous Feed ended in \r: a leading \n belongs to it
  bool oversize_ = false;
  // The current line grew past the limit: the rest of it, up to its end, is discarded (its tail
  // must not be read as a line of its own, nor its end as the blank line that ends an event).
  bool drop_line_ = false;
  int64_t oversized_ = 0;
};

// What one OpenAI-compatible streaming chunk says, read without building a JSON tree.
struct Chunk {
  bool done = false;          // the data was [DONE]
  bool valid = false;         // well-formed JSON object (or [DONE])
  bool error = false;         // an error event: top-level "error" (non-null) or object "error"
  std::string error_message;  // its message when it has one
  bool has_choices = false;   // a non-empty "choices" array (vLLM's "token-bearing" event)
  bool has_content = false;   // some choice has non-empty delta.content or text
  bool has_reasoning = false; // some choice has non-empty delta.reasoning_content
  std::optional<int64_t> prompt_tokens;      // from a non-null "usage"
  std::optional<int64_t> completion_tokens;  // from a non-null "usage"
  std::string content;        // decoded content of choice 0, only when asked for
};

// Reads one event's data. want_content: decode the content text into chunk->content.
// Returns chunk->valid.
bool ParseChunk(std::string_view data, Chunk* chunk, bool want_content = false);

// ---- implementation of the template ----
template <typename OnEvent>
void Parser::Feed(const char* bytes, std::size_t n, OnEvent&& on_event) {
  std::size_t i = 0;
  if (skip_lf_ && n > 0) {
    skip_lf_ = false;
    if (bytes[0] == '\n') i = 1;
  }
  while (i < n) {
    // Find the next line end.
    std::size_t j = i;
    while (j < n && bytes[j] != '\n' && bytes[j] != '\r') ++j;
    if (j == n) {  // no terminator: keep the partial line for the next Feed
      if (!drop_line_ && line_.size() + (n - i) <= max_event_bytes_) {
        line_.append(bytes + i, n - i);
      } else {
        oversize_ = true;
        drop_line_ = true;
        line_.clear();
      }
      return;
    }
    std::string_view line;
    if (drop_line_) {
      line = {};  // unused: the whole line is dropped below
    } else if (line_.empty()) {
      line = std::string_view(bytes + i, j - i);
    } else {
      line_.append(bytes + i, j - i);
      line = line_;
    }
    if (bytes[j] == '\r') {
      if (j + 1 < n) {
        if (bytes[j + 1] == '\n') ++j;
      } else {
        skip_lf_ = true;
      }
    }
    i = j + 1;
    if (drop_line_) {  // the end of a line too long to keep: none of it is read as a line
      drop_line_ = false;
      continue;
    }
    std::string_view data;
    bool dispatch = Line(line, &data);
    line_.clear();
    if (dispatch) {
      on_event(data);
      data_.clear();
      has_data_ = false;
    }
  }
}

}  // namespace ib::sse
