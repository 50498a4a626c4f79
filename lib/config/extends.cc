#include "lib/config/extends.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "lib/config/reader.h"
#include "lib/utf8/utf8.h"

namespace ib::config::internal {

namespace fs = std::filesystem;

std::optional<Node> LoadChain(const std::string& text, const std::string& path, Chain& chain,
                              std::vector<Diagnostic>* diags) {
  Reader r(diags);
  // yaml-cpp passes ill-formed bytes through into strings that no JSON writer accepts later
  // (the run's events, results file, dry-run print), so such a file is refused here, by place.
  if (std::size_t bad = utf8::FirstInvalidByte(text); bad != std::string::npos) {
    std::size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    line_start = line_start == std::string::npos || bad == 0 ? 0 : line_start + 1;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(text[bad]));
    Diagnostic d;
    d.file = DisplayPath(path);
    d.line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n'));
    d.message = "not valid UTF-8: byte " + std::string(hex) + " at column " + std::to_string(bad - line_start + 1) +
                " (a config file must be UTF-8; re-save it as UTF-8)";
    diags->push_back(d);
    return std::nullopt;
  }
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    Diagnostic d;
    d.file = DisplayPath(path);
    d.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    d.message = "invalid YAML: " + e.msg;
    diags->push_back(d);
    return std::nullopt;
  }
  if (!doc.IsMap()) {
    Diagnostic d;
    d.file = DisplayPath(path);
    d.line = doc.IsDefined() && !doc.IsNull() ? doc.Mark().line + 1 : 1;
    d.message = std::string("expected a YAML mapping, got ") +
                (doc.IsNull() || !doc.IsDefined() ? "an empty document" : doc.IsSequence() ? "a list" : "a scalar");
    diags->push_back(d);
    return std::nullopt;
  }
  Node node = Convert(doc, path);
  const Node* extends = node.Get("extends");
  if (extends == nullptr || extends->kind == Node::kNull) return node;
  auto parent_ref = r.String(extends, "extends");
  if (!parent_ref) return std::nullopt;
  std::string parent_path = ResolveFrom(path, *parent_ref);
  std::error_code ec;
  std::string canonical = fs::weakly_canonical(parent_path, ec).string();
  if (std::any_of(chain.begin(), chain.end(), [&](const auto& c) { return c.first == canonical; })) {
    std::string cycle;
    for (const auto& c : chain) cycle += DisplayPath(c.second) + " -> ";
    r.Error(extends, path, "extends cycle: " + cycle + DisplayPath(parent_path));
    return std::nullopt;
  }
  std::ifstream in(parent_path);
  if (!in) {
    r.Error(extends, path, "parent config not found: " + DisplayPath(parent_path));
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  chain.emplace_back(canonical, parent_path);
  auto parent = LoadChain(ss.str(), parent_path, chain, diags);
  chain.pop_back();
  if (!parent) return std::nullopt;
  Merge(*parent, node);
  return parent;
}

}  // namespace ib::config::internal
