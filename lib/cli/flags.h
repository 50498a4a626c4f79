// A small flag parser shared by every tool so that --help, errors and exit codes look alike.
//   ib::cli::Flags flags("ib-scrape", "polls /metrics and emits gpu_sample events");
//   std::string url; flags.String("url", &url, "URL of the server's /metrics", /*required=*/true);
//   int64_t interval = 100; flags.Int("interval-ms", &interval, "scrape period");
//   if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;   // --help -> 0, error -> 2
// Accepts --name=value and --name value; bools as --name / --no-name.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ib::cli {

class Flags {
 public:
  Flags(std::string tool, std::string summary);

  void String(const std::string& name, std::string* out, const std::string& help,
              bool required = false);
  void Int(const std::string& name, int64_t* out, const std::string& help, bool required = false);
  void Double(const std::string& name, double* out, const std::string& help, bool required = false);
  void Bool(const std::string& name, bool* out, const std::string& help);
  // Repeatable: each occurrence appends.
  void List(const std::string& name, std::vector<std::string>* out, const std::string& help);
  // Text appended to --help (usage examples, exit codes).
  void Epilog(const std::string& text) { epilog_ = text; }
  // Names of the positional arguments, for --help ("CONFIG").
  void Positional(const std::string& usage, std::vector<std::string>* out, std::size_t min = 0,
                  std::size_t max = SIZE_MAX);

  // Returns -1 when the program should go on, else the exit code to return now
  // (0 after --help, 2 after a usage error, which is printed to stderr as "TOOL: error: ...").
  int Parse(int argc, char** argv);
  std::string Help() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string kind;  // string | int | double | bool | list
    bool required = false;
    bool seen = false;
    std::function<bool(const std::string&)> set;  // false: bad value
    std::string default_text;
  };
  Flag* Find(const std::string& name);
  std::string tool_;
  std::string summary_;
  std::string epilog_;
  std::string positional_usage_;
  std::vector<std::string>* positional_ = nullptr;
  std::size_t positional_min_ = 0;
  std::size_t positional_max_ = SIZE_MAX;
  std::vector<Flag> flags_;
};

}  // namespace ib::cli
