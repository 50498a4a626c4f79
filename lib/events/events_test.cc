#include "lib/events/events.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/stream.h"

namespace ib::events {
namespace {

using nlohmann::json;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A pipe pre-filled with data; returns the read end.
int PipeWith(const std::string& data) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  std::thread([fd = fds[1], data] {
    WriteAll(fd, data);
    close(fd);
  }).detach();
  return fds[0];
}

TEST(Events, GoldenV2RoundTripsExactly) {
  auto lines = ReadLines("tests/golden/stream-v2.ndjson");
  ASSERT_EQ(lines.size(), 9u);
  for (const auto& line : lines) {
    ParseResult parsed = ParseEvent(line);
    ASSERT_TRUE(parsed.event) << parsed.error << "\n" << line;
    EXPECT_EQ(ToJson(*parsed.event), json::parse(line)) << line;
    // Serialize -> parse -> serialize is stable.
    std::string once = Serialize(*parsed.event);
    ParseResult again = ParseEvent(once);
    ASSERT_TRUE(again.event) << again.error;
    EXPECT_EQ(Serialize(*again.event), once);
  }
}

// request_fields.h is the one list: the schema the page reads has every field, docs/events.md
// documents every field, and the kOmitNull fields are left out until set (so older streams and
// results files stay byte-identical) and round-trip once set.
TEST(Events, RequestFieldTableDrivesSchemaDocsAndOptionalFields) {
  json schema = RequestCompleteSchema();
  std::ifstream docs_in("docs/events.md");
  std::stringstream docs;
  docs << docs_in.rdbuf();
  ASSERT_FALSE(docs.str().empty());
  std::vector<std::string> names;
  for (const auto& f : schema) {
    names.push_back(f["name"].get<std::string>());
    EXPECT_NE(docs.str().find("`" + names.back() + "`"), std::string::npos)
        << names.back() << " is not in docs/events.md";
  }
  ASSERT_EQ(names.front(), "request_index");
  EXPECT_EQ(schema[0]["type"], "integer");
  EXPECT_EQ(schema[0]["nullable"], false);
  RequestComplete r;
  r.run_id = "r";
  json plain = ToJson(r)["data"];
  // every field but intended_ms, client_queue_ms, itl_tokens, itl_token_source, shard
  EXPECT_EQ(plain.size(), names.size() - 5);
  EXPECT_FALSE(plain.contains("intended_ms"));
  r.intended_ms = 12.5;
  r.client_queue_ms = 0.25;
  r.itl_tokens = std::vector<double>{0, 4, 2.5};
  r.itl_token_source = "usage";
  r.shard = 3;
  json set = ToJson(r)["data"];
  EXPECT_EQ(set.size(), names.size());
  for (const auto& name : names) EXPECT_TRUE(set.contains(name)) << name;
  auto back = ParseEvent(Serialize(r));
  ASSERT_TRUE(back.event) << back.error;
  const auto& rc = std::get<RequestComplete>(*back.event);
  EXPECT_EQ(rc.intended_ms, 12.5);
  EXPECT_EQ(rc.client_queue_ms, 0.25);
  EXPECT_EQ(rc.itl_tokens, (std::vector<double>{0, 4, 2.5}));
  EXPECT_EQ(rc.itl_token_source, "usage");
  EXPECT_EQ(rc.shard, 3);
}

// payloads.h is the one list of the execution / iteration_done / summary payloads: the schema
// has every field and docs/events.md documents each one in the payload's own section.
TEST(Payloads, SchemaAndDocsHaveEveryField) {
  json schemas = PayloadSchemas();
  std::ifstream docs_in("docs/events.md");
  std::stringstream docs;
  docs << docs_in.rdbuf();
  for (const char* list : {"execution", "execution.shard", "iteration_done", "iteration_done.requests",
                           "iteration_done.client", "iteration_done.client.shards[]", "summary"}) {
    ASSERT_TRUE(schemas.contains(list)) << list;
    ASSERT_FALSE(schemas[list].empty()) << list;
    // The section "### `<list>` payload" lists the fields of that list.
    const std::string heading = std::string("### `") + list + "` payload";
    std::size_t at = docs.str().find(heading);
    ASSERT_NE(at, std::string::npos) << heading << " is not in docs/events.md";
    std::size_t end = docs.str().find("\n### ", at + 1);
    const std::string section = docs.str().substr(at, end == std::string::npos ? std::string::npos : end - at);
    for (const auto& f : schemas[list]) {
      const std::string name = f["name"].get<std::string>();
      EXPECT_NE(section.find("| `" + name + "` |"), std::string::npos) << list << "." << name << " is not in " << heading;
    }
  }
}

// What ib-load writes, field by field: the serialized line is what it wrote before the payloads
// were typed (keys sorted, the same numbers), and it reads back to the same struct.
TEST(Payloads, ExecutionAndIterationDoneSerializeAsBefore) {
  Execution e;
  e.experiment = json{{"name", "c2"}};
  e.metadata = json{{"model", "m"}};
  e.total_requests = std::nullopt;  // duration-bound: written as null
  e.workload_type = "rate";
  e.iteration = 1;
  e.total = 1;
  e.params = json::object();
  e.warmup_requests = 0;
  e.server_url = "http://127.0.0.1:1";
  e.model = "m";
  e.framework = "vllm";
  e.shard = ShardPosition{.k = 1, .n = 2};
  EXPECT_EQ(Serialize(Phase{"r", phase::kExecution, ToJson(e)}),
            R"({"data":{"experiment":{"name":"c2"},"framework":"vllm","iteration":1,"metadata":{"model":"m"},)"
            R"("model":"m","params":{},"server_url":"http://127.0.0.1:1","shard":{"k":1,"n":2},"total":1,)"
            R"("total_requests":null,"warmup_requests":0,"workload_type":"rate"},"phase":"execution",)"
            R"("run_id":"r","type":"phase","v":2})");
  IterationDone d;
  d.completed = true;
  d.reason = "finished";
  d.elapsed_s = 2.0;
  d.requests = RequestCounts{.sent = 3, .succeeded = 2, .failed = 1};
  d.client.emplace().cpu_s = 0.5;
  d.client->sse_events = 7;
  EXPECT_EQ(Serialize(Phase{"r", phase::kIterationDone, ToJson(d)}),
            R"({"data":{"client":{"cpu_s":0.5,"sse_events":7},"completed":true,"elapsed_s":2.0,)"
            R"("reason":"finished","requests":{"failed":1,"sent":3,"succeeded":2}},)"
            R"("phase":"iteration_done","run_id":"r","type":"phase","v":2})");
  auto back = ParseEvent(Serialize(Phase{"r", phase::kIterationDone, ToJson(d)}));
  ASSERT_TRUE(back.event) << back.error;
  IterationDone again = IterationDoneOf(std::get<Phase>(*back.event));
  EXPECT_EQ(std::get<bool>(*again.completed), true);
  EXPECT_EQ(again.requests->sent, 3);
  EXPECT_EQ(again.client->sse_events, 7);
  EXPECT_FALSE(again.client->max_rss_mb.has_value());
  EXPECT_EQ(ToJson(again), ToJson(d));
}

// Keys a payload does not name (older streams, the original tool, a summary's latency blocks)
// are kept and written back; absent keys stay absent; the plan's v1 count of completed requests
// reads as a count.
TEST(Payloads, UnknownKeysAreKeptAndAbsentOnesStayAbsent) {
  const json in = json::parse(
      R"({"completed":240,"reason":"finished","pod_id":"p1","client":{"cpu_s":1.5,"gpu":"x"},)"
      R"("note":{"a":[1,2]}})");
  IterationDone d;
  std::string error;
  ASSERT_TRUE(FromJson(in, &d, &error)) << error;
  EXPECT_EQ(std::get<int64_t>(*d.completed), 240);
  EXPECT_EQ(d.rest, json::parse(R"({"pod_id":"p1","note":{"a":[1,2]}})"));
  EXPECT_EQ(d.client->rest, json::parse(R"({"gpu":"x"})"));
  EXPECT_EQ(ToJson(d), in);

  const json summary = json::parse(
      R"({"total_requests":2,"successful_requests":1,"result_path":"results/x.json",)"
      R"("ttft":{"p50":7.5,"count":1},"stop_reason":null})");
  SummaryData s;
  ASSERT_TRUE(FromJson(summary, &s, &error)) << error;
  EXPECT_EQ(s.total_requests, 2);
  EXPECT_EQ(s.result_path, "results/x.json");
  EXPECT_FALSE(s.stop_reason.has_value());
  EXPECT_EQ(s.rest, json::parse(R"({"ttft":{"p50":7.5,"count":1}})"));
  EXPECT_EQ(ToJson(s), summary);  // stop_reason is written as null when unset
}

// A payload of the wrong shape is an error event naming the field, never a crash in a reader.
TEST(Payloads, WrongTypesAreErrorsNamingTheField) {
  struct Case {
    const char* line;
    const char* error;
  } cases[] = {
      {R"({"v":2,"type":"phase","run_id":"r","phase":"execution","data":{"total_requests":"many"}})",
       R"(phase execution: data: field "total_requests" must be an integer or null)"},
      {R"({"v":2,"type":"phase","run_id":"r","phase":"execution","data":{"experiment":[1]}})",
       R"(phase execution: data: field "experiment" must be an object)"},
      {R"({"v":2,"type":"phase","run_id":"r","phase":"execution","data":{"shard":{"k":"one"}}})",
       R"(phase execution: data.shard: field "k" must be an integer or null)"},
      {R"({"v":2,"type":"phase","run_id":"r","phase":"execution","data":{"iteration":1e12}})",
       R"(phase execution: data: field "iteration" is out of range)"},
      {R"({"v":2,"type":"phase","run_id":"r","phase":"iteration_done","data":{"completed":"yes"}})",
       R"(phase iteration_done: data: field "completed" must be true, false or a count)"},
      {R"({"v":2,"type":"phase","run_id":"r","phase":"iteration_done","data":{"client":{"cpu_s":"x"}}})",
       R"(phase iteration_done: data.client: field "cpu_s" must be a number or null)"},
      {R"({"v":2,"type":"phase","run_id":"r","phase":"iteration_done","data":{"client":{"shards":[{"shard":0},5]}}})",
       R"(phase iteration_done: data.client.shards[1] must be an object)"},
      {R"({"v":2,"type":"phase","run_id":"r","phase":"iteration_done","data":{"lost_shards":[1.5]}})",
       R"(phase iteration_done: data: field "lost_shards" must be an array of integers)"},
      {R"({"v":2,"type":"phase","run_id":"r","phase":"iteration_done","data":{"requests":7}})",
       R"(phase iteration_done: data.requests must be an object)"},
      {R"({"v":2,"type":"summary","run_id":"r","data":{"result_path":5}})",
       R"(summary: data: field "result_path" must be a string or null)"},
      {R"({"v":2,"type":"summary","run_id":"r","data":{"total_requests":2.5}})",
       R"(summary: data: field "total_requests" must be an integer or null)"},
  };
  for (const auto& c : cases) {
    ParseResult r = ParseEvent(c.line);
    EXPECT_FALSE(r.event.has_value()) << c.line;
    EXPECT_EQ(r.error, c.error) << c.line;
  }
  // The other phases' data stays free-form.
  EXPECT_TRUE(ParseEvent(R"({"v":2,"type":"phase","run_id":"r","phase":"done","data":{"total_requests":"x"}})").event);
  // A hand-built payload that does not fit gives what could be read.
  Execution e = ExecutionOf(Phase{"r", phase::kExecution, json::parse(R"({"model":5,"total":3})")});
  EXPECT_FALSE(e.model.has_value());
  EXPECT_EQ(e.total, 3);
}

TEST(Events, GoldenV2FieldsAreTyped) {
  auto lines = ReadLines("tests/golden/stream-v2.ndjson");
  auto sample = std::get<GpuSample>(*ParseEvent(lines[2]).event);
  EXPECT_DOUBLE_EQ(sample.t_s, 0.1);
  EXPECT_DOUBLE_EQ(*sample.kv_cache_usage_frac, 0.25);
  EXPECT_FALSE(sample.prefix_cache_hit_rate_frac.has_value());
  auto ok = std::get<RequestComplete>(*ParseEvent(lines[3]).event);
  EXPECT_EQ(ok.request_index, 0);
  EXPECT_EQ(ok.inter_token_latencies_ms.size(), 4u);
  EXPECT_EQ(ok.token_count_source, "usage");
  EXPECT_FALSE(ok.error.has_value());
  auto failed = std::get<RequestComplete>(*ParseEvent(lines[4]).event);
  ASSERT_TRUE(failed.error.has_value());
  EXPECT_EQ(*failed.http_status, 500);
  EXPECT_EQ(*failed.error_kind, "http_status");
  EXPECT_EQ(TypeName(*ParseEvent(lines[6]).event), "summary");
  EXPECT_EQ(RunId(*ParseEvent(lines[6]).event), "sim-20261128-030000");
}

TEST(Events, VersionOneLinesFromThePlanAreUpgraded) {
  auto lines = ReadLines("tests/golden/stream-v1-plan.ndjson");
  ASSERT_EQ(lines.size(), 7u);
  for (const auto& line : lines) {
    ASSERT_TRUE(ParseEvent(line).event) << ParseEvent(line).error << "\n" << line;
  }
  auto sample = std::get<GpuSample>(*ParseEvent(lines[2]).event);
  EXPECT_DOUBLE_EQ(sample.t_s, 12.5);
  EXPECT_DOUBLE_EQ(*sample.kv_cache_usage_frac, 0.45);
  EXPECT_DOUBLE_EQ(*sample.running_requests, 3);
  EXPECT_DOUBLE_EQ(*sample.waiting_requests, 0);
  EXPECT_DOUBLE_EQ(*sample.generation_tokens_per_s, 42.5);
  auto request = std::get<RequestComplete>(*ParseEvent(lines[3]).event);
  EXPECT_DOUBLE_EQ(*request.tpot_ms, 28.4);
  EXPECT_DOUBLE_EQ(*request.e2e_latency_ms, 1450.3);
  // Upgraded lines serialize as the current version.
  EXPECT_EQ(ToJson(*ParseEvent(lines[2]).event)["v"], kStreamVersion);
  EXPECT_EQ(ToJson(*ParseEvent(lines[2]).event)["data"]["running_requests"], 3.0);
  auto error = std::get<Error>(*ParseEvent(lines[6]).event);
  EXPECT_EQ(error.message, "Health check timed out after 300s");
}

TEST(Events, RejectsBadEventsWithReasons) {
  EXPECT_EQ(ParseEvent("{").error, "malformed JSON");
  EXPECT_EQ(ParseEvent("[1]").error, "expected a JSON object");
  EXPECT_EQ(ParseEvent(R"({"v":2,"type":"x"})").error, "unknown event type \"x\"");
  EXPECT_EQ(ParseEvent(R"({"v":3,"type":"log"})").error,
            "unsupported stream version 3 (this build reads 1..2)");
  EXPECT_EQ(ParseEvent(R"({"v":2,"type":"phase","phase":"napping"})").error,
            "phase: unknown phase \"napping\"");
  EXPECT_EQ(ParseEvent(R"({"v":2,"type":"request_complete","data":{"request_index":1,"ttft_ms":"x"}})").error,
            "request_complete.data: field \"ttft_ms\" must be a number or null");
  EXPECT_EQ(ParseEvent(R"({"v":2,"type":"request_complete","data":{}})").error,
            "request_complete.data: missing integer \"request_index\"");
  EXPECT_EQ(ParseEvent(R"({"v":2,"type":"log","level":"loud","message":"m"})").error,
            "log: unknown level \"loud\"");
  EXPECT_EQ(ParseEvent(R"({"v":2,"type":"gpu_sample","run_id":"r"})").error,
            "gpu_sample: missing field \"data\"");
}

TEST(Events, NonFiniteNumbersBecomeNull) {
  GpuSample s;
  s.kv_cache_usage_frac = std::numeric_limits<double>::quiet_NaN();
  s.running_requests = std::numeric_limits<double>::infinity();
  std::string line = Serialize(s);
  EXPECT_EQ(line.find("NaN"), std::string::npos);
  json j = json::parse(line);
  EXPECT_TRUE(j["data"]["kv_cache_usage_frac"].is_null());
  EXPECT_TRUE(j["data"]["running_requests"].is_null());

  Summary summary;
  summary.data = {{"ttft", {{"mean", std::nan("")}}}, {"list", {1.0, std::nan("")}}};
  json out = json::parse(Serialize(summary));
  EXPECT_TRUE(out["data"]["ttft"]["mean"].is_null());
  EXPECT_TRUE(out["data"]["list"][1].is_null());
  EXPECT_EQ(out["data"]["list"][0], 1.0);
}

TEST(Events, InvalidUtf8InMessagesDoesNotThrow) {
  Log l = MakeLog("r", "error", std::string("body: \xff\xfe"), "ib-load");
  std::string line;
  EXPECT_NO_THROW(line = Serialize(l));
  EXPECT_TRUE(ParseEvent(line).event.has_value());
}

TEST(EventReader, BadLinesBecomeErrorEventsAndReadingGoesOn) {
  std::ifstream in("tests/golden/stream-bad-lines.ndjson");
  std::stringstream ss;
  ss << in.rdbuf();
  EventReader reader(PipeWith(ss.str()), "stdin");
  std::vector<EventReader::Item> items;
  while (auto item = reader.Next()) items.push_back(std::move(*item));
  ASSERT_EQ(items.size(), 7u);  // the blank line is skipped
  EXPECT_TRUE(items[0].valid);
  std::vector<std::string> messages;
  for (std::size_t i = 1; i < 6; ++i) {
    ASSERT_FALSE(items[i].valid);
    const auto& e = std::get<Error>(items[i].event);
    messages.push_back(e.message);
    EXPECT_EQ(e.source, "stdin");
  }
  EXPECT_EQ(messages[0], "line 2 of stdin: malformed JSON; skipped");
  EXPECT_EQ(messages[1], "line 3 of stdin: unknown event type \"teleport\"; skipped");
  EXPECT_EQ(messages[2],
            "line 5 of stdin: request_complete.data: missing integer \"request_index\"; skipped");
  EXPECT_EQ(messages[3],
            "line 6 of stdin: unsupported stream version 9 (this build reads 1..2); skipped");
  EXPECT_EQ(messages[4], "line 7 of stdin: expected a JSON object; skipped");
  EXPECT_EQ(*std::get<Error>(items[4].event).line, 6);
  EXPECT_TRUE(items[6].valid);
  EXPECT_EQ(std::get<Log>(items[6].event).message, "still reading");
  EXPECT_EQ(items[6].line_number, 8);
  EXPECT_EQ(reader.bad_lines(), 5);
}

TEST(LineReader, OversizedLineIsSkippedToItsEnd) {
  std::string big(100000, 'x');
  LineReader reader(PipeWith("short\n" + big + "\nafter\r\nlast-no-newline"), 1000);
  auto a = reader.Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->text, "short");
  auto b = reader.Next();
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->oversized);
  EXPECT_EQ(b->number, 2);
  EXPECT_TRUE(b->text.empty());
  auto c = reader.Next();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->text, "after");
  EXPECT_EQ(c->number, 3);
  auto d = reader.Next();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->text, "last-no-newline");
  EXPECT_TRUE(d->unterminated);
  EXPECT_FALSE(reader.Next());
}

