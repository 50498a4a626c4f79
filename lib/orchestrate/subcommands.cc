#include "lib/orchestrate/subcommands.h"

#include <iostream>
#include <string>
#include <vector>

#include "lib/appconfig/commands.h"
#include "lib/cli/exit_codes.h"
#include "lib/runpod/admin.h"

namespace ib::orchestrate {
namespace {

constexpr const char* kUsage =
    "Usage:\n"
    "  ib-run init                      create ~/.config/ib/config.yaml (mode 0600)\n"
    "  ib-run config set KEY VALUE      runpod.api_key | huggingface.token | defaults.output_dir\n"
    "  ib-run doctor                    check the API key, RunPod, pricing age, running ib pods\n"
    "  ib-run server status             list ib pods with their age and cost so far\n"
    "  ib-run server stop POD_ID        terminate one pod\n"
    "  ib-run server stop --all-orphans terminate every ib pod\n"
    "  ib-run update-pricing            refresh the GPU pricing table from RunPod\n";

int Usage(const std::string& message) {
  std::cerr << "ib-run: error: " << message << "\n" << kUsage;
  return exit_code::kUsage;
}

}  // namespace

std::optional<int> RunSubcommand(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  bool help = !args.empty() && (args[0] == "--help" || args[0] == "-h");
  runpod::AdminOptions options;
  if (command == "init") {
    if (help) return (std::cout << kUsage, 0);
    if (!args.empty()) return Usage("init takes no arguments");
    return appconfig::CmdInit(std::cout, std::cerr);
  }
  if (command == "doctor") {
    if (help) return (std::cout << kUsage, 0);
    if (!args.empty()) return Usage("doctor takes no arguments");
    return runpod::CmdDoctor(options, std::cout, std::cerr);
  }
  if (command == "update-pricing") {
    if (help) return (std::cout << kUsage, 0);
    if (!args.empty()) return Usage("update-pricing takes no arguments");
    return runpod::CmdUpdatePricing(options, std::cout, std::cerr);
  }
  if (command == "config") {
    if (help) return (std::cout << kUsage, 0);
    if (args.size() != 3 || args[0] != "set") return Usage("expected: ib-run config set KEY VALUE");
    return appconfig::CmdConfigSet(args[1], args[2], std::cout, std::cerr);
  }
  if (command == "server") {
    if (help) return (std::cout << kUsage, 0);
    if (args.size() == 1 && args[0] == "status") return runpod::CmdServerStatus(options, std::cout, std::cerr);
    if (args.size() == 2 && args[0] == "stop") {
      if (args[1] == "--all-orphans") return runpod::CmdServerStopOrphans(options, std::cout, std::cerr);
      return runpod::CmdServerStop(options, args[1], std::cout, std::cerr);
    }
    return Usage("expected: ib-run server status | server stop POD_ID | server stop --all-orphans");
  }
  return std::nullopt;
}

}  // namespace ib::orchestrate
