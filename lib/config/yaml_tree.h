// The located YAML tree: every value remembers the file and line it came from, so values
// merged through `extends` still point at the file that wrote them. Internal to lib/config.
//
//   Node root = Convert(YAML::Load(text), "/abs/child.yaml");
//   Merge(parent, root);  // child wins; maps merge deeply, lists are replaced
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace ib::config::internal {

struct Node {
  enum Kind { kNull, kScalar, kSeq, kMap } kind = kNull;
  std::string scalar;
  bool quoted = false;  // a quoted scalar is always a string ("10" is not a number)
  std::vector<Node> seq;
  std::vector<struct MapEntry> map;  // in file order
  std::string file;
  int line = 0;

  const Node* Get(const std::string& key) const;
  Node* GetMutable(const std::string& key);
};

struct MapEntry {
  std::string key;
  Node value;
};

Node Convert(const YAML::Node& y, const std::string& file);

// Deep merge, child wins: maps merge recursively, anything else (lists included) is replaced,
// an explicit child null overrides.
void Merge(Node& parent, const Node& child);

// `path` relative to the working directory when it lies below it (for messages).
std::string DisplayPath(const std::string& path);
// `path` as written in `from_file`, resolved against that file's directory.
std::string ResolveFrom(const std::string& from_file, const std::string& path);

}  // namespace ib::config::internal
