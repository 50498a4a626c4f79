#include "lib/dash/secrets.h"

#include <algorithm>
#include <cstdlib>

#include "lib/appconfig/appconfig.h"

namespace ib::dash {

std::vector<std::string> KnownSecrets() {
  std::vector<std::string> out;
  auto add = [&out](const std::string& s) {
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  for (const char* name : {"RUNPOD_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    if (const char* v = std::getenv(name)) add(v);
  }
  std::string error;
  for (const std::string& path : {appconfig::ConfigPath(), appconfig::LegacyConfigPath()}) {
    if (auto config = appconfig::LoadFile(path, &error)) {
      add(config->runpod_api_key);
      add(config->hf_token);
    }
  }
  return out;
}

}  // namespace ib::dash
