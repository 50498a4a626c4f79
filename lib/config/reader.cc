#include "lib/config/reader.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "lib/config/suggest.h"

namespace ib::config::internal {

bool IsExactInteger(double v) {
  return std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= 9007199254740992.0;
}

std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  std::ostringstream s;
  s << v;
  return s.str();
}


void Reader::Error(const Node* at, const std::string& fallback_file, const std::string& message) {
  Diagnostic d;
  d.file = DisplayPath(at ? at->file : fallback_file);
  d.line = at ? at->line : 0;
  d.message = message;
  diags_->push_back(std::move(d));
}

void Reader::ErrorAt(const std::string& file, int64_t line, const std::string& message) {
  Diagnostic d;
  d.file = DisplayPath(file);
  d.line = static_cast<int>(line);
  d.message = message;
  diags_->push_back(std::move(d));
}

// Checks that `node` (a map) has only `allowed` keys.
void Reader::CheckKeys(const Node* node, const std::string& path, const std::vector<std::string>& allowed) {
  if (node == nullptr || node->kind != Node::kMap) return;
  for (const auto& [key, value] : node->map) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string full = path.empty() ? key : path + "." + key;
      Error(&value, "", "unknown key '" + full + "'" + DidYouMean(key, allowed));
    }
  }
}

bool Reader::IsMap(const Node* node, const std::string& path) {
  if (node == nullptr || node->kind == Node::kNull) return false;
  if (node->kind != Node::kMap) {
    Error(node, "", path + " must be a mapping");
    return false;
  }
  return true;
}

std::optional<std::string> Reader::String(const Node* node, const std::string& path) {
  if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
  if (node->kind != Node::kScalar) {
    Error(node, "", path + " must be a string");
    return std::nullopt;
  }
  // Like the original (pydantic, no int->str coercion): an unquoted number is not a name.
  if (!node->quoted && LooksNumeric(node->scalar)) {
    Error(node, "", path + " must be a string, got the number " + node->scalar +
                        " (quote it: \"" + node->scalar + "\")");
    return std::nullopt;
  }
  return node->scalar;
}

std::optional<double> Reader::Number(const Node* node, const std::string& path) {
  if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
  if (node->kind != Node::kScalar) {
    Error(node, "", path + " must be a number");
    return std::nullopt;
  }
  char* end = nullptr;
  const std::string& s = node->scalar;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end == s.c_str() || *end != '\0' || !std::isfinite(v)) {
    Error(node, "", path + " must be a number, got '" + s + "'");
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> Reader::Int(const Node* node, const std::string& path) {
  if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
  std::size_t before = diags_->size();
  auto v = Number(node, path);
  if (!v) {
    if (diags_->size() > before) diags_->back().message = path + " must be an integer, got '" + node->scalar + "'";
    return std::nullopt;
  }
  if (*v != std::floor(*v)) {
    Error(node, "", path + " must be an integer, got " + node->scalar);
    return std::nullopt;
  }
  if (!IsExactInteger(*v)) {
    Error(node, "", path + " is out of range (at most 2^53 = 9007199254740992), got " + node->scalar);
    return std::nullopt;
  }
  return static_cast<int64_t>(*v);
}

std::optional<bool> Reader::Bool(const Node* node, const std::string& path) {
  if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
  if (node->kind == Node::kScalar) {
    std::string s = node->scalar;
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    if (s == "true" || s == "yes" || s == "on" || s == "y" || s == "1") return true;
    if (s == "false" || s == "no" || s == "off" || s == "n" || s == "0") return false;
  }
  Error(node, "", path + " must be true or false, got '" + node->scalar + "'");
  return std::nullopt;
}

std::optional<std::vector<std::string>> Reader::StringList(const Node* node, const std::string& path) {
  if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
  if (node->kind != Node::kSeq) {
    Error(node, "", path + " must be a list of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node->seq.size(); ++i) {
    const Node& item = node->seq[i];
    if (item.kind != Node::kScalar) {
      Error(&item, "", path + "[" + std::to_string(i) + "] must be a string");
      continue;
    }
    out.push_back(item.scalar);
  }
  return out;
}

std::optional<std::vector<double>> Reader::NumberList(const Node* node, const std::string& path) {
  if (node == nullptr || node->kind == Node::kNull) return std::nullopt;
  if (node->kind != Node::kSeq) {
    Error(node, "", path + " must be a list of numbers");
    return std::nullopt;
  }
  std::vector<double> out;
  for (std::size_t i = 0; i < node->seq.size(); ++i) {
    auto v = Number(&node->seq[i], path + "[" + std::to_string(i) + "]");
    if (v) out.push_back(*v);
  }
  return out;
}

bool Reader::LooksNumeric(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return *end == '\0';
}

bool Reader::Require(const Node* parent, const char* key, const std::string& path, const Node* where) {
  const Node* n = parent ? parent->Get(key) : nullptr;
  if (n == nullptr || n->kind == Node::kNull) {
    Error(where, "", path + " is required");
    return false;
  }
  return true;
}

}  // namespace ib::config::internal
