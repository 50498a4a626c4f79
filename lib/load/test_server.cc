#include "lib/load/test_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace ib::load::testing {
namespace {

std::atomic<int> g_requests{0};
std::mutex g_mu;
std::string g_last_body;

int QueryInt(const mg_request_info* info, const char* name, int fallback) {
  if (!info->query_string) return fallback;
  char buf[32];
  int n = mg_get_var(info->query_string, std::strlen(info->query_string), name, buf, sizeof buf);
  return n > 0 ? std::atoi(buf) : fallback;
}

void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

void Chunk(mg_connection* conn, const std::string& event) { mg_send_chunk(conn, event.data(), event.size()); }

std::string Data(const std::string& json) { return "data: " + json + "\n\n"; }

std::string ContentChunk(const std::string& text) {
  return Data(R"({"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")" + text +
              R"("},"finish_reason":null}]})");
}

const char* kRole = R"({"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})";

void ChunkedHeaders(mg_connection* conn) {
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            "Cache-Control: no-cache\r\n\r\n");
}

int Handler(mg_connection* conn, void*) {
  const mg_request_info* info = mg_get_request_info(conn);
  ++g_requests;
  std::string body;
  char buf[4096];
  int n;
  while ((n = mg_read(conn, buf, sizeof buf)) > 0) body.append(buf, n);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_last_body = body;
  }
  std::string uri = info->local_uri;
  int tokens = QueryInt(info, "tokens", 5);
  if (uri == "/stream" || uri == "/nousage") {
    Sleep(QueryInt(info, "ttft_ms", 0));
    ChunkedHeaders(conn);
    Chunk(conn, Data(kRole));
    int itl = QueryInt(info, "itl_ms", 0);
    for (int i = 0; i < tokens; ++i) {
      if (i > 0) Sleep(itl);
      Chunk(conn, ContentChunk("t" + std::to_string(i) + " "));
    }
    Chunk(conn, Data(R"({"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"length"}]})"));
    if (uri == "/stream")
      Chunk(conn, Data(R"({"id":"x","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"total_tokens":)" +
                       std::to_string(7 + tokens) + R"(,"completion_tokens":)" + std::to_string(tokens) + "}}"));
    Chunk(conn, "data: [DONE]\n\n");
    mg_send_chunk(conn, "", 0);
    return 200;
  }
  if (uri == "/http500") {
    std::string err = R"({"object":"error","message":"simulated failure","type":"InternalServerError","code":500})";
    mg_printf(conn, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
              static_cast<int>(err.size()), err.c_str());
    return 500;
  }
  if (uri == "/sse_error") {
    ChunkedHeaders(conn);
    Chunk(conn, Data(kRole));
    Chunk(conn, ContentChunk("a"));
    Chunk(conn, Data(R"({"error": {"message": "out of KV cache", "type": "BadRequestError", "param": null, "code": 400}})"));
    Chunk(conn, "data: [DONE]\n\n");
    mg_send_chunk(conn, "", 0);
    return 200;
  }
  if (uri == "/malformed") {
    ChunkedHeaders(conn);
    Chunk(conn, Data(kRole));
    Chunk(conn, "data: {\"choices\":[{\"delta\":{\"content\":\"x\n\n");
    Chunk(conn, "data: [DONE]\n\n");
    mg_send_chunk(conn, "", 0);
    return 200;
  }
  if (uri == "/reset") {  // a chunked body that stops mid-way: the connection closes
    ChunkedHeaders(conn);
    Chunk(conn, Data(kRole));
    Chunk(conn, ContentChunk("a"));
    mg_printf(conn, "100\r\ndata: {\"cho");  // a chunk announced as 256 bytes, cut short
    return 499;  // civetweb closes the connection
  }
  if (uri == "/truncated") {  // a clean end of body without [DONE]
    mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
    mg_printf(conn, "%s", Data(kRole).c_str());
    mg_printf(conn, "%s", ContentChunk("a").c_str());
    return 200;
  }
  if (uri == "/stall") {
    ChunkedHeaders(conn);
    Chunk(conn, Data(kRole));
    Sleep(QueryInt(info, "ms", 1000));
    Chunk(conn, "data: [DONE]\n\n");
    mg_send_chunk(conn, "", 0);
    return 200;
  }
  mg_send_http_error(conn, 404, "%s", "no such path");
  return 404;
}

}  // namespace

TestServer::TestServer() {
  const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "24", "enable_keep_alive", "no",
                           nullptr};
  auto* ctx = mg_start(nullptr, nullptr, options);
  ctx_ = ctx;
  if (!ctx) return;
  mg_set_request_handler(ctx, "/", Handler, nullptr);
  mg_server_port ports[1];
  if (mg_get_server_ports(ctx, 1, ports) == 1) base_url_ = "http://127.0.0.1:" + std::to_string(ports[0].port);
}

TestServer::~TestServer() {
  if (ctx_) mg_stop(static_cast<mg_context*>(ctx_));
}

int TestServer::requests() const { return g_requests.load(); }

std::string TestServer::last_body() const {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_last_body;
}

std::string RefusedUrl() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);  // bound but never listening, then closed: connections are refused
  return "http://127.0.0.1:" + std::to_string(port);
}

}  // namespace ib::load::testing
