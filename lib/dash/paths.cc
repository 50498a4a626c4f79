#include "lib/dash/paths.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>

namespace ib::dash {
namespace {

bool IsNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsSafeComponent(std::string_view c) {
  if (c.empty() || c.size() > 255 || c == "." || c == "..") return false;
  if (c.front() == '.' || c.front() == '-') return false;  // no hidden files, no flag lookalikes
  for (char ch : c) {
    if (!IsNameByte(ch)) return false;
  }
  return true;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

}  // namespace

bool IsValidRunId(std::string_view id) { return id.size() <= 200 && IsSafeComponent(id); }

bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.size() > 1024) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = path.find('/', start);
    std::string_view part =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!IsSafeComponent(part)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

std::string CanonicalDir(const std::string& path) {
  std::string real = RealPath(path);
  struct stat st{};
  if (real.empty() || ::stat(real.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  return real;
}

std::variant<std::string, ResolveError> ResolveUnder(const std::string& root,
                                                     std::string_view relative) {
  if (!IsSafeRelativePath(relative)) {
    return ResolveError{400, "bad path \"" + std::string(relative.substr(0, 80)) + "\""};
  }
  std::string real_root = CanonicalDir(root);
  if (real_root.empty()) return ResolveError{404, "no directory " + root};
  std::string real = RealPath(real_root + "/" + std::string(relative));
  if (real.empty()) return ResolveError{404, "not found: " + std::string(relative)};
  if (real.compare(0, real_root.size() + 1, real_root + "/") != 0) {
    return ResolveError{404, "not found: " + std::string(relative)};  // a symlink out of root
  }
  return real;
}

}  // namespace ib::dash
