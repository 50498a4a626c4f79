#include "lib/sim/server.h"

#include <civetweb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/sim/engine.h"
#include "lib/sim/metrics.h"
#include "lib/sim/wire_format.h"
#include "lib/sim/text.h"
#include "lib/sim/truth.h"

namespace ib::sim {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

using json = nlohmann::json;

enum class Fault { kNone, kMidstreamError, kDrop, kStall, kMalformed };

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kMidstreamError: return "midstream_error";
    case Fault::kDrop: return "drop";
    case Fault::kStall: return "stall";
    case Fault::kMalformed: return "malformed";
    default: return "none";
  }
}

// One generation request, alive while its handler thread waits for it.
struct Request {
  Seq seq;
  ResponseShape shape;
  Rng rng{0};
  mg_connection* conn = nullptr;
  std::string path;
  bool stream = true;
  std::string finish_reason = "length";
  Fault fault = Fault::kNone;
  int64_t fault_at = -1;
  // Written by the scheduler thread only, read by the handler after done.
  std::vector<int64_t> token_ns;
  std::string text;  // stream:false
  std::string buf;
  // Tokens held back for the next event (--tokens-per-chunk): their text, how many, how many the
  // event will carry, and a seeded draw for --speculative.
  std::string pending;
  int64_t pending_tokens = 0;
  int64_t chunk_target = 1;
  Rng chunk_rng{0};
  bool client_gone = false;
  bool dropped = false;
  bool errored = false;
  bool last_written = false;  // the final SSE event is out; the chunked terminator is not yet
  // Handoff back to the handler thread.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

// A mutex with priority inheritance: with --rt-priority the SCHED_FIFO scheduler thread shares
// this lock with ordinary handler threads, and must not wait behind one that was preempted while
// holding it.
class PiMutex {
 public:
  PiMutex() {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&m_, &a);
    pthread_mutexattr_destroy(&a);
  }
  ~PiMutex() { pthread_mutex_destroy(&m_); }
  PiMutex(const PiMutex&) = delete;
  PiMutex& operator=(const PiMutex&) = delete;
  void lock() { pthread_mutex_lock(&m_); }
  void unlock() { pthread_mutex_unlock(&m_); }
  bool try_lock() { return pthread_mutex_trylock(&m_) == 0; }

 private:
  pthread_mutex_t m_;
};

// Appends payload framed as one HTTP/1.1 chunk.
void AppendChunk(const std::string& payload, std::string* out) {
  char head[24];
  int n = std::snprintf(head, sizeof head, "%zx\r\n", payload.size());
  out->append(head, static_cast<std::size_t>(n));
  out->append(payload);
  out->append("\r\n");
}

std::string Chunked(const std::string& payload) {
  char head[24];
  int n = std::snprintf(head, sizeof head, "%zx\r\n", payload.size());
  std::string out(head, static_cast<std::size_t>(n));
  out += payload;
  out += "\r\n";
  return out;
}

}  // namespace

EngineConfig EngineConfigFor(const Options& o) {
  EngineConfig c;
  c.deterministic = o.deterministic;
  c.ttft_ns = static_cast<int64_t>(o.ttft_ms * 1e6);
  c.itl_ns = static_cast<int64_t>(o.itl_ms * 1e6);
  c.step_base_ns = static_cast<int64_t>(o.step_base_ms * 1e6 / o.speed);
  c.step_per_seq_ns = static_cast<int64_t>(o.step_per_seq_ms * 1e6 / o.speed);
  c.prefill_ns_per_token = o.prefill_ms_per_token * 1e6 / o.speed;
  c.max_num_seqs = o.max_num_seqs;
  c.kv_blocks = o.kv_blocks;
  c.prefix_caching = o.prefix_caching;
  return c;
}

struct Server::Impl {
  explicit Impl(const Options& o)
      : options(o),
        engine(EngineConfigFor(o)),
        observations(o) {}

  Options options;
  mg_context* ctx = nullptr;
  int port = 0;
  int64_t start_ns = 0;
  std::atomic<uint64_t> request_counter{0};
  TruthLog truth;

  // Engine and the scheduler's inbox, under mu.
  PiMutex mu;
  std::condition_variable_any cv;
  Engine engine;
  std::vector<Request*> inbox;
  std::set<Request*> live;
  bool stopping = false;
  std::thread scheduler;
  Observations observations;

