#include "lib/sim/wire_format.h"

#include "lib/sim/text.h"

namespace ib::sim {

std::string ResponseId(Framework f, Endpoint e, const std::string& hex) {
  if (f == Framework::kSglang) return hex;
  return (e == Endpoint::kChat ? "chatcmpl-" : "cmpl-") + hex;
}

namespace {

void Head(const ResponseShape& r, std::string* out) {
  if (!r.head.empty()) {
    *out += r.head;
    return;
  }
  *out += "data: {\"id\":\"";
  *out += r.id;
  *out += r.endpoint == Endpoint::kChat ? "\",\"object\":\"chat.completion.chunk\",\"created\":"
                                        : "\",\"object\":\"text_completion\",\"created\":";
  *out += std::to_string(r.created);
  *out += ",\"model\":\"";
  *out += JsonEscape(r.model);
  *out += "\",\"choices\":[";
}

void Usage(const ResponseShape& r, int64_t completion, std::string* out) {
  *out += "\"usage\":{\"prompt_tokens\":";
  *out += std::to_string(r.prompt_tokens);
  *out += ",\"total_tokens\":";
  *out += std::to_string(r.prompt_tokens + completion);
  *out += ",\"completion_tokens\":";
  *out += std::to_string(completion);
  if (r.framework == Framework::kSglang) *out += ",\"prompt_tokens_details\":null,\"reasoning_tokens\":0";
  *out += "}";
}

// Closes a chunk: "]" of choices, continuous usage if asked, "}" and the blank line.
void Tail(const ResponseShape& r, int64_t completion, std::string* out) {
  *out += "]";
  if (r.continuous_usage && r.framework == Framework::kVllm) {
    *out += ",";
    Usage(r, completion, out);
  }
  *out += "}\n\n";
}

void Finish(const ResponseShape& r, std::string_view reason, std::string* out) {
  *out += "\"finish_reason\":\"";
  *out += reason;
  *out += "\"";
  if (r.framework == Framework::kVllm) {
    *out += ",\"stop_reason\":null";
  } else {
    *out += ",\"matched_stop\":";
    *out += reason == "stop" ? std::to_string(r.eos_token_id) : "null";
  }
}

void Choice(const ResponseShape& r, std::string_view delta_or_text, bool is_text, bool last,
            std::string_view reason, std::string* out) {
  *out += "{\"index\":0,";
  if (is_text) {
    *out += "\"text\":\"";
    *out += delta_or_text;
    *out += "\",";
  } else {
    *out += "\"delta\":";
    *out += delta_or_text;
    *out += ",";
  }
  *out += "\"logprobs\":null,";
  if (last) {
    Finish(r, reason, out);
  } else if (r.framework == Framework::kVllm) {
    *out += "\"finish_reason\":null";
    if (r.endpoint == Endpoint::kCompletions) *out += ",\"stop_reason\":null";
  } else {
    *out += "\"finish_reason\":null,\"matched_stop\":null";
  }
  *out += "}";
}

}  // namespace

void PrepareHead(ResponseShape* r) {
  r->head.clear();
  std::string h;
  Head(*r, &h);
  r->head = h;
}

void AppendTokenEvents(const ResponseShape& r, int64_t index, std::string_view text, bool last,
                       std::string_view finish_reason, std::string* out, int64_t tokens) {
  const bool sglang = r.framework == Framework::kSglang;
  const bool chat = r.endpoint == Endpoint::kChat;
  if (chat && index - tokens + 1 == 0) {
    Head(r, out);
    Choice(r, sglang ? R"({"reasoning_content":null,"role":"assistant","content":""})"
                     : R"({"role":"assistant","content":""})",
           false, false, {}, out);
    Tail(r, 0, out);
  }
  // SGLang sends no empty content delta for EOS and puts finish_reason in its own chunk.
  bool finish_here = last && !sglang;
  if (!(sglang && text.empty())) {
    Head(r, out);
    if (chat) {
      std::string delta = sglang ? "{\"reasoning_content\":null,\"content\":\"" : "{\"content\":\"";
      delta += text;
      delta += "\"}";
      Choice(r, delta, false, finish_here, finish_reason, out);
    } else {
      Choice(r, text, true, finish_here, finish_reason, out);
    }
    Tail(r, index + 1, out);
  }
  if (!last) return;
  if (sglang) {
    Head(r, out);
    if (chat) {
      Choice(r, R"({"reasoning_content":null})", false, true, finish_reason, out);
    } else {
      Choice(r, "", true, true, finish_reason, out);
    }
    Tail(r, index + 1, out);
  }
  if (r.include_usage) {
    Head(r, out);
    *out += "],";
    Usage(r, index + 1, out);
    *out += "}\n\n";
  }
  *out += "data: [DONE]\n\n";
}

std::string StreamErrorEvents(Framework f, std::string_view message, std::string_view type,
                              int code) {
  // Both frameworks json.dumps() this one, hence the spaces after ':' and ','.
  std::string out = "data: {\"error\": {";
  if (f == Framework::kSglang) out += "\"object\": \"error\", ";
  out += "\"message\": \"" + JsonEscape(message) + "\", \"type\": \"" + std::string(type) +
         "\", \"param\": null, \"code\": " + std::to_string(code) + "}}\n\ndata: [DONE]\n\n";
  return out;
}

std::string MalformedEvent(const ResponseShape& r) {
  std::string out;
  Head(r, &out);
  out += "{\"index\":0,\"delta\":{\"content\":\n\n";
  return out;
}

std::string CompleteBody(const ResponseShape& r, std::string_view text, int64_t completion_tokens,
                         std::string_view finish_reason) {
  const bool sglang = r.framework == Framework::kSglang;
  const bool chat = r.endpoint == Endpoint::kChat;
  std::string out = "{\"id\":\"" + r.id + "\",\"object\":\"" +
                    (chat ? "chat.completion" : "text_completion") + "\",\"created\":" +
                    std::to_string(r.created) + ",\"model\":\"" + JsonEscape(r.model) +
                    "\",\"choices\":[{\"index\":0,";
  if (chat) {
    out += "\"message\":{\"role\":\"assistant\",\"content\":\"" + std::string(text) + "\"";
    out += sglang ? ",\"reasoning_content\":null,\"tool_calls\":null}," : ",\"tool_calls\":[]},";
  } else {
    out += "\"text\":\"" + std::string(text) + "\",";
  }
  out += "\"logprobs\":null,";
  Finish(r, finish_reason, &out);
  if (!chat && !sglang) out += ",\"prompt_logprobs\":null";
  out += "}],";
  Usage(r, completion_tokens, &out);
  if (chat && !sglang) out += ",\"prompt_logprobs\":null";
  out += "}";
  return out;
}

std::string ErrorBody(Framework f, std::string_view message, std::string_view type, int code,
                      std::string_view param) {
  std::string p = param.empty() ? "null" : "\"" + std::string(param) + "\"";
  std::string fields = "\"message\":\"" + JsonEscape(message) + "\",\"type\":\"" +
                       std::string(type) + "\",\"param\":" + p + ",\"code\":" + std::to_string(code);
  if (f == Framework::kSglang) return "{\"object\":\"error\"," + fields + "}";
  return "{\"error\":{" + fields + "}}";
}

}  // namespace ib::sim