TEST(LineReader, OversizedLastLineWithoutNewline) {
  LineReader reader(PipeWith("ok\n" + std::string(5000, 'y')), 100);
  EXPECT_EQ(reader.Next()->text, "ok");
  auto b = reader.Next();
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->oversized);
  EXPECT_TRUE(b->unterminated);
  EXPECT_FALSE(reader.Next());
}

TEST(LineReader, LinesSplitAcrossManyReads) {
  // 20000 lines of varying length cross the 64 KiB read boundary many times.
  std::string data;
  for (int i = 0; i < 20000; ++i) data += std::string(static_cast<std::size_t>(i % 37), 'a') + std::to_string(i) + "\n";
  LineReader reader(PipeWith(data));
  int count = 0;
  while (auto line = reader.Next()) {
    ASSERT_EQ(line->text, std::string(static_cast<std::size_t>(count % 37), 'a') + std::to_string(count));
    ++count;
  }
  EXPECT_EQ(count, 20000);
}

TEST(EventWriter, WritesWholeLines) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  RequestComplete r;
  r.run_id = "r";
  r.request_index = 3;
  r.inter_token_latencies_ms.assign(2000, 1.25);  // longer than PIPE_BUF
  EventWriter writer(fds[1]);
  std::thread t([&] {
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(writer.Write(r));
    close(fds[1]);
  });
  EventReader reader(fds[0], "pipe");
  int n = 0;
  while (auto item = reader.Next()) {
    ASSERT_TRUE(item->valid);
    EXPECT_EQ(std::get<RequestComplete>(item->event).inter_token_latencies_ms.size(), 2000u);
    ++n;
  }
  t.join();
  EXPECT_EQ(n, 50);
  close(fds[0]);
}

