#include "lib/prompts/sharegpt.h"

#include <cctype>
#include <fstream>

namespace ib::prompts {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxEntryBytes = 64u << 20;  // one entry larger than this is not a prompt

bool Space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Reads bytes and counts lines.
class Cursor {
 public:
  explicit Cursor(std::istream& in) : buf_(in.rdbuf()) {}
  int Peek() { return buf_ ? buf_->sgetc() : EOF; }
  int Get() {
    int c = buf_ ? buf_->sbumpc() : EOF;
    if (c == '\n') ++line_;
    return c;
  }
  void SkipSpace() {
    while (Space(Peek())) Get();
  }
  int64_t line() const { return line_; }

 private:
  std::streambuf* buf_;
  int64_t line_ = 1;
};

// The text of one array element: an object/array up to its matching bracket (strings and escapes
// skipped), or a scalar up to the next ',' / ']' / whitespace. False at end of input inside it.
bool ReadElement(Cursor& in, std::string* out, bool* too_big) {
  out->clear();
  int depth = 0;
  bool in_string = false, escaped = false;
  while (true) {
    int c = in.Peek();
    if (c == EOF) return false;
    if (depth == 0 && !in_string && !out->empty() && (c == ',' || c == ']' || Space(c))) return true;
    in.Get();
    out->push_back(static_cast<char>(c));
    if (out->size() > kMaxEntryBytes) {
      *too_big = true;
      return false;
    }
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      if (!in_string && depth == 0) return true;  // a bare string element
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth <= 0) return true;
    }
  }
}

bool IsHuman(const std::string& from) { return from == "human" || from == "user"; }
bool IsGpt(const std::string& from) { return from == "gpt" || from == "assistant" || from == "chatgpt"; }

// Checks one entry's shape; on success fills the human turns and the first answer after the
// first human turn.
bool Shape(const json& e, std::vector<std::string>* human, std::optional<std::string>* answer, std::string* why) {
  if (!e.is_object()) {
    *why = "must be an object with a 'conversations' list";
    return false;
  }
  auto it = e.find("conversations");
  if (it == e.end()) {
    *why = "has no 'conversations' key";
    return false;
  }
  if (!it->is_array()) {
    *why = "'conversations' must be a list of {from, value} objects";
    return false;
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& t = (*it)[i];
    if (!t.is_object() || !t.contains("from") || !t["from"].is_string() || !t.contains("value") ||
        !t["value"].is_string()) {
      *why = "conversations[" + std::to_string(i) + "] must be an object with string 'from' and 'value'";
      return false;
    }
    const std::string from = t["from"].get<std::string>();
    if (IsHuman(from)) human->push_back(t["value"].get<std::string>());
    else if (IsGpt(from) && human->size() == 1 && !*answer) *answer = t["value"].get<std::string>();
  }
  return true;
}

}  // namespace

int64_t CountWords(std::string_view text) {
  int64_t n = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

bool LooksLikeShareGpt(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  int c;
  while ((c = in.get()) != EOF && Space(c)) {
  }
  return c == '[';
}

std::optional<ShareGptSet> ReadShareGpt(std::istream& stream, const std::string& name, int64_t count,
                                        const ShareGptOptions& o, DatasetError* error) {
  Cursor in(stream);
  auto fail = [&](int64_t line, const std::string& message) {
    error->line = line;
    error->message = message;
    return std::nullopt;
  };
  in.SkipSpace();
  if (in.Peek() != '[') return fail(in.line(), name + " is not a ShareGPT file: expected a JSON array of {\"conversations\": [...]} entries");
  in.Get();
  ShareGptSet set;
  std::string text;
  bool first = true;
  while (true) {
    in.SkipSpace();
    int c = in.Peek();
    if (c == EOF) return fail(in.line(), name + ": the JSON array is not closed (file ends early)");
    if (c == ']') {
      in.Get();
      break;
    }
    if (!first) {
      if (c != ',') return fail(in.line(), name + ": expected ',' or ']' between entries");
      in.Get();
      in.SkipSpace();
    }
    first = false;
    const int64_t line = in.line();
    const int64_t number = set.read + 1;
    const std::string where = "ShareGPT entry " + std::to_string(number) + " of " + name;
    bool too_big = false;
    if (!ReadElement(in, &text, &too_big))
      return fail(line, where + (too_big ? ": larger than 64 MiB" : ": the file ends inside it"));
    json e = json::parse(text, nullptr, false);
    if (e.is_discarded()) return fail(line, where + ": invalid JSON");
    ++set.read;
    std::vector<std::string> human;
    std::optional<std::string> answer;
    std::string why;
    if (!Shape(e, &human, &answer, &why)) return fail(line, where + " " + why);
    // Filters (vLLM's): skipped entries are not errors; real dumps have many.
    if (human.empty()) continue;
    if (o.turns > 1 && static_cast<int64_t>(human.size()) < o.turns) continue;
    if (o.output_len_from_dataset && !answer) continue;
    const int64_t prompt_words = CountWords(human[0]);
    const int64_t answer_words = answer ? CountWords(*answer) : 0;
    if (prompt_words < 4 || prompt_words > o.max_prompt_tokens) continue;
    if (prompt_words + answer_words > o.max_total_tokens) continue;
    if (o.output_len_from_dataset && answer_words < 4) continue;
    ++set.usable;
    if (static_cast<int64_t>(set.entries.size()) >= count) continue;
    ShareGptEntry entry;
    entry.messages = json::array({{{"role", "user"}, {"content", human[0]}}});
    if (o.output_len_from_dataset) entry.max_tokens = answer_words;
    for (int64_t t = 1; t < o.turns; ++t) entry.follow_ups.push_back(human[static_cast<std::size_t>(t)]);
    set.entries.push_back(std::move(entry));
  }
  in.SkipSpace();
  if (in.Peek() != EOF) return fail(in.line(), name + ": text after the closing ']' of the array");
  if (set.usable == 0) {
    return fail(0, name + ": no usable ShareGPT entry among " + std::to_string(set.read) +
                       " (each needs a human turn of 4 to " + std::to_string(o.max_prompt_tokens) + " words" +
                       (o.turns > 1 ? " and " + std::to_string(o.turns) + " human turns" : std::string()) + ")");
  }
  return set;
}

std::optional<ShareGptSet> LoadShareGpt(const std::string& path, int64_t count, const ShareGptOptions& o,
                                        DatasetError* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error->line = 0;
    error->message = "Prompt file not found: " + path;
    return std::nullopt;
  }
  return ReadShareGpt(in, path, count, o, error);
}

}  // namespace ib::prompts
