#include "lib/runpod/client.h"

#include <gtest/gtest.h>

#include "lib/runpod/launch.h"
#include "tests/fake_runpod/fake_runpod.h"

namespace ib::runpod {
namespace {

using ib::fake_runpod::FakeRunPod;
using ib::fake_runpod::Fault;

// One fake for the whole binary (stopping a Civetweb server takes ~2 s). No ib-sim: these
// tests are about the API calls.
class ClientTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    ib::fake_runpod::Options o;
    o.running_after_ms = 0;
    o.fault_delay_ms = 1500;
    fake_ = new FakeRunPod(o);
    std::string error;
    ASSERT_TRUE(fake_->Start(&error)) << error;
  }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override { fake_->ClearFaults(); }

  Client MakeClient(const std::string& key = "test-key") {
    ClientOptions o;
    o.api_base = fake_->ApiBase() + "/";
    o.api_key = key;
    o.timeout_ms = 700;
    o.backoff_ms = 10;
    return Client(o);
  }
  nlohmann::json Body(const std::string& run_id) {
    LaunchSpec s;
    s.run_id = run_id;
    s.framework = "vllm";
    s.model = "Qwen/Qwen3-0.6B";
    s.gpu_type_id = "NVIDIA A100 80GB PCIe";
    s.hf_token = "hf_dont_print";
    nlohmann::json body;
    std::string error;
    EXPECT_TRUE(BuildCreateBody(s, &body, &error)) << error;
    return body;
  }
  static FakeRunPod* fake_;
};
FakeRunPod* ClientTest::fake_ = nullptr;

TEST_F(ClientTest, CreateGetListDelete) {
  Client c = MakeClient();
  Pod pod;
  ApiError error;
  ASSERT_TRUE(c.CreatePod(Body("crud-1"), &pod, &error)) << error.message;
  EXPECT_EQ(pod.name, "ib-crud-1");
  EXPECT_FALSE(pod.id.empty());
  Pod got;
  ASSERT_TRUE(c.GetPod(pod.id, &got, &error)) << error.message;
  EXPECT_EQ(got.desired_status, "RUNNING");
  EXPECT_DOUBLE_EQ(*got.cost_per_hr, 0.74);  // sent as the string "0.74"
  EXPECT_EQ(got.gpu_type_id, "NVIDIA A100 80GB PCIe");
  EXPECT_EQ(got.gpu_count, 1);
  EXPECT_EQ(got.env.at("IB_RUN_ID"), "crud-1");
  EXPECT_TRUE(ParseTimestamp(got.last_started_at));
  std::vector<Pod> pods;
  ASSERT_TRUE(c.ListPods(&pods, &error, "ib-crud-1")) << error.message;
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].id, pod.id);
  ASSERT_TRUE(c.DeletePod(pod.id, &error)) << error.message;
  EXPECT_FALSE(c.GetPod(pod.id, &got, &error));
  EXPECT_TRUE(error.not_found());
  EXPECT_FALSE(error.transient);
  EXPECT_TRUE(c.DeletePod(pod.id, &error)) << "a second delete finds it gone: fine";
  ASSERT_TRUE(c.ListPods(&pods, &error, "ib-crud-1"));
  EXPECT_TRUE(pods.empty());
}

TEST_F(ClientTest, TransientFailuresAreRetried) {
  Client c = MakeClient();
  Pod pod;
  ApiError error;
  ASSERT_TRUE(c.CreatePod(Body("retry-1"), &pod, &error)) << error.message;
  fake_->AddFault("get", Fault{"500", 2});
  Pod got;
  EXPECT_TRUE(c.GetPod(pod.id, &got, &error)) << error.message;
  fake_->AddFault("get", Fault{"429", 1});
  fake_->AddFault("list", Fault{"timeout", 1});
  EXPECT_TRUE(c.GetPod(pod.id, &got, &error)) << error.message;
  std::vector<Pod> pods;
  EXPECT_TRUE(c.ListPods(&pods, &error)) << error.message;
  // A delete whose answer times out took effect; the retry sees 404 and reports success.
  fake_->AddFault("delete", Fault{"timeout", 1});
  EXPECT_TRUE(c.DeletePod(pod.id, &error)) << error.message;
  EXPECT_FALSE(fake_->Ledger()["pods"].back()["deleted_ms"].is_null());
}

