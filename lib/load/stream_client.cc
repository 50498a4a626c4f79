#include "lib/load/stream_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "lib/sse/sse.h"

namespace ib::load {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr std::size_t kMaxMalformedShown = 200;

struct Transfer {
  CURL* easy = nullptr;
  Request request;
  Observation obs;
  sse::Parser parser;
  int64_t last_bytes_ns = 0;
  int64_t sent_ns = 0;  // the request about to be written to its connection (OnPrereq)
  std::size_t slot = 0;  // position in Impl::active
  char curl_error[CURL_ERROR_SIZE] = {0};
  StreamClient::Stats* stats = nullptr;

  void OnEvent(std::string_view data, int64_t now) {
    ++obs.sse_events;
    ++stats->sse_events;
    if (obs.saw_done) return;  // nothing after [DONE] counts
    sse::Chunk chunk;
    if (!sse::ParseChunk(data, &chunk, request.keep_content)) {
      if (obs.malformed_events++ == 0) obs.first_malformed = std::string(data.substr(0, kMaxMalformedShown));
      return;
    }
    if (chunk.done) {
      obs.saw_done = true;
      return;
    }
    if (chunk.error) {
      if (!obs.sse_error) obs.sse_error_message = chunk.error_message;
      obs.sse_error = true;
      return;
    }
    if (chunk.has_choices) {
      obs.choice_ns.push_back(now);
      obs.choice_usage.push_back(chunk.completion_tokens.value_or(-1));
      obs.choice_content.push_back(chunk.has_content);
    }
    if (chunk.has_content) {
      if (!obs.first_content_ns) obs.first_content_ns = now;
      ++obs.content_events;
      if (request.keep_content) obs.content += chunk.content;
    }
    if (chunk.prompt_tokens) obs.usage_prompt_tokens = chunk.prompt_tokens;
    if (chunk.completion_tokens) obs.usage_completion_tokens = chunk.completion_tokens;
  }
};

size_t OnWrite(char* bytes, size_t size, size_t nmemb, void* user) {
  int64_t now = NowNs();  // first thing: the arrival stamp of these bytes
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  t->last_bytes_ns = now;
  t->stats->bytes += static_cast<int64_t>(n);
  if (t->obs.http_status == 0) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->obs.http_status);
  if (t->obs.http_status < 200 || t->obs.http_status >= 300) {
    if (t->obs.error_body.size() < kMaxErrorBody)
      t->obs.error_body.append(bytes, std::min(n, kMaxErrorBody - t->obs.error_body.size()));
    return n;
  }
  t->parser.Feed(bytes, n, [&](std::string_view data) { t->OnEvent(data, now); });
  return n;
}

// Headers arrive before the body: the first byte of any kind ends the "idle" wait too.
size_t OnHeader(char*, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->last_bytes_ns = NowNs();
  return size * nmemb;
}

// The moment the request is about to be written to its connection (libcurl calls this once
// the connection is up or reused, right before sending). Latencies count from here, not from
// when the request was handed to libcurl: one thread starting 1,000 requests at once connects
// and writes them one after another (~30-130 us each here), so the last one leaves tens of ms
// after its start; that wait is the client's, not the server's, and must not count as TTFT.
// Taken before the write, so the server can never see the request before this instant.
int OnPrereq(void* user, char*, char*, int, int) {
  static_cast<Transfer*>(user)->sent_ns = NowNs();
  return CURL_PREREQFUNC_OK;
}

std::once_flag curl_global_once;

}  // namespace

struct StreamClient::Impl {
  Options options;
  CURLM* multi = nullptr;
  curl_slist* headers = nullptr;
  int epoll_fd = -1;
  int timer_fd = -1;
  int wake_read = -1, wake_write = -1;
  int64_t curl_deadline_ns = -1;  // from libcurl's timer callback; -1: none
  int64_t armed_ns = -2;          // what timer_fd is armed for
  int64_t next_idle_check_ns = -1;
  std::vector<Transfer*> active;
  std::vector<CURL*> spare_easy;
  Stats* stats = nullptr;

  ~Impl() {
    for (Transfer* t : active) {
      curl_multi_remove_handle(multi, t->easy);
      curl_easy_cleanup(t->easy);
      delete t;
    }
    for (CURL* e : spare_easy) curl_easy_cleanup(e);
    if (multi) curl_multi_cleanup(multi);
    if (headers) curl_slist_free_all(headers);
    for (int fd : {epoll_fd, timer_fd, wake_read, wake_write})
      if (fd >= 0) close(fd);
  }

