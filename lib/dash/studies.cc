#include "lib/dash/studies.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "lib/dash/paths.h"

namespace ib::dash {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSuffix = ".study.json";

std::string Stem(std::string_view id) {
  if (id.size() > kSuffix.size() && id.ends_with(kSuffix)) id.remove_suffix(kSuffix.size());
  return std::string(id);
}

bool ReadText(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// "" when `j` is a study file, else why not.
std::string StudyProblem(const json& j) {
  if (j.is_discarded()) return "not valid JSON";
  if (!j.is_object()) return "not a JSON object";
  if (!j.contains("study_id") || !j["study_id"].is_string()) return "no study_id";
  if (!j.contains("curve") || !j["curve"].is_array()) return "no curve";
  return "";
}

std::string Identity(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

json Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key] : json(nullptr);
}
json Num(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key] : json(nullptr);
}

json Entry(const std::string& path, const std::string& stem) {
  json e = {{"study_id", stem}, {"kind", nullptr}, {"status", nullptr}, {"over", nullptr},
            {"name", nullptr}, {"framework", nullptr}, {"model", nullptr}, {"gpu_type", nullptr},
            {"gpu_count", nullptr}, {"run_ids", json::array()}, {"points", 0},
            {"answer_value", nullptr}, {"answer_output_tok_s", nullptr},
            {"usd_per_million_output_tokens", nullptr}, {"modified_at", nullptr},
            {"readable", true}, {"error", nullptr}};
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) {
    e["modified_at"] = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  }
  std::string text;
  if (!ReadText(path, &text)) {
    e["readable"] = false;
    e["error"] = "cannot read";
    return e;
  }
  json j = json::parse(text, nullptr, false);
  if (std::string why = StudyProblem(j); !why.empty()) {
    e["readable"] = false;
    e["error"] = "not a study file: " + why;
    return e;
  }
  e["kind"] = Str(j, "kind");
  e["status"] = Str(j, "status");
  e["over"] = Str(j, "over");
  const json& config = j.contains("config") ? j["config"] : json::object();
  e["name"] = Str(config, "name");
  e["framework"] = Str(config, "framework");
  if (config.is_object() && config.contains("model")) e["model"] = Str(config["model"], "name");
  if (config.is_object() && config.contains("infrastructure")) {
    e["gpu_type"] = Str(config["infrastructure"], "gpu_type");
    e["gpu_count"] = Num(config["infrastructure"], "gpu_count");
  }
  if (j.contains("iterations") && j["iterations"].is_array()) {
    for (const auto& it : j["iterations"]) {
      if (it.is_object() && it.contains("run_id") && it["run_id"].is_string()) e["run_ids"].push_back(it["run_id"]);
    }
  }
  e["points"] = j["curve"].size();
  if (j.contains("answer")) {
    e["answer_value"] = Num(j["answer"], "value");
    e["answer_output_tok_s"] = Num(j["answer"], "output_tok_s");
  }
  if (j.contains("cost")) e["usd_per_million_output_tokens"] = Num(j["cost"], "usd_per_million_output_tokens");
  return e;
}

}  // namespace

json ListStudies(const std::string& results_dir) {
  json out = json::array();
  std::string root = CanonicalDir(results_dir);
  if (root.empty()) return out;
  std::error_code ec;
  for (fs::directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with(".") || !name.ends_with(kSuffix) || name.size() == kSuffix.size()) continue;
    std::string stem = Stem(name);
    if (!IsValidRunId(stem)) continue;
    auto resolved = ResolveUnder(root, name);  // a symlink out of results/ is not listed
    if (!std::holds_alternative<std::string>(resolved)) continue;
    out.push_back(Entry(std::get<std::string>(resolved), stem));
  }
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
    auto ma = a["modified_at"].is_number() ? a["modified_at"].get<int64_t>() : 0;
    auto mb = b["modified_at"].is_number() ? b["modified_at"].get<int64_t>() : 0;
    return ma != mb ? ma > mb : a["study_id"].get<std::string>() > b["study_id"].get<std::string>();
  });
  return out;
}

StudyFile ReadStudyFile(const std::string& results_dir, const std::string& study_id) {
  std::string stem = Stem(study_id);
  auto error = [&](int status, const std::string& message) {
    return StudyFile{status, json{{"error", message}, {"study_id", stem}}.dump()};
  };
  if (!IsValidRunId(stem)) return error(400, "bad study id");
  auto resolved = ResolveUnder(results_dir, stem + std::string(kSuffix));
  if (std::holds_alternative<ResolveError>(resolved)) return error(404, "no study " + stem);
  std::string body;
  if (!ReadText(std::get<std::string>(resolved), &body)) return error(404, "no study " + stem);
  if (std::string why = StudyProblem(json::parse(body, nullptr, false)); !why.empty()) {
    return error(422, "study file " + stem + ".study.json is unreadable: " + why);
  }
  return {200, std::move(body)};
}

void StudyWatcher::Note(const events::Event& event) {
  const auto* phase = std::get_if<events::Phase>(&event);
  if (phase == nullptr || phase->phase != events::phase::kSweepIteration) return;
  if (!phase->data.is_object() || !phase->data.contains("study_id") || !phase->data["study_id"].is_string()) return;
  std::string id = phase->data["study_id"].get<std::string>();
  if (!IsValidRunId(id)) return;
  std::lock_guard lock(mu_);
  if (id != id_) {
    id_ = id;
    seen_.clear();
  }
}

std::string StudyWatcher::current() const {
  std::lock_guard lock(mu_);
  return id_;
}

std::optional<json> StudyWatcher::Poll() {
  std::string id;
  {
    std::lock_guard lock(mu_);
    id = id_;
  }
  if (id.empty()) return std::nullopt;
  auto resolved = ResolveUnder(dir_, id + std::string(kSuffix));
  if (!std::holds_alternative<std::string>(resolved)) return std::nullopt;  // not written yet
  const std::string& path = std::get<std::string>(resolved);
  std::string identity = Identity(path);
  {
    std::lock_guard lock(mu_);
    if (id != id_ || identity.empty() || identity == seen_) return std::nullopt;
  }
  std::string text;
  if (!ReadText(path, &text)) return std::nullopt;
  json j = json::parse(text, nullptr, false);
  if (!StudyProblem(j).empty()) return std::nullopt;  // ib-run renames whole files: next tick
  std::lock_guard lock(mu_);
  if (id != id_) return std::nullopt;
  seen_ = identity;
  return json{{"type", "study"}, {"study_id", id}, {"data", std::move(j)}};
}

}  // namespace ib::dash
