#include "lib/prompts/prompts.h"

#include <fstream>

namespace ib::prompts {
namespace {

using nlohmann::json;

struct Line {
  int number;
  json value;
};

// Reads the non-blank lines of a JSONL file. Errors use the original tool's wording.
std::optional<std::vector<Line>> ReadJsonl(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "Prompt file not found: " + path;
    return std::nullopt;
  }
  std::vector<Line> lines;
  std::string text;
  int number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    json value = json::parse(text, nullptr, false);
    if (value.is_discarded()) {
      *error = "Invalid JSON on line " + std::to_string(number) + " of " + path;
      return std::nullopt;
    }
    lines.push_back({number, std::move(value)});
  }
  if (lines.empty()) {
    *error = "No prompts found in " + path;
    return std::nullopt;
  }
  return lines;
}

bool IsMessageList(const json& v) {
  if (!v.is_array() || v.empty()) return false;
  for (const auto& m : v) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content")) {
      return false;
    }
  }
  return true;
}

}  // namespace

json SystemMessages(const std::optional<std::string>& shared_prefix, const std::optional<std::string>& system_prompt) {
  std::string content = shared_prefix.value_or("") + system_prompt.value_or("");
  json out = json::array();
  if (!content.empty()) out.push_back({{"role", "system"}, {"content", content}});
  return out;
}

std::optional<PromptSet> LoadPrompts(const std::string& path, int64_t count, std::string* error) {
  auto lines = ReadJsonl(path, error);
  if (!lines) return std::nullopt;
  std::vector<json> raw;
  for (const auto& line : *lines) {
    if (!line.value.is_object() || !line.value.contains("messages")) {
      *error = "Missing 'messages' key on line " + std::to_string(line.number) + " of " + path;
      return std::nullopt;
    }
    // Stricter than the original, which sent whatever it found: a prompt the server will
    // reject is better caught before a pod is paid for.
    if (!IsMessageList(line.value["messages"])) {
      *error = "'messages' on line " + std::to_string(line.number) + " of " + path +
               " must be a non-empty list of {role, content} objects";
      return std::nullopt;
    }
    raw.push_back(line.value["messages"]);
  }
  PromptSet set;
  set.messages.reserve(static_cast<std::size_t>(count));
  for (int64_t i = 0; i < count; ++i) set.messages.push_back(raw[static_cast<std::size_t>(i) % raw.size()]);
  return set;
}

std::optional<std::vector<Conversation>> LoadConversations(
    const std::string& path, int64_t count, int64_t turns,
    const std::optional<std::string>& system_prompt,
    const std::optional<std::vector<std::string>>& user_messages, std::string* error,
    const std::optional<std::string>& shared_prefix) {
  auto lines = ReadJsonl(path, error);
  if (!lines) return std::nullopt;
  const json& first = lines->front().value;
  bool scripted = first.is_object() && first.contains("turns");
  if (!scripted && !(first.is_object() && first.contains("messages"))) {
    *error = "Line " + std::to_string(lines->front().number) + " in " + path +
             ": each line must have 'messages' or 'turns' key";
    return std::nullopt;
  }
  const std::size_t need_follow_ups = turns > 0 ? static_cast<std::size_t>(turns - 1) : 0;
  if (!scripted) {
    if (!user_messages) {
      *error = "Messages format requires 'user_messages' in conversation config for follow-up turns";
      return std::nullopt;
    }
    if (user_messages->size() < need_follow_ups) {
      *error = "Need at least " + std::to_string(need_follow_ups) + " user_messages for " +
               std::to_string(turns) + " turns, got " + std::to_string(user_messages->size());
      return std::nullopt;
    }
  }
  const json system = SystemMessages(shared_prefix, system_prompt);
  std::vector<Conversation> raw;
  for (const auto& line : *lines) {
    const char* key = scripted ? "turns" : "messages";
    if (!line.value.is_object() || !line.value.contains(key)) {
      *error = "Line " + std::to_string(line.number) + " in " + path + ": expected '" + key + "' key";
      return std::nullopt;
    }
    Conversation c;
    c.initial = system;
    if (scripted) {
      const json& t = line.value["turns"];
      if (!t.is_array() || t.size() < static_cast<std::size_t>(turns)) {
        *error = "Line " + std::to_string(line.number) + " in " + path + ": 'turns' must have at least " +
                 std::to_string(turns) + " entries, got " + std::to_string(t.is_array() ? t.size() : 0);
        return std::nullopt;
      }
      for (const auto& q : t) {
        if (!q.is_string()) {
          *error = "Line " + std::to_string(line.number) + " in " + path + ": 'turns' must hold strings";
          return std::nullopt;
        }
      }
      c.initial.push_back({{"role", "user"}, {"content", t[0]}});
      for (std::size_t i = 1; i < static_cast<std::size_t>(turns); ++i) c.follow_ups.push_back(t[i]);
    } else {
      const json& m = line.value["messages"];
      if (!IsMessageList(m)) {
        *error = "'messages' on line " + std::to_string(line.number) + " of " + path +
                 " must be a non-empty list of {role, content} objects";
        return std::nullopt;
      }
      for (const auto& msg : m) c.initial.push_back(msg);
      c.follow_ups.assign(user_messages->begin(), user_messages->begin() + static_cast<long>(need_follow_ups));
    }
    raw.push_back(std::move(c));
  }
  std::vector<Conversation> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int64_t i = 0; i < count; ++i) out.push_back(raw[static_cast<std::size_t>(i) % raw.size()]);
  return out;
}

}  // namespace ib::prompts