  static int OnSocket(CURL*, curl_socket_t s, int what, void* userp, void* socketp) {
    auto* self = static_cast<Impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, s, nullptr);
      curl_multi_assign(self->multi, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    ev.data.fd = s;
    if (socketp) {
      epoll_ctl(self->epoll_fd, EPOLL_CTL_MOD, s, &ev);
    } else {
      epoll_ctl(self->epoll_fd, EPOLL_CTL_ADD, s, &ev);
      curl_multi_assign(self->multi, s, self);  // any non-null marks it registered
    }
    return 0;
  }

  static int OnTimer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    self->curl_deadline_ns = timeout_ms < 0 ? -1 : NowNs() + int64_t{timeout_ms} * 1'000'000;
    return 0;
  }

  static int OnSockopt(void*, curl_socket_t, curlsocktype) {
    // TCP_NODELAY is set by libcurl (CURLOPT_TCP_NODELAY). The kernel's receive-buffer
    // autotuning is kept: a fixed SO_RCVBUF would switch it off.
    return CURL_SOCKOPT_OK;
  }

  void Arm(int64_t at_ns) {
    if (at_ns == armed_ns) return;
    armed_ns = at_ns;
    itimerspec its{};
    if (at_ns >= 0) {
      int64_t ns = std::max<int64_t>(at_ns, 1);
      its.it_value.tv_sec = ns / 1'000'000'000;
      its.it_value.tv_nsec = ns % 1'000'000'000;
    }
    timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, nullptr);
  }

  void Finish(Transfer* t, std::vector<Result>* done) {
    if (t->sent_ns > t->obs.start_ns) t->obs.start_ns = t->sent_ns;  // see OnPrereq
    // Remove from the active list in O(1).
    Transfer* last = active.back();
    active[t->slot] = last;
    last->slot = t->slot;
    active.pop_back();
    curl_multi_remove_handle(multi, t->easy);
    t->parser.Finish([&](std::string_view data) { t->OnEvent(data, t->obs.end_ns); });
    // Connected: a response came, a new connection was made, or a kept-alive one was reused
    // (NUM_CONNECTS 0).
    long new_connections = 0;
    curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &new_connections);
    curl_off_t connect_us = 0;
    curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    t->obs.connected = connect_us > 0 || t->obs.http_status != 0 || new_connections == 0;
    if (t->obs.http_status == 0) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->obs.http_status);
    spare_easy.push_back(t->easy);
    done->push_back(Result{std::move(t->request), std::move(t->obs)});
    delete t;
  }

  void DrainMessages(std::vector<Result>* done) {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      t->obs.end_ns = std::max(NowNs(), t->last_bytes_ns);
      if (t->last_bytes_ns > 0 && msg->data.result == CURLE_OK) t->obs.end_ns = t->last_bytes_ns;
      t->obs.curl_code = msg->data.result;
      if (msg->data.result != CURLE_OK)
        t->obs.curl_error = t->curl_error[0] ? t->curl_error : curl_easy_strerror(msg->data.result);
      Finish(t, done);
    }
  }

  void CheckIdle(int64_t now, std::vector<Result>* done) {
    int64_t idle_ns = static_cast<int64_t>(options.idle_timeout_s * 1e9);
    for (std::size_t i = 0; i < active.size();) {
      Transfer* t = active[i];
      if (now - t->last_bytes_ns >= idle_ns) {
        t->obs.idle_timed_out = true;
        t->obs.end_ns = now;
        Finish(t, done);  // moves the last element into slot i
      } else {
        ++i;
      }
    }
  }
};

