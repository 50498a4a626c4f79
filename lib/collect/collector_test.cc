#include "lib/collect/collector.h"

#include <stdio.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "lib/collect/report.h"
#include "lib/events/events.h"
#include "lib/events/stream.h"

namespace ib::collect {
namespace {

using nlohmann::json;

std::string Line(const events::Event& e) { return events::Serialize(e) + "\n"; }

events::RequestComplete Request(int64_t index, int shard) {
  events::RequestComplete r;
  r.run_id = "r1";
  r.request_index = index;
  r.shard = shard;
  r.ttft_ms = 1.5;
  return r;
}

events::Phase Done(int shard, int64_t sent) {
  return {"r1", events::phase::kIterationDone,
          {{"completed", true}, {"reason", "finished"}, {"shard", shard}, {"elapsed_s", 1.0 + shard},
           {"requests", {{"sent", sent}, {"succeeded", sent}, {"failed", 0}}},
           {"client", {{"cpu_s", 0.5}, {"sse_events", 100}, {"max_rss_mb", 10.0 + shard}}}}};
}

events::Phase Execution(int shard, int n) {
  return {"r1", events::phase::kExecution, {{"total_requests", 6}, {"shard", {{"k", shard}, {"n", n}}}}};
}

struct Collected {
  Result result;
  std::vector<events::Event> events;
};

// Runs a collector for n shards while `shards` plays them; returns what it wrote.
Collected Collect(int n, const std::string& token, const std::function<void(const std::string& address)>& shards,
                  double connect_timeout_s = 30) {
  FILE* out = tmpfile();
  Collector c({.token = token, .shards = n, .out_fd = fileno(out), .connect_timeout_s = connect_timeout_s});
  std::string error;
  EXPECT_TRUE(c.Listen(&error)) << error;
  std::thread players([&] { shards(c.address()); });
  Collected got;
  got.result = c.Run();
  players.join();
  rewind(out);
  events::EventReader reader(fileno(out), "test");
  while (auto item = reader.Next()) {
    EXPECT_TRUE(item->valid) << item->raw;
    got.events.push_back(item->event);
  }
  fclose(out);
  return got;
}

const std::string kToken = "0123456789abcdef0123456789abcdef";

void PlayShard(const std::string& address, int k, int n, const std::vector<int64_t>& indexes, bool finish) {
  std::string error;
  int fd = ConnectToCollector(address, kToken, k, n, 10, &error);
  ASSERT_GE(fd, 0) << error;
  std::string all = Line(Execution(k, n));
  for (int64_t i : indexes) all += Line(Request(i, k));
  if (finish) all += Line(Done(k, static_cast<int64_t>(indexes.size())));
  // Write in odd-sized pieces: the collector must forward whole lines only.
  for (std::size_t at = 0; at < all.size(); at += 37) ASSERT_TRUE(events::WriteAll(fd, all.substr(at, 37)));
  close(fd);
}

TEST(Collector, MergesShardsIntoOneStream) {
  auto got = Collect(2, kToken, [](const std::string& address) {
    std::thread a([&] { PlayShard(address, 0, 2, {0, 2, 4}, true); });
    std::thread b([&] { PlayShard(address, 1, 2, {1, 3, 5}, true); });
    a.join();
    b.join();
  });
  std::vector<int64_t> seen;
  int executions = 0, dones = 0;
  json done;
  for (const auto& e : got.events) {
    if (auto* r = std::get_if<events::RequestComplete>(&e)) seen.push_back(r->request_index);
    if (auto* p = std::get_if<events::Phase>(&e)) {
      if (p->phase == "execution") {
        ++executions;
        EXPECT_EQ(p->data["shards"], 2);
        EXPECT_FALSE(p->data.contains("shard"));
      }
      if (p->phase == "iteration_done") ++dones, done = p->data;
    }
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(executions, 1);
  ASSERT_EQ(dones, 1);
  EXPECT_EQ(done["completed"], true);
  EXPECT_EQ(done["reason"], "finished");
  EXPECT_EQ(done["requests"]["sent"], 6);
  EXPECT_EQ(done["client"]["sse_events"], 200);
  EXPECT_EQ(done["client"]["max_rss_mb"], 11.0);
  EXPECT_EQ(done["elapsed_s"], 2.0);
  EXPECT_EQ(done["client"]["shards"].size(), 2u);
  EXPECT_TRUE(done["lost_shards"].empty());
  // Same machine, same clock: the measured offset is within the round trip.
  for (const auto& s : got.result.shards) EXPECT_LE(std::abs(s.clock_offset_ms), s.round_trip_ms + 1.0);
  EXPECT_EQ(done["clock_offset_max_ms"].get<double>(),
            std::max(std::abs(got.result.shards[0].clock_offset_ms), std::abs(got.result.shards[1].clock_offset_ms)));
}

TEST(Collector, ALostShardMakesAPartialNamingItAndKeepsItsRequests) {
  auto got = Collect(2, kToken, [](const std::string& address) {
    PlayShard(address, 0, 2, {0, 2, 4}, true);
    PlayShard(address, 1, 2, {1, 3}, /*finish=*/false);  // killed mid-run
  });
  std::vector<int64_t> seen;
  json done;
  bool warned = false;
  for (const auto& e : got.events) {
    if (auto* r = std::get_if<events::RequestComplete>(&e)) seen.push_back(r->request_index);
    if (auto* p = std::get_if<events::Phase>(&e); p && p->phase == "iteration_done") done = p->data;
    if (auto* l = std::get_if<events::Log>(&e)) warned |= l->message.find("shard 1 lost") != std::string::npos;
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(warned);
  EXPECT_EQ(done["completed"], false);
  EXPECT_EQ(done["lost_shards"], json::array({1}));
  EXPECT_NE(done["reason"].get<std::string>().find("shard 1 lost (connection from 127.0.0.1:"), std::string::npos)
      << done["reason"];
  EXPECT_EQ(done["requests"]["sent"], 3);  // what the finished shard reported
  EXPECT_EQ(got.result.lost(), std::vector<int>{1});
}

TEST(Collector, RefusesAConnectionWithoutTheTokenAndLogsIt) {
  std::string shard_error;
  auto got = Collect(1, kToken, [&](const std::string& address) {
    EXPECT_EQ(ConnectToCollector(address, "fedcba9876543210fedcba9876543210", 0, 1, 10, &shard_error), -1);
    PlayShard(address, 0, 1, {0}, true);
  });
  EXPECT_NE(shard_error.find("refused this shard: missing or wrong token"), std::string::npos) << shard_error;
  EXPECT_EQ(got.result.refused, 1);
  bool logged = false;
  for (const auto& e : got.events)
    if (auto* l = std::get_if<events::Log>(&e))
      logged |= l->message.find("refused a connection from 127.0.0.1:") != std::string::npos &&
                l->message.find("missing or wrong token") != std::string::npos;
  EXPECT_TRUE(logged);
  EXPECT_TRUE(got.result.lost().empty());  // the real shard came afterwards and finished
}

TEST(Collector, AShardThatNeverConnectsIsLostAtTheDeadline) {
  auto got = Collect(2, kToken, [](const std::string& address) { PlayShard(address, 0, 2, {0}, true); },
                     /*connect_timeout_s=*/1);
  EXPECT_EQ(got.result.lost(), std::vector<int>{1});
  EXPECT_NE(got.result.merged_done->reason.value_or("").find("shard 1 lost (never connected"), std::string::npos);
}

TEST(Collector, BindsOnlyTheAddressItIsGiven) {
  Collector c({.host = "127.0.0.1", .token = kToken, .shards = 1});
  std::string error;
  ASSERT_TRUE(c.Listen(&error)) << error;
  // 127.0.0.2 is this machine too (all of 127/8 is loopback), but not the address bound.
  EXPECT_EQ(ConnectToCollector("127.0.0.2:" + std::to_string(c.port()), kToken, 0, 1, 0.2, &error), -1);
  EXPECT_NE(error.find("cannot reach the collector at 127.0.0.2:"), std::string::npos) << error;
  EXPECT_NE(error.find("Connection refused"), std::string::npos) << error;
}

TEST(Collector, RejectsBadSetups) {
  Collector c({.token = "short", .shards = 1});
  std::string error;
  EXPECT_FALSE(c.Listen(&error));
  EXPECT_NE(error.find("token of at least 16"), std::string::npos);
  EXPECT_EQ(ConnectToCollector("nohostport", kToken, 0, 1, 0.2, &error), -1);
  EXPECT_NE(error.find("HOST:PORT"), std::string::npos) << error;
}

}  // namespace
}  // namespace ib::collect
