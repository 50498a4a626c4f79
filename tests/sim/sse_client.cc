#include "tests/sim/sse_client.h"

#include <curl/curl.h>
#include <time.h>

namespace ib::testing {

namespace {
int64_t Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct State {
  SseResult* result;
  std::string pending;
};

size_t OnData(char* ptr, size_t size, size_t n, void* user) {
  int64_t t = Now();
  auto* st = static_cast<State*>(user);
  st->result->body.append(ptr, size * n);
  st->pending.append(ptr, size * n);
  size_t pos;
  while ((pos = st->pending.find("\n\n")) != std::string::npos) {
    std::string ev = st->pending.substr(0, pos);
    st->pending.erase(0, pos + 2);
    if (ev.rfind("data: ", 0) == 0) ev.erase(0, 6);
    st->result->events.push_back({ev, t});
  }
  return size * n;
}
}  // namespace

SseResult PostStream(const std::string& url, const std::string& body, long timeout_ms,
                     const std::vector<std::string>& headers) {
  SseResult result;
  State st{&result, {}};
  CURL* c = curl_easy_init();
  curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
  for (const auto& line : headers) h = curl_slist_append(h, line.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  result.curl_code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return result;
}

}  // namespace ib::testing
