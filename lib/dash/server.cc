#include "lib/dash/server.h"

#include <sys/random.h>

#include <civetweb.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <list>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <variant>

#include "lib/dash/paths.h"

namespace ib::dash {
namespace {

constexpr std::size_t kMaxBatchBytes = 256 * 1024;
constexpr std::size_t kMaxCommandBytes = 1 << 20;

// Appends one unmasked server-to-client text frame (RFC 6455 §5.2).
void AppendTextFrame(std::string& out, std::string_view payload) {
  out += static_cast<char>(0x81);
  std::size_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n < 65536) {
    out += static_cast<char>(126);
    out += static_cast<char>((n >> 8) & 0xff);
    out += static_cast<char>(n & 0xff);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xff);
  }
  out.append(payload);
}

// Civetweb runs with decode_url=no so that an encoded NUL cannot cut a path short unseen.
bool DecodePath(const char* raw, std::string* out) {
  if (raw == nullptr) return false;
  std::size_t n = std::strlen(raw);
  std::string buf(n + 1, '\0');
  int len = mg_url_decode(raw, static_cast<int>(n), buf.data(), static_cast<int>(buf.size()), 0);
  if (len < 0) return false;
  buf.resize(static_cast<std::size_t>(len));
  if (buf.find('\0') != std::string::npos) return false;
  *out = std::move(buf);
  return true;
}

bool AcceptsGzip(const mg_connection* conn) {
  const char* accept = mg_get_header(conn, "Accept-Encoding");
  return accept != nullptr && std::strstr(accept, "gzip") != nullptr;
}

