// Loading a config file's `extends` chain into one located YAML tree (any depth, cycles
// detected, the child merged over its parent, relative paths resolved from the file that
// wrote them). Internal to lib/config.
//
//   Chain chain{{canonical, abs}};
//   std::optional<Node> root = LoadChain(text, abs, chain, &diagnostics);
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/config/config.h"
#include "lib/config/yaml_tree.h"

namespace ib::config::internal {

// (canonical path for cycle detection, path as resolved for messages) of every file on the
// way down.
using Chain = std::vector<std::pair<std::string, std::string>>;

std::optional<Node> LoadChain(const std::string& text, const std::string& path, Chain& chain,
                              std::vector<Diagnostic>* diags);

}  // namespace ib::config::internal
