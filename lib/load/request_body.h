// The JSON body of one streamed chat-completions request, keys in the original tool's order:
// {"model","messages","max_tokens","temperature","stream":true,"stream_options":{"include_usage":true}}
// plus "ignore_eos": true when asked (vLLM and SGLang accept it; OpenAI does not).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ib::load {

std::string ChatBody(const std::string& model, const nlohmann::json& messages, int64_t max_tokens,
                     double temperature, bool ignore_eos);

}  // namespace ib::load
