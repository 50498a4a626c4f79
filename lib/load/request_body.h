// The JSON body of one streamed chat-completions (or completions) request, keys in the original tool's order:
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

// /v1/completions: the same keys with "prompt" (a string) in place of "messages".
std::string CompletionBody(const std::string& model, const std::string& prompt, int64_t max_tokens,
                           double temperature, bool ignore_eos);

// The prompt string a completions request sends for chat messages: their contents joined by a
// blank line, roles dropped (a base model has no chat template). One message: its content exactly,
// so prompts that share a prefix as messages share it as text.
std::string PromptText(const nlohmann::json& messages);

}  // namespace ib::load