TEST_F(ClientTest, PersistentFailuresEndWithAClearError) {
  Client c = MakeClient();
  fake_->AddFault("list", Fault{"500", -1});
  std::vector<Pod> pods;
  ApiError error;
  EXPECT_FALSE(c.ListPods(&pods, &error));
  EXPECT_EQ(error.status, 500);
  EXPECT_TRUE(error.transient);
  EXPECT_NE(error.message.find("GET /pods: HTTP 500"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("attempt 4/4"), std::string::npos) << error.message;
  fake_->ClearFaults();
  fake_->AddFault("get", Fault{"badjson", 1});
  Pod got;
  EXPECT_FALSE(c.GetPod("whatever", &got, &error));
  EXPECT_NE(error.message.find("unusable answer"), std::string::npos) << error.message;
}

TEST_F(ClientTest, CreateIsOneAttemptAndALostAnswerLeavesAPodToReconcile) {
  Client c = MakeClient();
  fake_->AddFault("create", Fault{"lost", 1});
  Pod pod;
  ApiError error;
  EXPECT_FALSE(c.CreatePod(Body("lost-1"), &pod, &error));
  EXPECT_TRUE(error.transient);
  std::vector<Pod> pods;
  ASSERT_TRUE(c.ListPods(&pods, &error, "ib-lost-1"));
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_TRUE(c.DeletePod(pods[0].id, &error));
  fake_->AddFault("create", Fault{"429", 1});
  EXPECT_FALSE(c.CreatePod(Body("lost-2"), &pod, &error));
  EXPECT_EQ(error.status, 429);
}

TEST_F(ClientTest, BadKeyAndBadInputAreNotRetriedAndNeverShowTheKey) {
  Client c = MakeClient("wrong-secret-key");
  std::vector<Pod> pods;
  ApiError error;
  EXPECT_FALSE(c.ListPods(&pods, &error));
  EXPECT_EQ(error.status, 401);
  EXPECT_FALSE(error.transient);
  EXPECT_EQ(error.message.find("wrong-secret-key"), std::string::npos);
  Client good = MakeClient();
  Pod pod;
  EXPECT_FALSE(good.CreatePod(nlohmann::json{{"name", "ib-x"}}, &pod, &error));
  EXPECT_EQ(error.status, 400);
  EXPECT_NE(error.message.find("Invalid input."), std::string::npos);
}

TEST_F(ClientTest, NothingListeningIsATransportError) {
  ClientOptions o;
  o.api_base = "http://127.0.0.1:1/v1";
  o.api_key = "k";
  o.max_attempts = 2;
  o.backoff_ms = 1;
  Client c(o);
  std::vector<Pod> pods;
  ApiError error;
  EXPECT_FALSE(c.ListPods(&pods, &error));
  EXPECT_EQ(error.status, 0);
  EXPECT_TRUE(error.transient);
}

TEST(PodTest, ParsesTheSpecShapesDefensively) {
  std::string error;
  auto pod = ParsePod(nlohmann::json::parse(R"({"id":"xedezhzb9la3ye","imageName":"img","adjustedCostPerHr":0.69,
      "gpuCount":2,"env":["A=1","B=x=y"],"portMappings":{"22":10341},"publicIp":"100.65.0.119"})"), &error);
  ASSERT_TRUE(pod) << error;
  EXPECT_EQ(pod->image, "img");
  EXPECT_DOUBLE_EQ(*pod->cost_per_hr, 0.69);
  EXPECT_EQ(pod->gpu_count, 2);
  EXPECT_EQ(pod->env.at("B"), "x=y");
  EXPECT_EQ(pod->port_mappings.at("22"), 10341);
  EXPECT_FALSE(ParsePod(nlohmann::json::parse(R"({"name":"x"})"), &error));
  EXPECT_EQ(error, "the pod has no 'id'");
  EXPECT_FALSE(ParsePod(nlohmann::json::array(), &error));
}

TEST(PodTest, TimestampsInBothForms) {
  EXPECT_EQ(*ParseTimestamp("2024-07-12T19:14:40.144Z"), 1720811680);
  EXPECT_EQ(*ParseTimestamp("2024-07-12 19:14:40.144 +0000 UTC"), 1720811680);
  EXPECT_EQ(*ParseTimestamp("2024-07-12T21:14:40+02:00"), 1720811680);
  EXPECT_FALSE(ParseTimestamp("Fri Jul 12 2024"));
}

TEST(PodTest, ServerUrlTemplates) {
  Pod pod;
  pod.id = "abc123xyz";
  EXPECT_EQ(*ServerUrl("https://{pod_id}-{port}.proxy.runpod.net", pod, 8000),
            "https://abc123xyz-8000.proxy.runpod.net");
  EXPECT_FALSE(ServerUrl("http://{public_ip}:{public_port}", pod, 8000));
  pod.public_ip = "127.0.0.1";
  EXPECT_FALSE(ServerUrl("http://{public_ip}:{public_port}", pod, 8000));
  pod.port_mappings["8000"] = 41234;
  EXPECT_EQ(*ServerUrl("http://{public_ip}:{public_port}/", pod, 8000), "http://127.0.0.1:41234");
}

}  // namespace
}  // namespace ib::runpod
