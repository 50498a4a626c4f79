#include "lib/runpod/client.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "lib/http/http.h"

namespace ib::runpod {
namespace {

std::string PercentEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string StringField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<double> NumberOrString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) {
    char* end = nullptr;
    std::string s = it->get<std::string>();
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() && *end == '\0') return v;
  }
  return std::nullopt;
}

std::string Shorten(const std::string& body) {
  std::string s = body.substr(0, 300);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

std::string DefaultApiBase() {
  const char* env = std::getenv("IB_RUNPOD_API_BASE");
  return env && *env ? ib::http::TrimSlash(env) : "https://rest.runpod.io/v1";
}

std::string DefaultProxyTemplate() {
  const char* env = std::getenv("IB_RUNPOD_PROXY_TEMPLATE");
  return env && *env ? env : "https://{pod_id}-{port}.proxy.runpod.net";
}

std::optional<Pod> ParsePod(const nlohmann::json& j, std::string* error) {
  if (!j.is_object()) {
    *error = "a pod must be a JSON object";
    return std::nullopt;
  }
  Pod pod;
  pod.id = StringField(j, "id");
  if (pod.id.empty()) {
    *error = "the pod has no 'id'";
    return std::nullopt;
  }
  pod.name = StringField(j, "name");
  pod.desired_status = StringField(j, "desiredStatus");
  pod.image = StringField(j, "image");
  if (pod.image.empty()) pod.image = StringField(j, "imageName");
  pod.public_ip = StringField(j, "publicIp");
  pod.last_started_at = StringField(j, "lastStartedAt");
  pod.cost_per_hr = NumberOrString(j, "costPerHr");
  if (!pod.cost_per_hr) pod.cost_per_hr = NumberOrString(j, "adjustedCostPerHr");
  if (auto m = j.find("machine"); m != j.end() && m->is_object()) {
    pod.gpu_type_id = StringField(*m, "gpuTypeId");
  }
  if (auto g = j.find("gpu"); g != j.end() && g->is_object()) {
    if (pod.gpu_type_id.empty()) pod.gpu_type_id = StringField(*g, "id");
    if (auto c = NumberOrString(*g, "count")) pod.gpu_count = static_cast<int64_t>(*c);
  }
  if (pod.gpu_count == 0) {
    if (auto c = NumberOrString(j, "gpuCount")) pod.gpu_count = static_cast<int64_t>(*c);
  }
  if (auto pm = j.find("portMappings"); pm != j.end() && pm->is_object()) {
    for (auto it = pm->begin(); it != pm->end(); ++it) {
      if (it.value().is_number_integer()) pod.port_mappings[it.key()] = it.value().get<int64_t>();
    }
  }
  if (auto env = j.find("env"); env != j.end()) {
    if (env->is_object()) {
      for (auto it = env->begin(); it != env->end(); ++it) {
        if (it.value().is_string()) pod.env[it.key()] = it.value().get<std::string>();
      }
    } else if (env->is_array()) {  // GraphQL's ["KEY=value", ...] form
      for (const auto& e : *env) {
        if (!e.is_string()) continue;
        std::string s = e.get<std::string>();
        auto eq = s.find('=');
        if (eq != std::string::npos) pod.env[s.substr(0, eq)] = s.substr(eq + 1);
      }
    }
  }
  return pod;
}

std::optional<std::time_t> ParseTimestamp(const std::string& text) {
  int y, mo, d, h, mi;
  double sec;
  char sep;
  if (std::sscanf(text.c_str(), "%d-%d-%d%c%d:%d:%lf", &y, &mo, &d, &sep, &h, &mi, &sec) != 7 ||
      (sep != 'T' && sep != ' ')) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = static_cast<int>(sec);
  std::time_t t = timegm(&tm);
  // Go's form carries an offset ("+0000 UTC"); ISO carries Z or +hh:mm.
  auto tail = text.find_first_of("+-", 19);
  if (tail != std::string::npos) {
    int oh = 0, om = 0;
    std::string off = text.substr(tail + 1);
    if (std::sscanf(off.c_str(), "%2d:%2d", &oh, &om) == 2 || std::sscanf(off.c_str(), "%2d%2d", &oh, &om) == 2) {
      int offset = (oh * 3600 + om * 60) * (text[tail] == '-' ? -1 : 1);
      t -= offset;
    }
  }
  return t;
}

std::optional<std::string> ServerUrl(const std::string& url_template, const Pod& pod, int port) {
  std::string out = url_template;
  auto replace = [&out](const std::string& name, const std::string& value) {
    for (auto pos = out.find(name); pos != std::string::npos; pos = out.find(name, pos + value.size())) {
      out.replace(pos, name.size(), value);
    }
  };
  std::string port_text = std::to_string(port);
  if (out.find("{public_ip}") != std::string::npos) {
    if (pod.public_ip.empty()) return std::nullopt;
    replace("{public_ip}", pod.public_ip);
  }
  if (out.find("{public_port}") != std::string::npos) {
    auto it = pod.port_mappings.find(port_text);
    if (it == pod.port_mappings.end()) return std::nullopt;
    replace("{public_port}", std::to_string(it->second));
  }
  replace("{pod_id}", pod.id);
  replace("{port}", port_text);
  return ib::http::TrimSlash(out);
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  options_.api_base = ib::http::TrimSlash(options_.api_base);
  if (!options_.sleep) {
    options_.sleep = [](int ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return true;
    };
  }
  if (options_.max_attempts < 1) options_.max_attempts = 1;
}

bool Client::Call(const std::string& method, const std::string& path, const std::string& request_body,
                  int attempts, std::string* body, long* status, ApiError* error) {
  ib::http::Request req;
  req.method = method;
  req.url = options_.api_base + path;
  req.headers = {{"Authorization", "Bearer " + options_.api_key}, {"Accept", "application/json"}};
  if (!request_body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  req.body = request_body;
  req.timeout_ms = options_.timeout_ms;
  req.connect_timeout_ms = std::min<long>(options_.timeout_ms, 5000);
  int backoff = options_.backoff_ms;
  for (int attempt = 1;; ++attempt) {
    ib::http::Response resp = ib::http::Send(req);
    *status = resp.status;
    if (resp.error.empty() && resp.status >= 200 && resp.status < 300) {
      *body = std::move(resp.body);
      return true;
    }
    error->status = resp.status;
    error->transient = !resp.error.empty() || resp.status == 429 || resp.status >= 500;
    std::string what = resp.error.empty()
                           ? "HTTP " + std::to_string(resp.status) + (resp.body.empty() ? "" : ": " + Shorten(resp.body))
                           : resp.error;
    error->message = method + " " + path + ": " + what;
    if (attempts > 1) error->message += " (attempt " + std::to_string(attempt) + "/" + std::to_string(attempts) + ")";
    if (!error->transient || attempt >= attempts) return false;
    if (!options_.sleep(backoff)) return false;
    backoff *= 2;
  }
}

bool Client::CreatePod(const nlohmann::json& request, Pod* pod, ApiError* error) {
  std::string body;
  long status = 0;
  if (!Call("POST", "/pods", request.dump(), 1, &body, &status, error)) return false;
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string why;
  auto parsed = j.is_discarded() ? std::nullopt : ParsePod(j, &why);
  if (!parsed) {
    // A 2xx without a usable pod: a pod may exist, so treat it as ambiguous (transient).
    *error = {status, "POST /pods: unusable answer: " + (why.empty() ? "not JSON" : why), true};
    return false;
  }
  *pod = *parsed;
  return true;
}

bool Client::GetPod(const std::string& id, Pod* pod, ApiError* error) {
  std::string body;
  long status = 0;
  if (!Call("GET", "/pods/" + PercentEncode(id), "", options_.max_attempts, &body, &status, error)) return false;
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string why;
  auto parsed = j.is_discarded() ? std::nullopt : ParsePod(j, &why);
  if (!parsed) {
    *error = {status, "GET /pods/" + id + ": unusable answer: " + (why.empty() ? "not JSON" : why), true};
    return false;
  }
  *pod = *parsed;
  return true;
}

bool Client::ListPods(std::vector<Pod>* pods, ApiError* error, const std::string& name) {
  std::string body;
  long status = 0;
  std::string path = name.empty() ? "/pods" : "/pods?name=" + PercentEncode(name);
  if (!Call("GET", path, "", options_.max_attempts, &body, &status, error)) return false;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    *error = {status, "GET " + path + ": expected a JSON array of pods", true};
    return false;
  }
  pods->clear();
  for (const auto& item : j) {
    std::string why;
    if (auto pod = ParsePod(item, &why)) {
      if (name.empty() || pod->name == name) pods->push_back(*pod);
    }
  }
  return true;
}

bool Client::DeletePod(const std::string& id, ApiError* error) {
  std::string body;
  long status = 0;
  if (Call("DELETE", "/pods/" + PercentEncode(id), "", options_.max_attempts, &body, &status, error)) return true;
  return error->not_found();
}

}  // namespace ib::runpod
