// Prompt sources: the original tool's JSONL files, cycled as it did (prompt i = line i % n).
//
// Baseline format: one {"messages": [...]} object per line.
// Multi-turn formats (detected from the first non-blank line):
//   {"turns": ["q1", "q2", ...]}      scripted: follow-ups come from the file
//   {"messages": [...]}               follow-ups come from conversation.user_messages
// Error messages match the original's wording (docs/config.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ib::prompts {

struct PromptSet {
  std::vector<nlohmann::json> messages;  // each a JSON array of {role, content}
};

// Returns exactly `count` prompts, cycling the file's lines. On failure returns nullopt and
// sets *error ("Prompt file not found: P", "Invalid JSON on line N of P: ...",
// "Missing 'messages' key on line N of P", "No prompts found in P").
std::optional<PromptSet> LoadPrompts(const std::string& path, int64_t count, std::string* error);

struct Conversation {
  nlohmann::json initial;               // messages of turn 1 (system prompt first if any)
  std::vector<std::string> follow_ups;  // user messages of turns 2..T
};

// The messages every conversation starts with: one system message whose content is
// shared_prefix followed directly by system_prompt (either may be absent); empty when neither is
// set. The shared prefix comes first so that every conversation's prompt begins with the same text.
nlohmann::json SystemMessages(const std::optional<std::string>& shared_prefix,
                              const std::optional<std::string>& system_prompt);

// Returns exactly `count` conversations of `turns` turns, cycling the file's lines. Each begins
// with SystemMessages(shared_prefix, system_prompt).
std::optional<std::vector<Conversation>> LoadConversations(
    const std::string& path, int64_t count, int64_t turns,
    const std::optional<std::string>& system_prompt,
    const std::optional<std::vector<std::string>>& user_messages, std::string* error,
    const std::optional<std::string>& shared_prefix = std::nullopt);

}  // namespace ib::prompts
