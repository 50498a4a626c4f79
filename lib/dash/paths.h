// Confinement of every id and path that comes from a client to one root directory
// (results/, experiments/, web/). A request can name only a plain relative path made of
// ordinary bytes; the resolved file must still lie under the root after symlinks are followed.
//   auto file = ib::dash::ResolveUnder("/srv/results", "run-1.json");   // or a ResolveError
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace ib::dash {

// 400: the name itself is malformed (.., absolute, odd bytes); 404: well-formed but absent or
// outside the root once symlinks are followed (so nothing about the outside is revealed).
struct ResolveError {
  int http_status = 400;
  std::string message;
};

// True for a run id: 1..200 bytes of [A-Za-z0-9._-], not starting with '.' or '-'.
bool IsValidRunId(std::string_view id);

// Checks a relative path of '/'-separated components, each like a run id (no "." or "..",
// no empty component, no leading '/'), at most 1024 bytes.
bool IsSafeRelativePath(std::string_view path);

// The canonical absolute path of root/relative if it exists and lies inside root's canonical
// path; otherwise a ResolveError.
std::variant<std::string, ResolveError> ResolveUnder(const std::string& root,
                                                     std::string_view relative);

// Canonical absolute path of an existing directory, or "" if it does not exist.
std::string CanonicalDir(const std::string& path);

}  // namespace ib::dash
