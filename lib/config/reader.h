// Typed reading of a located YAML tree: every wrong key, type or value becomes a Diagnostic
// with the FILE:LINE that wrote it, and reading goes on so one run reports every problem.
//
//   Reader r(&diagnostics);
//   r.CheckKeys(node, "workload", {"type", "requests"});
//   if (auto v = r.Int(node->Get("concurrency"), "workload.concurrency")) ...
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/config.h"
#include "lib/config/yaml_tree.h"

namespace ib::config::internal {

// 4 -> "4", 0.5 -> "0.5" (integral values without a decimal point).
std::string FormatNumber(double v);

// An integral value that a double holds exactly (|v| <= 2^53): only such a value may be cast to
// int64_t (a larger one is undefined behaviour) or written to JSON as an integer the page reads.
bool IsExactInteger(double v);

template <typename T>
std::string JoinList(const std::vector<T>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + std::string(i);
  return out;
}

class Reader {
 public:
  explicit Reader(std::vector<Diagnostic>* diags) : diags_(diags) {}

  // Adds a diagnostic at `at` (or in fallback_file when `at` is null).
  void Error(const Node* at, const std::string& fallback_file, const std::string& message);
  // Adds a diagnostic at a line of another file (a trace or dataset line).
  void ErrorAt(const std::string& file, int64_t line, const std::string& message);
  // Checks that `node` (a map) has only `allowed` keys.
  void CheckKeys(const Node* node, const std::string& path, const std::vector<std::string>& allowed);
  // False (and a diagnostic at `where`) when parent.key is absent or null.
  bool Require(const Node* parent, const char* key, const std::string& path, const Node* where);

  // Each returns nullopt for an absent or null node, and adds a diagnostic for a wrong type.
  bool IsMap(const Node* node, const std::string& path);
  std::optional<std::string> String(const Node* node, const std::string& path);
  std::optional<double> Number(const Node* node, const std::string& path);
  std::optional<int64_t> Int(const Node* node, const std::string& path);
  std::optional<bool> Bool(const Node* node, const std::string& path);
  std::optional<std::vector<std::string>> StringList(const Node* node, const std::string& path);
  std::optional<std::vector<double>> NumberList(const Node* node, const std::string& path);

  static bool LooksNumeric(const std::string& s);

 private:
  std::vector<Diagnostic>* diags_;
};

}  // namespace ib::config::internal