  bool Loaded() const {
    return MonotonicNs() - start_ns >= static_cast<int64_t>(options.load_time_s * 1e9);
  }

  // ---- scheduler thread ----
  void SchedulerLoop() {
    if (options.rt_priority > 0) {
      sched_param param{};
      param.sched_priority = static_cast<int>(options.rt_priority);
      if (int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param); rc != 0)
        std::fprintf(stderr, "ib-sim: warning: --rt-priority refused: %s\n", std::strerror(rc));
    }
    std::vector<Emission> emissions;
    std::vector<Request*> finished;
    std::vector<Request*> cancelled;
    std::unique_lock<PiMutex> lock(mu);
    while (!stopping) {
      int64_t next = engine.NextEventNs();
      if (inbox.empty() && MonotonicNs() < next) {
        if (next == INT64_MAX) {
          cv.wait(lock);
        } else {
          cv.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next)));
        }
        continue;
      }
      int64_t now = MonotonicNs();
      for (Request* r : inbox) engine.Submit(&r->seq, now);
      inbox.clear();
      emissions.clear();
      engine.Advance(now, &emissions);
      lock.unlock();
      finished.clear();
      cancelled.clear();
      for (const Emission& e : emissions) Deliver(e, &finished, &cancelled);
      lock.lock();
      for (Request* r : cancelled) engine.Cancel(&r->seq);
      // A finished request leaves `live` here, with its outcome settled by the writes above, so
      // a Stop() that comes before its handler runs again cannot mark it client_gone.
      for (Request* r : finished) live.erase(r);
      lock.unlock();
      for (Request* r : finished) MarkDone(r);
      lock.lock();
    }
  }

  static void MarkDone(Request* r) {
    std::lock_guard<std::mutex> l(r->mu);
    r->done = true;
    r->cv.notify_one();
  }

  bool Write(Request* r, const std::string& payload) {
    if (r->client_gone) return false;
    std::string framed = Chunked(payload);
    if (mg_write(r->conn, framed.data(), framed.size()) != static_cast<int>(framed.size())) {
      r->client_gone = true;
      return false;
    }
    return true;
  }

  void Deliver(const Emission& e, std::vector<Request*>* finished,
               std::vector<Request*>* cancelled) {
    Request* r = static_cast<Request*>(e.seq->owner);
    if (r->client_gone || r->dropped || r->errored) return;
    if (r->stream && e.index == r->fault_at) {
      if (r->fault == Fault::kMidstreamError) {
        r->errored = true;
        Write(r, StreamErrorEvents(options.framework, "simulated engine failure (ib-sim fault injection)",
                                   "InternalServerError", 500));
        if (!r->client_gone) mg_write(r->conn, "0\r\n\r\n", 5);
        cancelled->push_back(r);
        finished->push_back(r);
        return;
      }
      if (r->fault == Fault::kDrop) {
        r->dropped = true;  // the handler returns without ending the chunked body
        cancelled->push_back(r);
        finished->push_back(r);
        return;
      }
    }
    std::string_view text = TokenText(r->rng, e.index);
    if (e.last && r->finish_reason == "stop") text = {};  // the EOS token decodes to nothing
    if (!r->stream) {
      r->text += text;
      r->token_ns.push_back(MonotonicNs());
      if (e.last) finished->push_back(r);
      return;
    }
    r->buf.clear();
    if (r->fault == Fault::kMalformed && e.index == r->fault_at) r->buf += MalformedEvent(r->shape);
    if (options.tokens_per_chunk > 1) {
      r->pending += text;
      if (++r->pending_tokens < r->chunk_target && !e.last) return;  // held for the next event
    }
    const int64_t carried = options.tokens_per_chunk > 1 ? r->pending_tokens : 1;
    AppendTokenEvents(r->shape, e.index, options.tokens_per_chunk > 1 ? std::string_view(r->pending) : text,
                      e.last, r->finish_reason, &r->buf, carried);
    if (options.tokens_per_chunk > 1) {
      r->pending.clear();
      r->pending_tokens = 0;
      r->chunk_target = NextChunkTarget(r);
    }
    static thread_local std::string framed;
    framed.clear();
    AppendChunk(r->buf, &framed);
    int64_t t = MonotonicNs();
    if (mg_write(r->conn, framed.data(), framed.size()) != static_cast<int>(framed.size())) {
      r->client_gone = true;
      cancelled->push_back(r);
      finished->push_back(r);
      return;
    }
    // Every token the event carried was written now (the truth of per-token ITL).
    for (int64_t k = 0; k < carried; ++k) r->token_ns.push_back(t);
    if (e.last) {
      r->last_written = true;  // the handler ends the body once the request is in the metrics
      finished->push_back(r);
    }
  }

  int64_t NextChunkTarget(Request* r) {
    const int64_t k = options.tokens_per_chunk;
    if (!options.speculative) return k;
    return std::min<int64_t>(k, 1 + static_cast<int64_t>(r->chunk_rng.Uniform() * static_cast<double>(k)));
  }

  // ---- handlers ----
  static void SendJson(mg_connection* conn, int status, const std::string& body,
                       const char* extra_headers = "") {
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
              status, mg_get_response_code_text(conn, status), body.size(), extra_headers);
    mg_write(conn, body.data(), body.size());
  }

  static void SendText(mg_connection* conn, int status, const char* type, const std::string& body) {
    mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", status,
              mg_get_response_code_text(conn, status), type, body.size());
    mg_write(conn, body.data(), body.size());
  }

  int SendError(mg_connection* conn, int status, const std::string& message, const char* type,
                const char* param = "") {
    SendJson(conn, status, ErrorBody(options.framework, message, type, status, param));
    return status;
  }

  int HandleHealth(mg_connection* conn, bool generate) {
    if (options.faults.health_delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(
          static_cast<int64_t>(options.faults.health_delay_ms * 1000)));
    if (!Loaded()) {
      SendText(conn, 503, "text/plain", "");
      return 503;
    }
    SendText(conn, 200, "text/plain", "");
    return 200;
  }

  int HandleModels(mg_connection* conn) {
    int64_t created = static_cast<int64_t>(std::time(nullptr));
    std::string m = JsonEscape(options.model);
    bool sglang = options.framework == Framework::kSglang;
    std::string body = "{\"object\":\"list\",\"data\":[{\"id\":\"" + m +
                       "\",\"object\":\"model\",\"created\":" + std::to_string(created) +
                       ",\"owned_by\":\"" + (sglang ? "sglang" : "vllm") + "\",\"root\":\"" + m +
                       "\",\"parent\":null,\"max_model_len\":" +
                       std::to_string(options.max_model_len);
    if (!sglang) {
      Rng rng(static_cast<uint64_t>(created));
      body += ",\"permission\":[{\"id\":\"modelperm-" + HexId(rng) +
              "\",\"object\":\"model_permission\",\"created\":" + std::to_string(created) +
              ",\"allow_create_engine\":false,\"allow_sampling\":true,\"allow_logprobs\":true,"
              "\"allow_search_indices\":false,\"allow_view\":true,\"allow_fine_tuning\":false,"
              "\"organization\":\"*\",\"group\":null,\"is_blocking\":false}]";
    }
    body += "}]}";
    SendJson(conn, 200, body);
    return 200;
  }

  int HandleModelInfo(mg_connection* conn) {
    std::string m = JsonEscape(options.model);
    SendJson(conn, 200,
             "{\"model_path\":\"" + m + "\",\"tokenizer_path\":\"" + m +
                 "\",\"is_generation\":true,\"preferred_sampling_params\":null,"
                 "\"weight_version\":\"default\"}");
    return 200;
  }

  int HandleMetrics(mg_connection* conn) {
    int64_t now = MonotonicNs();
    if (options.faults.metrics_gone_after_s >= 0 &&
        now - start_ns >= static_cast<int64_t>(options.faults.metrics_gone_after_s * 1e9)) {
      SendJson(conn, 404, "{\"detail\":\"Not Found\"}");
      return 404;
    }
    EngineStats stats;
    {
      std::lock_guard<PiMutex> lock(mu);
      stats = engine.Stats();
    }
    stats.running += handler_streams.load();
    SendText(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
             RenderMetrics(options, stats, observations, now));
    return 200;
  }

  static std::string RenderChat(const json& messages, std::string* error) {
    std::string out;
    for (const json& m : messages) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
        *error = "each message needs a string \"role\"";
        return {};
      }
      out += "<|" + m["role"].get<std::string>() + "|>\n";
      const json& c = m.value("content", json());
      if (c.is_string()) {
        out += c.get<std::string>();
      } else if (c.is_array()) {
        for (const json& part : c)
          if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
              part["text"].is_string())
            out += part["text"].get<std::string>();
      } else if (!c.is_null()) {
        *error = "message content must be a string or a list of parts";
        return {};
      }
      out += "<|end|>\n";
    }
    out += "<|assistant|>\n";
    return out;
  }

  std::atomic<int64_t> generating{0};
  struct Counted {
    std::atomic<int64_t>& n;
    explicit Counted(std::atomic<int64_t>& c) : n(c) { ++n; }
    ~Counted() { --n; }
  };

  int HandleGenerate(mg_connection* conn, Endpoint endpoint, const std::string& path) {
    const int64_t arrival = MonotonicNs();
    Counted counted(generating);
    const Framework fw = options.framework;
    std::string body;
    char buf[16384];
    int n;
    while ((n = mg_read(conn, buf, sizeof buf)) > 0) {
      body.append(buf, static_cast<std::size_t>(n));
      if (body.size() > (64u << 20)) return SendError(conn, 413, "request body too large", "BadRequestError");
    }
    if (!Loaded()) return SendError(conn, 503, "the model is still loading", "ServiceUnavailableError");
    json req = json::parse(body, nullptr, false);
    if (req.is_discarded() || !req.is_object())
      return SendError(conn, 400, "request body is not a JSON object", "BadRequestError");
    if (req.contains("model") && (!req["model"].is_string() || req["model"] != options.model)) {
      std::string name = req["model"].is_string() ? req["model"].get<std::string>() : req["model"].dump();
      return SendError(conn, 404, "The model `" + name + "` does not exist.", "NotFoundError", "model");
    }
    std::string rendered;
    if (endpoint == Endpoint::kChat) {
      if (!req.contains("messages") || !req["messages"].is_array() || req["messages"].empty())
        return SendError(conn, 400, "\"messages\" must be a non-empty list", "BadRequestError", "messages");
      std::string error;
      rendered = RenderChat(req["messages"], &error);
      if (!error.empty()) return SendError(conn, 400, error, "BadRequestError", "messages");
    } else {
      const json& p = req.value("prompt", json());
      if (p.is_string()) rendered = p.get<std::string>();
      else if (p.is_array() && p.size() == 1 && p[0].is_string()) rendered = p[0].get<std::string>();
      else return SendError(conn, 400, "\"prompt\" must be a string", "BadRequestError", "prompt");
    }
    int64_t max_tokens = options.default_max_tokens;
    bool max_given = false;
    for (const char* key : {"max_tokens", "max_completion_tokens"}) {
      if (!req.contains(key) || req[key].is_null()) continue;
      if (!req[key].is_number_integer() || req[key].get<int64_t>() < 1)
        return SendError(conn, 400, std::string(key) + " must be an integer >= 1", "BadRequestError", key);
      max_tokens = req[key].get<int64_t>();
      max_given = true;
    }
    auto boolean = [&](const json& obj, const char* key, bool* out) {
      if (!obj.contains(key) || obj[key].is_null()) return true;
      if (!obj[key].is_boolean()) return false;
      *out = obj[key].get<bool>();
      return true;
    };
    bool stream = false, ignore_eos = false, include_usage = false, continuous = false;
    if (!boolean(req, "stream", &stream)) return SendError(conn, 400, "stream must be a boolean", "BadRequestError", "stream");
    if (!boolean(req, "ignore_eos", &ignore_eos)) return SendError(conn, 400, "ignore_eos must be a boolean", "BadRequestError", "ignore_eos");
    if (req.contains("stream_options") && !req["stream_options"].is_null()) {
      const json& so = req["stream_options"];
      if (!so.is_object() || !boolean(so, "include_usage", &include_usage) ||
          !boolean(so, "continuous_usage_stats", &continuous))
        return SendError(conn, 400, "stream_options must be an object of booleans", "BadRequestError", "stream_options");
      if (!stream) return SendError(conn, 400, "Stream options can only be defined when `stream=True`.", "BadRequestError");
    }
    const int64_t prompt_tokens = CountTokens(rendered);
    if (prompt_tokens + max_tokens > options.max_model_len || !engine.Fits(prompt_tokens + max_tokens)) {
      int64_t limit = std::min<int64_t>(options.max_model_len, options.deterministic ? options.max_model_len : options.kv_blocks * kBlockTokens);
      return SendError(conn, 400,
                       "This model's maximum context length is " + std::to_string(limit) +
                           " tokens. However, you requested " + std::to_string(prompt_tokens + max_tokens) +
                           " tokens (" + std::to_string(prompt_tokens) + " in the messages, " +
                           std::to_string(max_tokens) + " in the completion). Please reduce the length of the messages or completion.",
                       "BadRequestError");
    }

    auto r = std::make_unique<Request>();
    const uint64_t index = request_counter.fetch_add(1);
    r->rng = Rng(options.seed * 0x9e3779b97f4a7c15ull + index);
    r->chunk_rng = Rng(options.seed * 0x2545f4914f6cdd1dull + index);
    r->chunk_target = NextChunkTarget(r.get());
    r->conn = conn;
    r->path = path;
    r->stream = stream;
    std::string hex = HexId(r->rng);
    const char* header_id = mg_get_header(conn, "X-Request-Id");
    r->shape.framework = fw;
    r->shape.endpoint = endpoint;
    r->shape.id = ResponseId(fw, endpoint, header_id && *header_id ? header_id : hex);
    r->shape.created = static_cast<int64_t>(std::time(nullptr));
    r->shape.model = options.model;
    r->shape.include_usage = include_usage;
    r->shape.continuous_usage = continuous && include_usage;
    r->shape.prompt_tokens = prompt_tokens;
    r->shape.eos_token_id = options.eos_token_id;
    PrepareHead(&r->shape);

    TruthRecord truth_record;
    truth_record.request_id = r->shape.id;
    truth_record.path = path;
    truth_record.arrival_ns = arrival;
    truth_record.prompt_tokens = prompt_tokens;

    // Draw every fault in a fixed order so a seed always picks the same requests.
    const Faults& f = options.faults;
    double u500 = r->rng.Uniform(), u429 = r->rng.Uniform(), umid = r->rng.Uniform(),
           udrop = r->rng.Uniform(), ustall = r->rng.Uniform(), umal = r->rng.Uniform(),
           ulen = r->rng.Uniform();
    if (u500 < f.error_500_rate || u429 < f.error_429_rate) {
      int status = u500 < f.error_500_rate ? 500 : 429;
      if (status == 500) SendError(conn, 500, "simulated engine failure (ib-sim fault injection)", "InternalServerError");
      else SendError(conn, 429, "Too many requests: the server is over capacity (ib-sim fault injection)", "TooManyRequestsError");
      truth_record.status = status;
      truth_record.fault = status == 500 ? "http_500" : "http_429";
      if (truth.is_open()) truth.Write(truth_record);
      return status;
    }
    if (umid < f.midstream_error_rate) r->fault = Fault::kMidstreamError;
    else if (udrop < f.drop_rate) r->fault = Fault::kDrop;
    else if (ustall < f.stall_rate) r->fault = Fault::kStall;
    else if (umal < f.malformed_rate) r->fault = Fault::kMalformed;
    if (!stream && r->fault != Fault::kStall) r->fault = Fault::kNone;  // mid-stream faults need a stream

    int64_t output = max_tokens;
    if (!ignore_eos && (options.output_len_mean > 0 || !max_given)) {
      double mean = options.output_len_mean > 0 ? options.output_len_mean : static_cast<double>(options.default_max_tokens) / 2;
      int64_t drawn = 1 + static_cast<int64_t>(-std::log(1.0 - ulen) * mean);
      if (drawn < max_tokens) {
        output = drawn;
        r->finish_reason = "stop";
      }
    }
    r->seq.prompt_tokens = prompt_tokens;
    r->seq.block_hashes = BlockHashes(rendered);
    r->seq.output_tokens = output;
    r->seq.arrival_ns = arrival;
    r->seq.owner = r.get();
    r->fault_at = std::min<int64_t>(f.after_tokens, output - 1);
    if (r->fault == Fault::kStall) {
      r->seq.stall_at = r->fault_at;
      r->seq.stall_ns = static_cast<int64_t>(f.stall_s * 1e9);
    }

    if (stream) {
      // uvicorn sends the headers as soon as the streaming response starts.
      mg_printf(conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                "Transfer-Encoding: chunked\r\n%s\r\n",
                r->fault == Fault::kDrop ? "Connection: close\r\n" : "");
    }
    if (options.writer == "handler" && stream) {
      WriteOwnSchedule(r.get());
    } else {
      std::lock_guard<PiMutex> lock(mu);
      if (stopping) return SendError(conn, 503, "server is shutting down", "ServiceUnavailableError");
      live.insert(r.get());
      inbox.push_back(r.get());
      cv.notify_one();
    }
    if (options.writer != "handler" || !stream) {
      {
        std::unique_lock<std::mutex> l(r->mu);
        r->cv.wait(l, [&] { return r->done; });
      }
      std::lock_guard<PiMutex> lock(mu);
      live.erase(r.get());
    }
    const int64_t completion = static_cast<int64_t>(r->token_ns.size());
    // The request goes into the truth file and the metrics before the client can see its end
    // (the chunked terminator, or the whole non-streamed body): a scrape that follows the
    // client's last request counts it, as vLLM's do (its stats are recorded as the engine
    // finishes a request, before the API server sends the last chunk).
    truth_record.token_ns = r->token_ns;
    truth_record.completion_tokens = completion;
    truth_record.cached_prompt_tokens = r->seq.cached_tokens;
    truth_record.fault = FaultName(r->fault);
    if (r->client_gone && r->fault == Fault::kNone) truth_record.fault = "client_gone";
    if (truth.is_open()) truth.Write(truth_record);

    Observations::Request ob;
    ob.prompt_tokens = prompt_tokens;
    ob.generation_tokens = completion;
    ob.queue_s = r->seq.admitted_ns >= 0 ? static_cast<double>(r->seq.admitted_ns - arrival) / 1e9 : 0;
    if (completion > 0) ob.ttft_s = static_cast<double>(r->token_ns[0] - arrival) / 1e9;
    for (std::size_t i = 1; i < r->token_ns.size(); ++i)
      ob.itl_s.push_back(static_cast<double>(r->token_ns[i] - r->token_ns[i - 1]) / 1e9);
    ob.e2e_s = static_cast<double>((completion > 0 ? r->token_ns.back() : MonotonicNs()) - arrival) / 1e9;
    bool complete = completion == r->seq.output_tokens && !r->errored && !r->dropped;
    ob.finished_reason = complete ? r->finish_reason : "abort";
    observations.Record(ob, MonotonicNs());
    if (!stream && !r->client_gone) SendJson(conn, 200, CompleteBody(r->shape, r->text, completion, r->finish_reason));
    if (stream && r->last_written) mg_write(conn, "0\r\n\r\n", 5);
    if (r->dropped) DropConnection(conn);
    return 200;
  }

  // --writer handler: this connection's thread sleeps until each of its own token times
  // (deterministic schedule) and writes it, with the same rendering and faults as the scheduler.
  std::atomic<int64_t> handler_streams{0};
  void WriteOwnSchedule(Request* r) {
    ++handler_streams;
    std::vector<Request*> finished, cancelled;
    int64_t due = r->seq.arrival_ns + static_cast<int64_t>(options.ttft_ms * 1e6);
    const int64_t itl = static_cast<int64_t>(options.itl_ms * 1e6);
    for (int64_t i = 0; i < r->seq.output_tokens; ++i) {
      if (i == r->seq.stall_at) due += r->seq.stall_ns;
      timespec ts{static_cast<time_t>(due / 1'000'000'000), static_cast<long>(due % 1'000'000'000)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
      Deliver({&r->seq, i, due, i + 1 == r->seq.output_tokens}, &finished, &cancelled);
      if (!finished.empty()) break;
      due += itl;
    }
    r->seq.admitted_ns = r->seq.arrival_ns;
    --handler_streams;
  }

  // Civetweb offers no way to close a keep-alive connection from a handler, nor its socket; find
  // the socket by its address pair and shut it down (not close: Civetweb still owns the fd and
  // closes it when its next read fails), so the client sees the drop now.
  void DropConnection(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    long max_fd = std::min<long>(sysconf(_SC_OPEN_MAX), 1 << 16);
    for (int fd = 3; fd < max_fd; ++fd) {
      sockaddr_in peer{}, local{};
      socklen_t len = sizeof peer;
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 || peer.sin_family != AF_INET)
        continue;
      len = sizeof local;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
      if (ntohs(peer.sin_port) == info->remote_port && ntohs(local.sin_port) == port) {
        shutdown(fd, SHUT_RDWR);
        return;
      }
    }
  }

  int Dispatch(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    std::string uri = info->local_uri ? info->local_uri : "";
    std::string method = info->request_method ? info->request_method : "";
    bool sglang = options.framework == Framework::kSglang;
    auto only = [&](const char* m) {
      if (method == m) return true;
      SendJson(conn, 405, "{\"detail\":\"Method Not Allowed\"}");
      return false;
    };
    if (uri == "/health") return only("GET") ? HandleHealth(conn, false) : 405;
    if (uri == "/health_generate" && sglang) return only("GET") ? HandleHealth(conn, true) : 405;
    if (uri == "/get_model_info" && sglang) return only("GET") ? HandleModelInfo(conn) : 405;
    if (uri == "/v1/models") return only("GET") ? HandleModels(conn) : 405;
    if (uri == "/metrics") return only("GET") ? HandleMetrics(conn) : 405;
    if (uri == "/v1/chat/completions") return only("POST") ? HandleGenerate(conn, Endpoint::kChat, uri) : 405;
    if (uri == "/v1/completions") return only("POST") ? HandleGenerate(conn, Endpoint::kCompletions, uri) : 405;
    SendJson(conn, 404, "{\"detail\":\"Not Found\"}");
    return 404;
  }

  static int Handler(mg_connection* conn, void* data) {
    return static_cast<Impl*>(data)->Dispatch(conn);
  }
};

