#include "lib/load/request_body.h"

namespace ib::load {

namespace {
std::string Body(const std::string& model, const char* key, const nlohmann::json& input, int64_t max_tokens,
                 double temperature, bool ignore_eos) {
  nlohmann::ordered_json body;
  body["model"] = model;
  body[key] = input;
  body["max_tokens"] = max_tokens;
  body["temperature"] = temperature;
  body["stream"] = true;
  // continuous_usage_stats: vLLM (and SGLang) then put the running completion_tokens on every
  // chunk, so ib-load knows how many tokens each event carried (per-token ITL).
  body["stream_options"] = {{"include_usage", true}, {"continuous_usage_stats", true}};
  if (ignore_eos) body["ignore_eos"] = true;
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}
}  // namespace

std::string ChatBody(const std::string& model, const nlohmann::json& messages, int64_t max_tokens,
                     double temperature, bool ignore_eos) {
  return Body(model, "messages", messages, max_tokens, temperature, ignore_eos);
}

std::string CompletionBody(const std::string& model, const std::string& prompt, int64_t max_tokens,
                           double temperature, bool ignore_eos) {
  return Body(model, "prompt", prompt, max_tokens, temperature, ignore_eos);
}

std::string PromptText(const nlohmann::json& messages) {
  std::string out;
  bool first = true;
  for (const auto& m : messages) {
    if (!first) out += "\n\n";
    first = false;
    if (!m.is_object()) continue;
    const auto it = m.find("content");
    if (it == m.end()) continue;
    if (it->is_string()) {
      out += it->get<std::string>();
    } else if (it->is_array()) {  // content parts: their text
      for (const auto& part : *it)
        if (part.is_object() && part.contains("text") && part["text"].is_string()) out += part["text"].get<std::string>();
    }
  }
  return out;
}

}  // namespace ib::load