TEST(Commands, ParseAndSerialize) {
  auto start = ParseCommand(
      R"({"type":"start_experiment","config_path":"experiments/examples/sim-smoke.yaml","options":{"server_url":null,"confirm":true}})");
  ASSERT_TRUE(start.command) << start.error;
  const auto& s = std::get<StartExperiment>(*start.command);
  EXPECT_EQ(s.config_path, "experiments/examples/sim-smoke.yaml");
  EXPECT_TRUE(s.confirm);
  EXPECT_FALSE(s.server_url);
  EXPECT_EQ(ParseCommand(Serialize(*start.command)).command->index(), start.command->index());

  EXPECT_TRUE(std::holds_alternative<ListConfigs>(*ParseCommand(R"({"type":"list_configs"})").command));
  EXPECT_TRUE(std::holds_alternative<ListResults>(*ParseCommand(R"({"type":"list_results"})").command));
  EXPECT_EQ(std::get<LoadResult>(*ParseCommand(R"({"type":"load_result","run_id":"a"})").command).run_id, "a");
  EXPECT_EQ(std::get<StopExperiment>(*ParseCommand(R"({"type":"stop_experiment"})").command).run_id, "");
  EXPECT_EQ(ParseCommand(R"({"type":"load_result"})").error, "missing field \"run_id\"");
  EXPECT_EQ(ParseCommand(R"({"type":"rm -rf"})").error, "unknown command \"rm -rf\"");
  EXPECT_EQ(ParseCommand("nope").error, "malformed JSON");
  EXPECT_EQ(ParseCommand(R"({"type":"start_experiment"})").error, "missing field \"config_path\"");
}

}  // namespace
}  // namespace ib::events