Server::Server(const Options& options) : impl_(std::make_unique<Impl>(options)) {}

Server::~Server() { Stop(); }

bool Server::Start(std::string* error) {
  Impl& s = *impl_;
  if (!s.options.truth_file.empty() && !s.truth.Open(s.options.truth_file, error)) return false;
  s.start_ns = MonotonicNs();
  std::string listen = "127.0.0.1:" + std::to_string(s.options.port);
  std::string threads = std::to_string(s.options.threads);
  const char* opts[] = {"listening_ports", listen.c_str(),
                        "num_threads", threads.c_str(),
                        "listen_backlog", "4096",
                        "connection_queue", "4096",
                        "enable_keep_alive", "yes",
                        "keep_alive_timeout_ms", "30000",
                        "request_timeout_ms", "600000",
                        "tcp_nodelay", "1",
                        nullptr};
  mg_callbacks callbacks{};
  s.ctx = mg_start(&callbacks, nullptr, opts);
  if (!s.ctx) {
    *error = "cannot listen on " + listen + " (port in use?)";
    return false;
  }
  mg_set_request_handler(s.ctx, "/", Impl::Handler, &s);
  mg_server_port ports[1];
  if (mg_get_server_ports(s.ctx, 1, ports) != 1) {
    *error = "civetweb reported no listening port";
    return false;
  }
  s.port = ports[0].port;
  s.scheduler = std::thread([&s] { s.SchedulerLoop(); });
  if (!s.options.port_file.empty()) {
    std::string tmp = s.options.port_file + ".tmp." + std::to_string(getpid());
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f || std::fprintf(f, "%d\n", s.port) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), s.options.port_file.c_str()) != 0) {
      *error = "cannot write port file " + s.options.port_file + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

int Server::port() const { return impl_->port; }

void Server::Stop(bool stop_http) {
  Impl& s = *impl_;
  {
    std::lock_guard<PiMutex> lock(s.mu);
    s.stopping = true;
    s.cv.notify_all();
  }
  if (s.scheduler.joinable()) s.scheduler.join();
  {
    // Wake every handler still waiting on an unfinished request (finished ones left `live` when
    // their last chunk was written); their connections are ended by Civetweb or the exit.
    std::lock_guard<PiMutex> lock(s.mu);
    for (Request* r : s.live) {
      std::lock_guard<std::mutex> l(r->mu);
      if (r->done) continue;
      r->client_gone = true;
      r->done = true;
      r->cv.notify_one();
    }
  }
  // Let woken handlers write their truth lines (bounded: a handler stuck in a write to a client
  // that stopped reading is abandoned).
  for (int i = 0; i < 200 && s.generating.load() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (stop_http && s.ctx) {
    mg_stop(s.ctx);
    s.ctx = nullptr;
  }
  s.truth.Close();
}

}  // namespace ib::sim
