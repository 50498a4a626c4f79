// "Did you mean" for unknown keys and values in configs.
//
//   DidYouMean("concurency", {"concurrency", "batch_size"})  // "; did you mean 'concurrency'?"
#pragma once

#include <string>
#include <vector>

namespace ib::config::internal {

int EditDistance(const std::string& a, const std::string& b);

// "; did you mean 'X'?" for the closest option (a prefix match first), or "" when none is close.
std::string DidYouMean(const std::string& word, const std::vector<std::string>& options);

}  // namespace ib::config::internal
