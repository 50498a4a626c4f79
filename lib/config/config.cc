// Loading entry points: file -> extends chain -> section readers -> prompt-file check, with
// every diagnostic in file order.
#include "lib/config/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/config/extends.h"
#include "lib/config/reader.h"
#include "lib/config/sections.h"
#include "lib/config/yaml_tree.h"
#include "lib/prompts/prompts.h"
#include "lib/prompts/sharegpt.h"

namespace ib::config {
namespace {

namespace fs = std::filesystem;
using internal::Chain;
using internal::DisplayPath;
using internal::Node;
using internal::Reader;

// Prompt files are checked before anything costs money (the original found a missing file
// only after the pod was up and healthy).
void CheckPrompts(const Node& root, const ExperimentConfig& c, Reader& r) {
  const auto& w = c.workload;
  if (w.requests.source.empty() || w.requests.count < 1) return;
  const Node* source = nullptr;
  if (const Node* wl = root.Get("workload")) {
    if (const Node* req = wl->Get("requests")) source = req->Get("source");
  }
  std::string error;
  if (IsShareGpt(w)) {
    // The whole dataset is read (streamed), so a bad entry anywhere stops the run here, at the
    // dataset's own line.
    prompts::DatasetError e;
    prompts::ShareGptOptions o = ShareGptOptionsOf(w);
    if (!prompts::LoadShareGpt(DisplayPath(w.requests.source), 1, o, &e)) {
      Node at;
      at.file = w.requests.source;
      at.line = static_cast<int>(e.line);
      std::string key = "workload.requests.source";
      if (source) key += " (" + DisplayPath(source->file) + ":" + std::to_string(source->line) + ")";
      r.Error(e.line > 0 ? &at : source, "", key + ": " + e.message);
    }
    return;
  }
  if (w.type == "multi_turn") {
    if (!w.conversation) return;
    if (!prompts::LoadConversations(DisplayPath(w.requests.source), 1, w.conversation->turns, w.conversation->system_prompt,
                                    w.conversation->user_messages, &error)) {
      r.Error(source, "", "workload.requests.source: " + error);
    }
  } else if (!prompts::LoadPrompts(DisplayPath(w.requests.source), 1, &error)) {
    r.Error(source, "", "workload.requests.source: " + error);
  }
}

// A trace is read once through its replayed window now, so a bad line stops the run before
// anything starts (naming the trace's FILE:LINE), and its request count is known.
void CheckTrace(const Node& root, ExperimentConfig& c, Reader& r) {
  auto& w = c.workload;
  if (w.type != "trace" || !w.trace) return;
  const Node* at = root.Get("workload")->Get("trace");
  trace::Scan scan = trace::ScanReplay(*w.trace);
  if (!scan.error.empty()) {
    if (scan.line == 0) {
      r.Error(at->Get("file"), "", "workload.trace.file: " + scan.error + " " + DisplayPath(w.trace->file) +
                                       (std::filesystem::exists(w.trace->file) ? "" : " (no such file)"));
    } else {
      r.ErrorAt(w.trace->file, scan.line, "trace line " + std::to_string(scan.line) + ": " + scan.error);
    }
    return;
  }
  if (scan.requests == 0) {
    r.Error(at, "", "workload.trace selects no requests from " + DisplayPath(w.trace->file) +
                        " (check start_s and duration_s against the trace's timestamps)");
    return;
  }
  w.requests.count = scan.requests;
}

LoadResult LoadFromText(const std::string& yaml, const std::string& path) {
  LoadResult result;
  std::string abs = fs::absolute(path).lexically_normal().string();
  Chain chain;
  std::error_code ec;
  chain.emplace_back(fs::weakly_canonical(abs, ec).string(), abs);
  auto root = internal::LoadChain(yaml, abs, chain, &result.diagnostics);
  if (!root) return result;
  ExperimentConfig config;
  config.source_file = abs;
  Reader reader(&result.diagnostics);
  internal::ReadConfig(*root, config, reader);
  if (result.diagnostics.empty()) CheckPrompts(*root, config, reader);
  if (result.diagnostics.empty()) CheckTrace(*root, config, reader);
  // Report in file order so the output reads top to bottom.
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.file == b.file ? a.line < b.line : a.file < b.file;
  });
  if (result.diagnostics.empty()) result.config = std::move(config);
  return result;
}

}  // namespace

bool IsShareGpt(const ExperimentConfig::Workload& w) {
  if (w.requests.source.empty()) return false;
  if (w.requests.format == "sharegpt") return true;
  return w.requests.format.empty() && prompts::LooksLikeShareGpt(w.requests.source);
}

prompts::ShareGptOptions ShareGptOptionsOf(const ExperimentConfig::Workload& w) {
  prompts::ShareGptOptions o;
  o.max_prompt_tokens = w.requests.max_prompt_tokens;
  o.max_total_tokens = w.requests.max_total_tokens;
  o.output_len_from_dataset = w.requests.output_len_from_dataset;
  o.turns = w.type == "multi_turn" && w.conversation ? w.conversation->turns : 0;
  return o;
}

std::string Diagnostic::Format(const std::string& tool) const {
  std::string where = file;
  if (line > 0) where += ":" + std::to_string(line);
  return tool + ": error (at " + where + "): " + message;
}

int64_t ExperimentConfig::TotalRequests() const {
  if (workload.type == "multi_turn" && workload.conversation) {
    return workload.requests.count * workload.conversation->turns;
  }
  return workload.requests.count;
}

LoadResult LoadExperiment(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    LoadResult result;
    Diagnostic d;
    d.file = path;
    struct stat st{};
    d.message = ::stat(path.c_str(), &st) == 0 ? "cannot read config file" : "config file not found";
    result.diagnostics.push_back(d);
    return result;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadFromText(ss.str(), path);
}

LoadResult LoadExperimentFromString(const std::string& yaml, const std::string& path) {
  return LoadFromText(yaml, path);
}

}  // namespace ib::config
