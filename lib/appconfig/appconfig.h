// The user's own settings for ib: the RunPod API key, a Hugging Face token for gated models and
// the default output directory, kept in ~/.config/ib/config.yaml (0600). The original tool's
// ~/.llm-inf-bench/config.yaml is read as a fallback so existing users keep working.
//
//   std::string error;
//   auto key = ib::appconfig::ResolveApiKey(&error);   // env RUNPOD_API_KEY, then the files
//   if (!key) { /* error says why, or that no key is set anywhere */ }
//
// File layout (the original's keys, plus huggingface.token):
//   runpod:
//     api_key: "..."
//   huggingface:
//     token: "..."
//   defaults:
//     output_dir: ./results
// Secrets are never printed: use Redact() for display.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ib::appconfig {

struct AppConfig {
  std::string runpod_api_key;
  std::string hf_token;
  std::string output_dir = "./results";
  std::string loaded_from;  // the file that was read; empty when none exists
};

// $XDG_CONFIG_HOME/ib (if set), else $HOME/.config/ib.
std::string ConfigDir();
std::string ConfigPath();        // ConfigDir()/config.yaml
std::string LegacyConfigPath();  // $HOME/.llm-inf-bench/config.yaml

// Reads one file. A missing file is an error here; a malformed one says FILE: what.
std::optional<AppConfig> LoadFile(const std::string& path, std::string* error);
// Reads ConfigPath(), else LegacyConfigPath(), else returns the defaults (loaded_from empty).
std::optional<AppConfig> Load(std::string* error);

struct Secret {
  std::string value;
  std::string source;  // "env RUNPOD_API_KEY" or the file path; safe to print
};

// Env RUNPOD_API_KEY, else runpod.api_key of Load(). nullopt with *error explaining how to set
// it when there is none (or when the config file is malformed).
std::optional<Secret> ResolveApiKey(std::string* error);
// Env HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then huggingface.token. nullopt (error empty) when
// unset: a token is only needed for gated models.
std::optional<Secret> ResolveHfToken(std::string* error);

// Creates ConfigDir() and its parents (0700) if missing.
bool EnsureConfigDir(std::string* error);

// `ib-run init`: creates ConfigDir() (0700) and config.yaml (0600) with empty values when the
// file is missing. Never overwrites; *created says which happened.
bool Init(bool* created, std::string* error);

// `ib-run config set KEY VALUE`: KEY is one of SettableKeys() (hf_token is an alias of
// huggingface.token). Creates the file if needed; writes atomically with 0600.
bool Set(const std::string& key, const std::string& value, std::string* error);
std::vector<std::string> SettableKeys();

// "rpa_...wxyz" style: at most the last 4 characters; "(empty)" for "".
std::string Redact(const std::string& secret);

// A warning when the file is readable by group or others; empty otherwise.
std::string PermissionWarning(const std::string& path);

}  // namespace ib::appconfig