StreamClient::StreamClient(Options options) : impl_(std::make_unique<Impl>()) {
  std::call_once(curl_global_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  Impl& m = *impl_;
  m.options = std::move(options);
  m.stats = &stats_;
  m.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  m.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int pipe_fds[2] = {-1, -1};
  if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) == 0) {
    m.wake_read = pipe_fds[0];
    m.wake_write = pipe_fds[1];
  }
  m.multi = curl_multi_init();
  if (m.epoll_fd < 0 || m.timer_fd < 0 || m.wake_read < 0 || !m.multi) {
    error_ = std::string("cannot set up the event loop: ") + std::strerror(errno);
    return;
  }
  for (int fd : {m.timer_fd, m.wake_read}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(m.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  curl_multi_setopt(m.multi, CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
  curl_multi_setopt(m.multi, CURLMOPT_SOCKETDATA, &m);
  curl_multi_setopt(m.multi, CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
  curl_multi_setopt(m.multi, CURLMOPT_TIMERDATA, &m);
  curl_multi_setopt(m.multi, CURLMOPT_MAXCONNECTS, static_cast<long>(std::max<int64_t>(m.options.max_connections, 1)));
  curl_multi_setopt(m.multi, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
  m.headers = curl_slist_append(m.headers, "Content-Type: application/json");
  m.headers = curl_slist_append(m.headers, "Accept: text/event-stream");
  m.headers = curl_slist_append(m.headers, "Expect:");  // no 100-continue wait on long bodies
}

StreamClient::~StreamClient() = default;

int StreamClient::wake_fd() const { return impl_->wake_write; }

std::size_t StreamClient::in_flight() const { return impl_->active.size(); }

void StreamClient::Start(Request request) {
  Impl& m = *impl_;
  auto* t = new Transfer;
  t->stats = &stats_;
  t->request = std::move(request);
  if (!m.spare_easy.empty()) {
    t->easy = m.spare_easy.back();
    m.spare_easy.pop_back();
  } else {
    t->easy = curl_easy_init();
  }
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, m.options.url.c_str());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->request.body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, m.headers);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_error);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, &Impl::OnSockopt);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &OnPrereq);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(m.options.timeout_s * 1000));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(m.options.connect_timeout_s * 1000));
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  t->slot = m.active.size();
  m.active.push_back(t);
  t->obs.start_ns = NowNs();
  t->last_bytes_ns = t->obs.start_ns;
  curl_multi_add_handle(m.multi, e);
  int64_t check = t->obs.start_ns + static_cast<int64_t>(m.options.idle_timeout_s * 1e9);
  if (m.next_idle_check_ns < 0 || check < m.next_idle_check_ns) m.next_idle_check_ns = check;
}

void StreamClient::RunOnce(int64_t deadline_ns, std::vector<Result>* done) {
  Impl& m = *impl_;
  int running = 0;
  int64_t now = NowNs();
  const std::size_t done_before = done->size();
  // Due libcurl timers first (a freshly added handle asks for 0 ms): sends go out now.
  if (m.curl_deadline_ns >= 0 && m.curl_deadline_ns <= now) {
    m.curl_deadline_ns = -1;
    curl_multi_socket_action(m.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    m.DrainMessages(done);
    if (done->size() > done_before) return;
    now = NowNs();
  }
  int64_t wake = deadline_ns;
  for (int64_t t : {m.curl_deadline_ns, m.active.empty() ? int64_t{-1} : m.next_idle_check_ns})
    if (t >= 0 && (wake < 0 || t < wake)) wake = t;
  if (wake >= 0 && wake <= now) {
    m.Arm(-1);
  } else {
    m.Arm(wake);
  }
  epoll_event events[256];
  // A wake-up already due still polls the sockets (timeout 0): a caller that keeps asking for
  // an instant in the past must not starve the streams in flight of reads.
  int n = epoll_wait(m.epoll_fd, events, 256, (wake >= 0 && wake <= now) ? 0 : -1);
  int64_t pass_start = NowNs();
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == m.timer_fd) {
      uint64_t expirations;
      while (read(m.timer_fd, &expirations, sizeof expirations) > 0) {
      }
      m.armed_ns = -2;
      continue;
    }
    if (fd == m.wake_read) {
      char buf[64];
      while (read(m.wake_read, buf, sizeof buf) > 0) {
      }
      continue;
    }
    int mask = 0;
    if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
    if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
    if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(m.multi, fd, mask, &running);
  }
  now = NowNs();
  if (m.curl_deadline_ns >= 0 && m.curl_deadline_ns <= now) {
    m.curl_deadline_ns = -1;
    curl_multi_socket_action(m.multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  m.DrainMessages(done);
  if (m.next_idle_check_ns >= 0 && m.next_idle_check_ns <= now) {
    m.CheckIdle(now, done);
    // Next check: when the quietest remaining stream would reach the idle limit.
    int64_t idle_ns = static_cast<int64_t>(m.options.idle_timeout_s * 1e9);
    m.next_idle_check_ns = -1;
    for (Transfer* t : m.active) {
      int64_t at = t->last_bytes_ns + idle_ns;
      if (m.next_idle_check_ns < 0 || at < m.next_idle_check_ns) m.next_idle_check_ns = at;
    }
  }
  int64_t pass_ns = NowNs() - pass_start;
  ++stats_.loop_passes;
  stats_.max_pass_ns = std::max(stats_.max_pass_ns, pass_ns);
  if (pass_ns > m.options.stall_ns) {
    ++stats_.stalls;
    for (Transfer* t : m.active) t->obs.degraded = true;
    for (std::size_t i = done_before; i < done->size(); ++i) (*done)[i].observation.degraded = true;
  }
}

void StreamClient::CancelAll(std::vector<Result>* done) {
  Impl& m = *impl_;
  int64_t now = NowNs();
  while (!m.active.empty()) {
    Transfer* t = m.active.back();
    t->obs.cancelled = true;
    t->obs.end_ns = now;
    m.Finish(t, done);
  }
}

}  // namespace ib::load