// gzip at level 1: the payloads are large JSON on localhost, where speed matters more than size.
bool Gzip(const std::string& in, std::string* out) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out->resize(deflateBound(&z, in.size()));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data());
  z.avail_out = static_cast<uInt>(out->size());
  int rc = deflate(&z, Z_FINISH);
  out->resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string ContentType(const std::string& path) {
  auto ext = path.substr(path.rfind('.') + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt" || ext == "md") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

std::string RandomToken() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

// One open WebSocket: its hub client and the thread that drains the client's queue.
struct WsConnection {
  std::shared_ptr<LiveHub::Client> client;
  std::thread writer;
};

struct DashServer::Impl {
  Dashboard& dashboard;
  ServerOptions options;
  mg_context* ctx = nullptr;
  int port = 0;

  Impl(Dashboard& d, ServerOptions o) : dashboard(d), options(std::move(o)) {}

  // ---- checks ----
  bool HostAllowed(const mg_connection* conn) const {
    const char* host = mg_get_header(conn, "Host");
    if (host == nullptr) return true;  // HTTP/1.0 clients; a browser always sends Host
    // Without a port too: Civetweb's own client sends a bare host; a rebinding page cannot.
    std::string h = host, p = ":" + std::to_string(port);
    return h == "127.0.0.1" + p || h == "localhost" + p || h == "127.0.0.1" || h == "localhost";
  }
  bool OriginAllowed(const mg_connection* conn) const {
    const char* origin = mg_get_header(conn, "Origin");
    if (origin == nullptr) return true;  // not a browser: the token still guards it
    std::string o = origin, p = ":" + std::to_string(port);
    return o == "http://127.0.0.1" + p || o == "http://localhost" + p;
  }
  bool TokenMatches(std::string_view given) const {
    return !given.empty() && ConstantTimeEquals(given, options.token);
  }
  std::string QueryToken(const mg_connection* conn) const {
    const mg_request_info* ri = mg_get_request_info(conn);
    if (ri->query_string == nullptr) return "";
    char value[256];
    int n = mg_get_var(ri->query_string, std::strlen(ri->query_string), "token", value, sizeof value);
    return n > 0 ? std::string(value, static_cast<std::size_t>(n)) : std::string();
  }

  // ---- gzip of results files, kept while the file is unchanged ----
  // History loads the same big run again and again; compressing 50 MB costs more than reading it.
  static constexpr std::size_t kGzipCacheBytes = 64u << 20;
  std::mutex gz_mu;
  std::list<std::pair<std::string, std::shared_ptr<const std::string>>> gz_cache;  // newest first

  std::shared_ptr<const std::string> Compressed(const HttpReply& reply) {
    if (!reply.cache_key.empty()) {
      std::lock_guard lock(gz_mu);
      for (auto it = gz_cache.begin(); it != gz_cache.end(); ++it) {
        if (it->first != reply.cache_key) continue;
        gz_cache.splice(gz_cache.begin(), gz_cache, it);
        return it->second;
      }
    }
    auto out = std::make_shared<std::string>();
    if (!Gzip(reply.body, out.get())) return nullptr;
    if (!reply.cache_key.empty() && out->size() <= kGzipCacheBytes) {
      std::lock_guard lock(gz_mu);
      gz_cache.emplace_front(reply.cache_key, out);
      std::size_t total = 0;
      for (auto it = gz_cache.begin(); it != gz_cache.end();) {
        total += it->second->size();
        it = total > kGzipCacheBytes ? gz_cache.erase(it) : std::next(it);
      }
    }
    return out;
  }

  // ---- responses ----
  static void Send(mg_connection* conn, int status, const std::string& content_type,
                   const std::string& body, bool gzip = false) {
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", content_type.c_str(), -1);
    mg_response_header_add(conn, "Content-Length", std::to_string(body.size()).c_str(), -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_add(conn, "X-Frame-Options", "DENY", -1);
    if (gzip) mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
    mg_response_header_send(conn);
    const mg_request_info* ri = mg_get_request_info(conn);
    if (std::strcmp(ri->request_method, "HEAD") != 0) mg_write(conn, body.data(), body.size());
  }
  static int SendError(mg_connection* conn, int status, const std::string& message) {
    Send(conn, status, "application/json", nlohmann::json{{"error", message}}.dump());
    return status;
  }

  int ServeStatic(mg_connection* conn, std::string_view uri) {
    std::string rel = uri == "/" ? "index.html" : std::string(uri.substr(1));
    if (!IsSafeRelativePath(rel)) return SendError(conn, 400, "bad path");
    if (options.web_dir.empty()) return SendError(conn, 404, "no web directory");
    auto resolved = ResolveUnder(options.web_dir, rel);
    if (auto* e = std::get_if<ResolveError>(&resolved)) return SendError(conn, e->http_status, e->message);
    const std::string& file = std::get<std::string>(resolved);
    std::string body;
    if (!ReadFile(file, &body)) return SendError(conn, 404, "not found");
    if (rel == "index.html") {
      static const std::string kPlaceholder = "__IB_TOKEN__";
      for (auto pos = body.find(kPlaceholder); pos != std::string::npos;
           pos = body.find(kPlaceholder, pos + options.token.size())) {
        body.replace(pos, kPlaceholder.size(), options.token);
      }
    }
    Send(conn, 200, ContentType(file), body);
    return 200;
  }

  int HandleRequest(mg_connection* conn) {
    const mg_request_info* ri = mg_get_request_info(conn);
    if (!HostAllowed(conn)) return SendError(conn, 403, "forbidden Host");
    std::string method = ri->request_method;
    std::string decoded;
    if (!DecodePath(ri->local_uri_raw, &decoded)) return SendError(conn, 400, "bad path");
    std::string_view uri = decoded;
    if (method != "GET" && method != "HEAD") {
      // Every state-changing request: same-site Origin and the launch token.
      if (!OriginAllowed(conn)) return SendError(conn, 403, "forbidden Origin");
      const char* token = mg_get_header(conn, "X-IB-Token");
      if (!TokenMatches(token ? token : "")) return SendError(conn, 403, "missing or wrong token");
      return SendError(conn, uri.starts_with("/api/") ? 404 : 405, "no such route");
    }
    if (uri == "/metrics") {  // for Prometheus: no token (nothing secret), Host still checked
      const char* accept = mg_get_header(conn, "Accept");
      HttpReply reply = dashboard.HandleMetrics(accept ? accept : "");
      Send(conn, reply.status, reply.content_type, reply.body);
      return reply.status;
    }
    if (uri.starts_with("/api/")) {
      HttpReply reply = dashboard.HandleApiGet(uri);
      std::shared_ptr<const std::string> gz;
      if (reply.compressible && reply.body.size() > 1024 && reply.body.size() < (3u << 30) &&
          AcceptsGzip(conn)) {
        gz = Compressed(reply);
      }
      Send(conn, reply.status, reply.content_type, gz ? *gz : reply.body, gz != nullptr);
      return reply.status;
    }
    return ServeStatic(conn, uri);
  }

  // ---- WebSocket ----
  // Civetweb has already marked the connection as a WebSocket here, so its response helpers
  // refuse it: the 403 is written by hand.
  static int RefuseUpgrade(const mg_connection* conn, const std::string& message) {
    std::string body = nlohmann::json{{"error", message}}.dump();
    std::string response = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n" + body;
    mg_write(const_cast<mg_connection*>(conn), response.data(), response.size());
    return 1;
  }

  int OnWsConnect(const mg_connection* conn) {
    if (!HostAllowed(conn)) return RefuseUpgrade(conn, "forbidden Host");
    if (!OriginAllowed(conn)) return RefuseUpgrade(conn, "forbidden Origin");
    if (!TokenMatches(QueryToken(conn))) return RefuseUpgrade(conn, "missing or wrong token");
    return 0;
  }

  void OnWsReady(mg_connection* conn) {
    auto* ws = new WsConnection;
    ws->client = dashboard.hub().Connect();
    mg_set_user_connection_data(conn, ws);
    ws->writer = std::thread([conn, client = ws->client] { WriterLoop(conn, *client); });
  }

  static void WriterLoop(mg_connection* conn, LiveHub::Client& client) {
    std::string frames;
    while (true) {
      auto batch = client.WaitBatch(kMaxBatchBytes, std::chrono::milliseconds(500));
      if (client.closed()) return;
      if (batch.empty()) continue;
      frames.clear();
      for (const auto& m : batch) AppendTextFrame(frames, *m.text);
      // Several frames in one write: one syscall per batch instead of two per message.
      mg_lock_connection(conn);
      int n = mg_write(conn, frames.data(), frames.size());
      mg_unlock_connection(conn);
      if (n <= 0 || static_cast<std::size_t>(n) != frames.size()) return;
      if (client.overflowed()) {
        static const char kReason[] = "\x03\xf0too slow: reconnect for the state";  // 1008
        mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, kReason, sizeof kReason - 1);
        return;
      }
    }
  }

  int OnWsData(mg_connection* conn, int bits, char* data, std::size_t len) {
    auto* ws = static_cast<WsConnection*>(mg_get_user_connection_data(conn));
    int opcode = bits & 0x0f;
    if (opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) return 0;
    if (ws == nullptr || opcode != MG_WEBSOCKET_OPCODE_TEXT) return 1;
    if (len > kMaxCommandBytes) {
      dashboard.hub().SendTo(*ws->client, {{"type", "error"}, {"message", "command too large"},
                                           {"data", {{"command", ""}, {"source", "ib-dash"}}}});
      return 1;
    }
    dashboard.HandleCommand(*ws->client, std::string_view(data, len));
    return 1;
  }

  void OnWsClose(const mg_connection* conn) {
    auto* ws = static_cast<WsConnection*>(mg_get_user_connection_data(conn));
    if (ws == nullptr) return;
    dashboard.hub().Disconnect(ws->client);
    if (ws->writer.joinable()) ws->writer.join();
    delete ws;
    mg_set_user_connection_data(conn, nullptr);
  }
};

DashServer::DashServer(Dashboard& dashboard, ServerOptions options)
    : impl_(std::make_unique<Impl>(dashboard, std::move(options))) {
  if (impl_->options.token.empty()) impl_->options.token = RandomToken();
}

DashServer::~DashServer() { Stop(); }

bool DashServer::Start(std::string* error) {
  std::string ports = "127.0.0.1:" + std::to_string(impl_->options.port);
  std::string threads = std::to_string(impl_->options.threads);
  const char* options[] = {"listening_ports", ports.c_str(),
                           "num_threads", threads.c_str(),
                           "request_timeout_ms", "30000",
                           "websocket_timeout_ms", "20000",
                           "enable_websocket_ping_pong", "yes",
                           // One request per connection: Civetweb closes an idle kept-alive
                           // connection after 500 ms without saying so, and a client that
                           // reuses it at that instant (Node's http agent, Python's requests)
                           // gets "socket hang up" instead of an answer. Loopback connections
                           // are cheap; WebSockets are unaffected.
                           "enable_keep_alive", "no",
                           "decode_url", "no",
                           nullptr};
  mg_callbacks callbacks{};
  impl_->ctx = mg_start(&callbacks, impl_.get(), options);
  if (impl_->ctx == nullptr) {
    *error = "cannot listen on " + ports + " (port in use?)";
    return false;
  }
  mg_server_port server_ports[4];
  int n = mg_get_server_ports(impl_->ctx, 4, server_ports);
  impl_->port = n > 0 ? server_ports[0].port : impl_->options.port;
  impl_->dashboard.hub().SetPort(impl_->port);
  mg_set_request_handler(
      impl_->ctx, "/",
      [](mg_connection* conn, void* self) { return static_cast<Impl*>(self)->HandleRequest(conn); },
      impl_.get());
  mg_set_websocket_handler(
      impl_->ctx, "/ws",
      [](const mg_connection* conn, void* self) { return static_cast<Impl*>(self)->OnWsConnect(conn); },
      [](mg_connection* conn, void* self) { static_cast<Impl*>(self)->OnWsReady(conn); },
      [](mg_connection* conn, int bits, char* data, size_t len, void* self) {
        return static_cast<Impl*>(self)->OnWsData(conn, bits, data, len);
      },
      [](const mg_connection* conn, void* self) { static_cast<Impl*>(self)->OnWsClose(conn); },
      impl_.get());
  return true;
}

void DashServer::Stop() {
  if (impl_->ctx != nullptr) {
    mg_stop(impl_->ctx);
    impl_->ctx = nullptr;
  }
}

int DashServer::port() const { return impl_->port; }
const std::string& DashServer::token() const { return impl_->options.token; }
std::string DashServer::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port) + "/"; }

}  // namespace ib::dash
