#include "lib/config/yaml_tree.h"

#include <filesystem>

namespace ib::config::internal {

namespace fs = std::filesystem;

const Node* Node::Get(const std::string& key) const {
  for (const auto& [k, v] : map) {
    if (k == key) return &v;
  }
  return nullptr;
}

Node* Node::GetMutable(const std::string& key) {
  for (auto& [k, v] : map) {
    if (k == key) return &v;
  }
  return nullptr;
}

Node Convert(const YAML::Node& y, const std::string& file) {
  Node n;
  n.file = file;
  n.line = y.Mark().line >= 0 ? y.Mark().line + 1 : 0;
  switch (y.Type()) {
    case YAML::NodeType::Scalar:
      n.kind = Node::kScalar;
      n.scalar = y.Scalar();
      n.quoted = y.Tag() == "!";
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::kSeq;
      for (const auto& item : y) n.seq.push_back(Convert(item, file));
      break;
    case YAML::NodeType::Map:
      n.kind = Node::kMap;
      for (const auto& kv : y) {
        Node value = Convert(kv.second, file);
        if (kv.second.IsNull() || !kv.second.IsDefined()) {
          value.line = kv.first.Mark().line + 1;  // a null value has no useful mark of its own
        }
        n.map.push_back({kv.first.Scalar(), std::move(value)});
      }
      break;
    default:
      n.kind = Node::kNull;
  }
  return n;
}

void Merge(Node& parent, const Node& child) {
  if (parent.kind != Node::kMap || child.kind != Node::kMap) {
    parent = child;
    return;
  }
  for (const auto& [key, value] : child.map) {
    Node* existing = parent.GetMutable(key);
    if (existing != nullptr && existing->kind == Node::kMap && value.kind == Node::kMap) {
      Merge(*existing, value);
    } else if (existing != nullptr) {
      *existing = value;
    } else {
      parent.map.push_back({key, value});
    }
  }
}

std::string DisplayPath(const std::string& path) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  fs::path p(path);
  if (!ec && p.is_absolute()) {
    fs::path rel = p.lexically_relative(cwd);
    if (!rel.empty() && rel.native().rfind("..", 0) != 0) return rel.string();
  }
  return path;
}

std::string ResolveFrom(const std::string& from_file, const std::string& path) {
  if (path.empty()) return path;
  fs::path p(path);
  if (p.is_absolute()) return p.lexically_normal().string();
  return (fs::path(from_file).parent_path() / p).lexically_normal().string();
}

}  // namespace ib::config::internal
