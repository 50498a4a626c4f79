// The settings commands ib-run exposes: `ib-run init` (creates ~/.config/ib/config.yaml, 0600)
// and `ib-run config set KEY VALUE`. Each returns the exit code and writes human text to
// out/err; a secret is printed redacted.
//
//   return ib::appconfig::CmdConfigSet("runpod.api_key", key, std::cout, std::cerr);  // 0 or 2
#pragma once

#include <ostream>
#include <string>

namespace ib::appconfig {

// 0 whether the file was created or already there (then it is not overwritten); 1 on I/O errors.
int CmdInit(std::ostream& out, std::ostream& err);
// 0 when set; 2 for an unknown key.
int CmdConfigSet(const std::string& key, const std::string& value, std::ostream& out, std::ostream& err);

}  // namespace ib::appconfig
