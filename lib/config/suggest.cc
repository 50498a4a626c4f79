#include "lib/config/suggest.h"

#include <algorithm>

namespace ib::config::internal {

int EditDistance(const std::string& a, const std::string& b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& options) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return s;
  };
  // "A100" means "A100-80GB" more likely than the closer-by-edits "A40".
  for (const auto& o : options) {
    if (word.size() >= 3 && lower(o).rfind(lower(word), 0) == 0) return "; did you mean '" + o + "'?";
  }
  std::string best;
  int best_distance = 3;  // suggest only close matches
  for (const auto& o : options) {
    int d = EditDistance(word, o);
    if (d < best_distance) {
      best_distance = d;
      best = o;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

}  // namespace ib::config::internal
