// The JSON body of one streamed chat-completions request, keys in the original tool's order:
// {"model","messages","max_tokens","temperature","stream":true,"stream_options":{"include_usage":true}}
// plus "ignore_eos": true when asked (vLLM and SGLang accept it; OpenAI does not).
//
//   std::string body = ib::load::ChatBody("Qwen/Qwen3-0.6B", messages, 256, 0.0, /*ignore_eos=*/false);
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ib::load {

std::string ChatBody(const std::string& model, const nlohmann::json& messages, int64_t max_tokens,
                     double temperature, bool ignore_eos);

}  // namespace ib::load
