#include "lib/cli/flags.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "lib/cli/exit_codes.h"

namespace ib::cli {
namespace {

bool ParseInt(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool ParseDouble(const std::string& text, double* out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

Flags::Flags(std::string tool, std::string summary)
    : tool_(std::move(tool)), summary_(std::move(summary)) {}

void Flags::String(const std::string& name, std::string* out, const std::string& help,
                   bool required) {
  flags_.push_back({name, help, "string", required, false,
                    [out](const std::string& v) {
                      *out = v;
                      return true;
                    },
                    out->empty() ? "" : *out});
}

void Flags::Int(const std::string& name, int64_t* out, const std::string& help, bool required) {
  flags_.push_back({name, help, "int", required, false,
                    [out](const std::string& v) { return ParseInt(v, out); },
                    std::to_string(*out)});
}

void Flags::Double(const std::string& name, double* out, const std::string& help, bool required) {
  std::ostringstream d;
  d << *out;
  flags_.push_back({name, help, "double", required, false,
                    [out](const std::string& v) { return ParseDouble(v, out); }, d.str()});
}

void Flags::Bool(const std::string& name, bool* out, const std::string& help) {
  flags_.push_back({name, help, "bool", false, false,
                    [out](const std::string& v) {
                      if (v == "true" || v == "1" || v.empty()) {
                        *out = true;
                      } else if (v == "false" || v == "0") {
                        *out = false;
                      } else {
                        return false;
                      }
                      return true;
                    },
                    *out ? "true" : "false"});
}

void Flags::List(const std::string& name, std::vector<std::string>* out, const std::string& help) {
  flags_.push_back({name, help, "list", false, false,
                    [out](const std::string& v) {
                      out->push_back(v);
                      return true;
                    },
                    ""});
}

void Flags::Positional(const std::string& usage, std::vector<std::string>* out, std::size_t min,
                       std::size_t max) {
  positional_usage_ = usage;
  positional_ = out;
  positional_min_ = min;
  positional_max_ = max;
}

Flags::Flag* Flags::Find(const std::string& name) {
  for (auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string Flags::Help() const {
  std::ostringstream out;
  out << "Usage: " << tool_ << " [flags]" << (positional_usage_.empty() ? "" : " " + positional_usage_)
      << "\n\n"
      << summary_ << "\n\nFlags:\n";
  for (const auto& f : flags_) {
    std::string left = "  --" + f.name;
    if (f.kind != "bool") left += " " + std::string(f.kind == "list" ? "VALUE (repeatable)" : "VALUE");
    out << left;
    if (left.size() < 30) out << std::string(30 - left.size(), ' ');
    else out << "\n" << std::string(30, ' ');
    out << f.help;
    if (f.required) out << " (required)";
    // A help text that states its own default (a computed one) gets no second, raw one.
    else if (!f.default_text.empty() && f.kind != "list" && f.help.find("(default") == std::string::npos)
      out << " (default " << f.default_text << ")";
    out << "\n";
  }
  out << "  --help                      print this help and exit\n";
  if (!epilog_.empty()) out << "\n" << epilog_ << (epilog_.back() == '\n' ? "" : "\n");
  return out.str();
}

int Flags::Parse(int argc, char** argv) {
  auto usage_error = [&](const std::string& message) {
    std::cerr << tool_ << ": error: " << message << "\n(run '" << tool_ << " --help' for usage)\n";
    return ib::exit_code::kUsage;
  };
  std::vector<std::string> positional;
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (only_positional || arg.size() < 2 || arg.rfind("--", 0) != 0) {
      if (arg == "-" || only_positional || arg.empty() || arg[0] != '-') {
        positional.push_back(arg);
        continue;
      }
      return usage_error("unknown flag '" + arg + "' (flags start with --)");
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      std::cout << Help();
      return ib::exit_code::kOk;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    Flag* flag = Find(name);
    if (flag == nullptr && !has_value && name.rfind("no-", 0) == 0) {
      Flag* negated = Find(name.substr(3));
      if (negated != nullptr && negated->kind == "bool") {
        negated->set("false");
        negated->seen = true;
        continue;
      }
    }
    if (flag == nullptr) return usage_error("unknown flag '--" + name + "'");
    if (!has_value && flag->kind != "bool") {
      if (i + 1 >= argc) return usage_error("flag '--" + name + "' needs a value");
      value = argv[++i];
    }
    if (!flag->set(value)) {
      return usage_error("flag '--" + name + "' expects " +
                         (flag->kind == "int" ? std::string("an integer")
                          : flag->kind == "double" ? std::string("a number")
                          : flag->kind == "bool" ? std::string("true or false")
                                                 : std::string("a value")) +
                         ", got '" + value + "'");
    }
    flag->seen = true;
  }
  for (const auto& f : flags_) {
    if (f.required && !f.seen) return usage_error("missing required flag '--" + f.name + "'");
  }
  if (positional_ == nullptr && !positional.empty()) {
    return usage_error("unexpected argument '" + positional[0] + "'");
  }
  if (positional_ != nullptr) {
    if (positional.size() < positional_min_) return usage_error("missing " + positional_usage_);
    if (positional.size() > positional_max_) {
      return usage_error("unexpected argument '" + positional[positional_max_] + "'");
    }
    *positional_ = positional;
  }
  return -1;
}

}  // namespace ib::cli
