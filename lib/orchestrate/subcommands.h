// The subcommands that belong to the whole tool, found under ib-run: init, doctor,
// config set, server status|stop, update-pricing. Each delegates to lib/runpod's admin
// functions (docs/ib-provision.md), or for the settings (init, config set) to
// lib/appconfig/commands.h.
//
//   if (auto rc = ib::orchestrate::RunSubcommand(argc, argv)) return *rc;   // else: a run
#pragma once

#include <optional>

namespace ib::orchestrate {

// Returns the exit code when argv[1] names a subcommand, nullopt otherwise (a config path).
std::optional<int> RunSubcommand(int argc, char** argv);

}  // namespace ib::orchestrate
