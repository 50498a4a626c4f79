#include "lib/http/session.h"

#include <curl/curl.h>

#include <chrono>
#include <mutex>

namespace ib::http {
namespace {

std::once_flag curl_init_once;

struct BodySink {
  std::string* body;
  std::size_t limit;
  bool over = false;
};

size_t AppendLimited(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  std::size_t n = size * nmemb;
  if (sink->body->size() + n > sink->limit) {
    sink->over = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

}  // namespace

Session::Session() {
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

Session::~Session() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Response Session::Get(const std::string& url, long timeout_ms,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      Response reuse) {
  Response response = std::move(reuse);
  response.status = 0;
  response.body.clear();
  response.error.clear();
  response.elapsed_ms = 0;
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) {
    response.error = "curl_easy_init failed";
    return response;
  }
  curl_slist* header_list = nullptr;
  for (const auto& [k, v] : headers) header_list = curl_slist_append(header_list, (k + ": " + v).c_str());
  BodySink sink{&response.body, max_body_bytes_};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendLimited);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  auto start = std::chrono::steady_clock::now();
  CURLcode rc = curl_easy_perform(curl);
  response.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (sink.over) {
    response.error = "response body larger than " + std::to_string(max_body_bytes_) + " bytes";
  } else if (rc != CURLE_OK) {
    response.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(header_list);
  return response;
}

}  // namespace ib::http
