#include "lib/appconfig/commands.h"

#include "lib/appconfig/appconfig.h"
#include "lib/cli/exit_codes.h"

namespace ib::appconfig {

int CmdInit(std::ostream& out, std::ostream& err) {
  bool created = false;
  std::string error;
  if (!Init(&created, &error)) {
    err << "ib-run: error: " << error << "\n";
    return exit_code::kFailed;
  }
  std::string path = ConfigPath();
  if (created) {
    out << "Created " << path << " (mode 0600)\n";
  } else {
    out << "Config already exists: " << path << "\nEdit it, or use ib-run config set KEY VALUE. Not overwriting.\n";
  }
  out << "Set your RunPod key: ib-run config set runpod.api_key KEY (or export RUNPOD_API_KEY)\n"
      << "For gated models: ib-run config set huggingface.token TOKEN (or export HF_TOKEN)\n";
  return exit_code::kOk;
}

int CmdConfigSet(const std::string& key, const std::string& value, std::ostream& out, std::ostream& err) {
  std::string error;
  if (!Set(key, value, &error)) {
    err << "ib-run: error: " << error << "\n";
    return exit_code::kUsage;
  }
  bool secret = key.find("key") != std::string::npos || key.find("token") != std::string::npos;
  out << "Set " << key << " = " << (secret ? Redact(value) : value) << " in "
      << ConfigPath() << "\n";
  return exit_code::kOk;
}

}  // namespace ib::appconfig
