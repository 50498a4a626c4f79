// Wire formats of the simulated servers: SSE chunks, non-streaming bodies and error bodies in
// vLLM's and SGLang's exact shapes (key order included; see /work/shared/fixtures/sse/).
//   vLLM chat:   role-only first chunk {"role":"assistant","content":""}, one chunk per token,
//                finish_reason (+ "stop_reason":null) on the last token's chunk, a usage chunk
//                with "choices":[] when stream_options.include_usage, then data: [DONE].
//   SGLang chat: 32-hex ids, "matched_stop", reasoning_content:null in deltas, a separate finish
//                chunk, usage with prompt_tokens_details/reasoning_tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/sim/options.h"

namespace ib::sim {

enum class Endpoint { kChat, kCompletions };

struct ResponseShape {
  Framework framework = Framework::kVllm;
  Endpoint endpoint = Endpoint::kChat;
  std::string id;          // with its prefix (chatcmpl-, cmpl-, or bare hex for SGLang)
  int64_t created = 0;     // unix seconds
  std::string model;       // served model name, raw
  bool include_usage = false;
  bool continuous_usage = false;  // vLLM's stream_options.continuous_usage_stats
  int64_t prompt_tokens = 0;
  int64_t eos_token_id = 0;
  // Filled by PrepareHead: every chunk's fixed beginning, rendered once per response.
  std::string head;
};

// Renders r->head ('data: {"id":...,"choices":[') from the fields above.
void PrepareHead(ResponseShape* r);

// Builds an id of the framework's form from 32 hex characters.
std::string ResponseId(Framework f, Endpoint e, const std::string& hex);

// Appends the SSE bytes that carry token `index` (text may be empty: the EOS token). The first
// token of a chat stream is preceded by the role chunk; the last one is followed by the finish
// chunk if the framework sends it separately, the usage chunk and data: [DONE].
// finish_reason is "length" or "stop" and only used when last.
// `tokens` > 1: the event carries tokens index-tokens+1..index (text is all of theirs).
void AppendTokenEvents(const ResponseShape& r, int64_t index, std::string_view text, bool last,
                       std::string_view finish_reason, std::string* out, int64_t tokens = 1);

// A mid-stream error event (HTTP stays 200) followed by data: [DONE].
std::string StreamErrorEvents(Framework f, std::string_view message, std::string_view type,
                              int code);
// A chunk whose JSON is cut off: for testing clients' handling of malformed events.
std::string MalformedEvent(const ResponseShape& r);
// The whole JSON body of a stream:false response.
std::string CompleteBody(const ResponseShape& r, std::string_view text, int64_t completion_tokens,
                         std::string_view finish_reason);
// The JSON body of an HTTP error response in the framework's envelope.
std::string ErrorBody(Framework f, std::string_view message, std::string_view type, int code,
                      std::string_view param = {});

}  // namespace ib::sim
