#include "lib/load/request_body.h"

namespace ib::load {

std::string ChatBody(const std::string& model, const nlohmann::json& messages, int64_t max_tokens,
                     double temperature, bool ignore_eos) {
  nlohmann::ordered_json body;
  body["model"] = model;
  body["messages"] = messages;
  body["max_tokens"] = max_tokens;
  body["temperature"] = temperature;
  body["stream"] = true;
  // continuous_usage_stats: vLLM (and SGLang) then put the running completion_tokens on every
  // chunk, so ib-load knows how many tokens each event carried (per-token ITL).
  body["stream_options"] = {{"include_usage", true}, {"continuous_usage_stats", true}};
  if (ignore_eos) body["ignore_eos"] = true;
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace ib::load
