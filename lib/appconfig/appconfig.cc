#include "lib/appconfig/appconfig.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace ib::appconfig {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool Exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

// Reads a string at a two-level key; non-scalar values are an error.
bool ReadString(const YAML::Node& root, const char* section, const char* key, std::string* out,
                std::string* error) {
  YAML::Node s = root[section];
  if (!s) return true;
  if (!s.IsMap()) {
    *error = std::string("'") + section + "' must be a mapping";
    return false;
  }
  YAML::Node v = s[key];
  if (!v || v.IsNull()) return true;
  if (!v.IsScalar()) {
    *error = std::string("'") + section + "." + key + "' must be a string";
    return false;
  }
  *out = v.as<std::string>();
  return true;
}

bool MakeDirs(const std::string& dir, std::string* error) {
  std::string partial;
  std::stringstream ss(dir);
  std::string part;
  if (!dir.empty() && dir[0] == '/') partial = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    partial += part + "/";
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = "cannot create " + partial + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

// Writes text to path atomically (temp file in the same directory, then rename), mode 0600.
bool WritePrivate(const std::string& path, const std::string& text, std::string* error) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  ::fchmod(fd, 0600);  // O_CREAT's mode is masked by umask and ignored for an existing file
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "cannot write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

std::string ConfigDir() {
  std::string xdg = Env("XDG_CONFIG_HOME");
  if (!xdg.empty()) return xdg + "/ib";
  return Env("HOME") + "/.config/ib";
}
std::string ConfigPath() { return ConfigDir() + "/config.yaml"; }
std::string LegacyConfigPath() { return Env("HOME") + "/.llm-inf-bench/config.yaml"; }

bool EnsureConfigDir(std::string* error) { return MakeDirs(ConfigDir(), error); }

std::optional<AppConfig> LoadFile(const std::string& path, std::string* error) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    *error = path + ": cannot read the file";
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    *error = path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg;
    return std::nullopt;
  }
  AppConfig config;
  config.loaded_from = path;
  if (root.IsNull()) return config;  // an empty file: defaults
  if (!root.IsMap()) {
    *error = path + ": expected a YAML mapping";
    return std::nullopt;
  }
  std::string why;
  if (!ReadString(root, "runpod", "api_key", &config.runpod_api_key, &why) ||
      !ReadString(root, "huggingface", "token", &config.hf_token, &why) ||
      !ReadString(root, "defaults", "output_dir", &config.output_dir, &why)) {
    *error = path + ": " + why;
    return std::nullopt;
  }
  return config;
}

std::optional<AppConfig> Load(std::string* error) {
  for (const std::string& path : {ConfigPath(), LegacyConfigPath()}) {
    if (Exists(path)) return LoadFile(path, error);
  }
  return AppConfig{};
}

std::optional<Secret> ResolveApiKey(std::string* error) {
  std::string env = Env("RUNPOD_API_KEY");
  if (!env.empty()) return Secret{env, "env RUNPOD_API_KEY"};
  auto config = Load(error);
  if (!config) return std::nullopt;
  if (!config->runpod_api_key.empty()) return Secret{config->runpod_api_key, config->loaded_from};
  *error = "No RunPod API key found. Set RUNPOD_API_KEY or run 'ib-run config set runpod.api_key KEY' (writes " +
           ConfigPath() + ")";
  return std::nullopt;
}

std::optional<Secret> ResolveHfToken(std::string* error) {
  for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    std::string env = Env(name);
    if (!env.empty()) return Secret{env, std::string("env ") + name};
  }
  auto config = Load(error);
  if (!config) return std::nullopt;
  if (!config->hf_token.empty()) return Secret{config->hf_token, config->loaded_from};
  return std::nullopt;
}

bool Init(bool* created, std::string* error) {
  *created = false;
  std::string path = ConfigPath();
  if (Exists(path)) return true;
  if (!MakeDirs(ConfigDir(), error)) return false;
  const std::string text =
      "# ib settings (ib-run config set KEY VALUE). Keep this file private (mode 0600).\n"
      "runpod:\n  api_key: \"\"\nhuggingface:\n  token: \"\"\ndefaults:\n  output_dir: ./results\n";
  if (!WritePrivate(path, text, error)) return false;
  *created = true;
  return true;
}

std::vector<std::string> SettableKeys() {
  return {"runpod.api_key", "huggingface.token", "hf_token", "defaults.output_dir"};
}

bool Set(const std::string& key, const std::string& value, std::string* error) {
  std::string canonical = key == "hf_token" ? "huggingface.token" : key;
  bool known = false;
  for (const auto& k : SettableKeys()) known = known || k == canonical;
  if (!known) {
    std::string list;
    for (const auto& k : SettableKeys()) list += (list.empty() ? "" : ", ") + k;
    *error = "unknown key '" + key + "' (known: " + list + ")";
    return false;
  }
  std::string path = ConfigPath();
  YAML::Node root = YAML::Node(YAML::NodeType::Map);
  if (Exists(path)) {
    try {
      root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
      *error = path + ": " + e.msg + " (fix or remove the file first)";
      return false;
    }
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) {
      *error = path + ": expected a YAML mapping (fix or remove the file first)";
      return false;
    }
  } else if (!MakeDirs(ConfigDir(), error)) {
    return false;
  }
  auto dot = canonical.find('.');
  std::string section = canonical.substr(0, dot), name = canonical.substr(dot + 1);
  if (root[section] && !root[section].IsMap()) root[section] = YAML::Node(YAML::NodeType::Map);
  root[section][name] = value;
  YAML::Emitter out;
  out << root;
  return WritePrivate(path, std::string(out.c_str()) + "\n", error);
}

// No character of a secret is ever shown (README: "never printed"), only that one is set.
std::string Redact(const std::string& secret) {
  if (secret.empty()) return "(empty)";
  return "(hidden, " + std::to_string(secret.size()) + " characters)";
}

std::string PermissionWarning(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return "";
  if ((st.st_mode & 077) == 0) return "";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%03o", st.st_mode & 0777);
  return path + " is readable by others (mode " + mode + "); run: chmod 600 " + path;
}

}  // namespace ib::appconfig
