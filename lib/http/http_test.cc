#include "lib/http/http.h"

#include <civetweb.h>

#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace ib::http {
namespace {

int Handler(mg_connection* conn, void*) {
  const mg_request_info* info = mg_get_request_info(conn);
  std::string uri = info->local_uri;
  if (uri == "/echo") {
    char body[1024] = {0};
    int n = mg_read(conn, body, sizeof body - 1);
    const char* auth = mg_get_header(conn, "Authorization");
    std::string out = std::string(info->request_method) + " " + std::string(body, n > 0 ? n : 0) +
                      " " + (auth ? auth : "-");
    mg_send_http_ok(conn, "text/plain", out.size());
    mg_write(conn, out.data(), out.size());
    return 200;
  }
  if (uri == "/fail") {
    mg_send_http_error(conn, 503, "%s", "loading");
    return 503;
  }
  return 0;
}

class HttpTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "2", nullptr};
    ctx_ = mg_start(nullptr, nullptr, options);
    ASSERT_NE(ctx_, nullptr);
    mg_set_request_handler(ctx_, "/", Handler, nullptr);
    mg_server_port ports[1];
    ASSERT_EQ(mg_get_server_ports(ctx_, 1, ports), 1);
    base_ = "http://127.0.0.1:" + std::to_string(ports[0].port);
  }
  static void TearDownTestSuite() { mg_stop(ctx_); }
  static mg_context* ctx_;
  static std::string base_;
};
mg_context* HttpTest::ctx_ = nullptr;
std::string HttpTest::base_;

TEST_F(HttpTest, PostWithHeadersAndBody) {
  Request r;
  r.method = "POST";
  r.url = base_ + "/echo";
  r.body = "{\"a\":1}";
  r.headers = {{"Authorization", "Bearer k"}, {"Content-Type", "application/json"}};
  Response resp = Send(r);
  EXPECT_TRUE(resp.ok()) << resp.error;
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "POST {\"a\":1} Bearer k");
}

TEST_F(HttpTest, ServerErrorsAreStatusesNotTransportErrors) {
  Response resp = Get(base_ + "/fail");
  EXPECT_FALSE(resp.ok());
  EXPECT_TRUE(resp.error.empty());
  EXPECT_EQ(resp.status, 503);
}

TEST_F(HttpTest, RefusedConnectionIsATransportError) {
  Response resp = Get("http://127.0.0.1:1/metrics", 1000);
  EXPECT_FALSE(resp.ok());
  EXPECT_EQ(resp.status, 0);
  EXPECT_FALSE(resp.error.empty());
}

TEST(Http, TrimSlash) {
  EXPECT_EQ(TrimSlash("http://x:1//"), "http://x:1");
  EXPECT_EQ(TrimSlash("http://x:1"), "http://x:1");
}

}  // namespace
}  // namespace ib::http
