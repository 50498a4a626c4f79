#include "lib/load/workload.h"

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "lib/load/interrupt.h"
#include "lib/load/measure.h"
#include "lib/load/request_body.h"
#include "lib/load/schedule.h"

namespace ib::load {
namespace {

constexpr int64_t kNs = 1'000'000'000;

// What a driver decides: which requests go out now, and when to ask again.
class Driver {
 public:
  virtual ~Driver() = default;
  // Appends requests to start now; sets *next_ns to when to ask again (-1: after a completion).
  virtual void Due(int64_t now, std::size_t in_flight, std::vector<Request>* out, int64_t* next_ns) = 0;
  // A request finished. Synthetic results (skipped turns) go to *extra.
  virtual void Done(const Result& result, bool failed, int64_t now, std::vector<events::RequestComplete>* extra) = 0;
  // Nothing more will be sent.
  virtual bool Exhausted() const = 0;
  std::string breaker;  // set when a circuit breaker tripped

 protected:
  int64_t failures_ = 0;
  int64_t consecutive_failures_ = 0;
  void Count(bool failed) {
    failures_ += failed;
    consecutive_failures_ = failed ? consecutive_failures_ + 1 : 0;
  }
};

// The earliest freed slot instant (removed from *freed), or `otherwise` when none is left.
int64_t TakeEarliest(std::vector<int64_t>* freed, int64_t otherwise) {
  if (freed->empty()) return otherwise;
  auto it = std::min_element(freed->begin(), freed->end());
  int64_t at = *it;
  freed->erase(it);
  return at;
}

// The request body for these messages, for the workload's endpoint.
std::string BodyFor(const Workload& w, const nlohmann::json& messages, int64_t max_tokens) {
  if (w.endpoint == "completions")
    return CompletionBody(w.model, PromptText(messages), max_tokens, w.temperature, w.ignore_eos);
  return ChatBody(w.model, messages, max_tokens, w.temperature, w.ignore_eos);
}

class RequestFactory {
 public:
  RequestFactory(const Workload& w, bool warmup, int64_t* next_index) : w_(w), warmup_(warmup), next_index_(next_index) {}
  Request Make(int64_t prompt_number) {
    bool chosen = !warmup_ && !w_.request_numbers.empty();
    if (chosen) prompt_number = w_.request_numbers[static_cast<std::size_t>(prompt_number)];
    if (!warmup_ && w_.shard.on()) {  // this shard's m-th request is the run's request K + m*N
      chosen = true;
      prompt_number = GlobalNumber(prompt_number, w_.shard);
    }
    const Prompt& p = w_.prompts[static_cast<std::size_t>(prompt_number) % w_.prompts.size()];
    Request r;
    r.index = (*next_index_)++;
    if (chosen) r.index = prompt_number;
    r.warmup = warmup_;
    r.body = BodyFor(w_, p.messages, p.max_tokens.value_or(w_.max_tokens));
    return r;
  }
  // An arrival of a schedule: a trace request carries its own prompt and output length.
  Request Make(const Arrival& a) {
    if (!a.request && !w_.shard.on()) return Make(a.index);
    Request r;
    if (!a.request) {  // sharded: the arrival's index is already the run's request number
      const Prompt& p = w_.prompts[static_cast<std::size_t>(a.index) % w_.prompts.size()];
      r.index = a.index;
      r.warmup = warmup_;
      r.body = BodyFor(w_, p.messages, p.max_tokens.value_or(w_.max_tokens));
      return r;
    }
    r.index = a.index;
    *next_index_ = a.index + 1;
    r.warmup = warmup_;
    nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", trace::PromptText(*a.request)}}});
    r.body = BodyFor(w_, messages, a.request->output_tokens);
    return r;
  }

 private:
  const Workload& w_;
  bool warmup_;
  int64_t* next_index_;
};

// single (concurrency 1), concurrent, and the warmup phase.
class ClosedLoop : public Driver {
 public:
  ClosedLoop(RequestFactory factory, int64_t count, int64_t concurrency, int64_t end_ns, bool single_breaker,
             std::optional<ConcurrencyRamp> ramp = std::nullopt, int64_t start_ns = 0)
      : factory_(factory), count_(count), concurrency_(std::max<int64_t>(concurrency, 1)), end_ns_(end_ns),
        single_breaker_(single_breaker), ramp_(ramp), start_ns_(start_ns) {
    if (ramp_) concurrency_ = ramp_->from;
  }
  void Due(int64_t now, std::size_t in_flight, std::vector<Request>* out, int64_t* next_ns) override {
    // Past the end no request starts, busy slots or not: the end is never a wake-up in the past.
    if (end_ns_ > 0 && now >= end_ns_) ended_ = true;
    *next_ns = end_ns_ > 0 && !Exhausted() ? end_ns_ : -1;
    if (ramp_) Ramp(now, in_flight, next_ns);
    while (!Exhausted() && static_cast<int64_t>(in_flight + out->size()) < concurrency_) {
      Request r = factory_.Make(sent_++);
      // Intended: the instant its slot freed (the earliest unused one); the run's first slots
      // free when the phase starts.
      r.intended_ns = TakeEarliest(&freed_ns_, now);
      out->push_back(std::move(r));
    }
  }
  void Done(const Result& result, bool failed, int64_t, std::vector<events::RequestComplete>*) override {
    freed_ns_.push_back(result.observation.end_ns);
    Count(failed);
    if (!breaker.empty()) return;  // keep the reason it first tripped for
    if (single_breaker_ && consecutive_failures_ >= 5)
      breaker = "5 consecutive requests failed";
    else if (!single_breaker_ && failures_ >= std::max<int64_t>(1, (count_ > 0 ? count_ : sent_) / 2) &&
             (count_ > 0 || sent_ >= 10))
      breaker = std::to_string(failures_) + " requests failed (at least half of them)";
  }
  bool Exhausted() const override { return ended_ || (count_ > 0 && sent_ >= count_); }

 private:
  // Applies the ramp's steps due by now. A slot a step opens was free from the step's instant
  // on (its requests' intended start); a step down retires free slots first, and busy ones as
  // they free.
  void Ramp(int64_t now, std::size_t in_flight, int64_t* next_ns) {
    const int64_t steps = std::llabs(ramp_->to - ramp_->from);
    const int64_t dir = ramp_->to > ramp_->from ? 1 : -1;
    auto at = [&](int64_t k) { return start_ns_ + static_cast<int64_t>(std::llround(ConcurrencyStepAt(*ramp_, k) * 1e9)); };
    while (steps_done_ < steps && at(steps_done_ + 1) <= now) {
      ++steps_done_;
      concurrency_ += dir;
      if (dir > 0) freed_ns_.push_back(at(steps_done_));
    }
    const auto free_slots = static_cast<std::size_t>(std::max<int64_t>(concurrency_ - static_cast<int64_t>(in_flight), 0));
    while (freed_ns_.size() > free_slots) freed_ns_.erase(std::min_element(freed_ns_.begin(), freed_ns_.end()));
    if (steps_done_ < steps && !Exhausted()) *next_ns = *next_ns < 0 ? at(steps_done_ + 1) : std::min(*next_ns, at(steps_done_ + 1));
  }
  RequestFactory factory_;
  int64_t count_, concurrency_, end_ns_;
  bool single_breaker_;
  std::optional<ConcurrencyRamp> ramp_;
  int64_t start_ns_ = 0;
  int64_t steps_done_ = 0;
  int64_t sent_ = 0;
  bool ended_ = false;
  std::vector<int64_t> freed_ns_;  // slots freed and not yet reused (at most `concurrency`)
};

class Batches : public Driver {
 public:
  Batches(RequestFactory factory, int64_t count, int64_t batch_size, int64_t end_ns)
      : factory_(factory), count_(count), batch_size_(std::max<int64_t>(batch_size, 1)), end_ns_(end_ns) {}
  void Due(int64_t now, std::size_t in_flight, std::vector<Request>* out, int64_t* next_ns) override {
    *next_ns = -1;
    if (in_flight > 0 || Exhausted()) return;
    if (batch_open_) CloseBatch();
    if (!breaker.empty()) return;
    if (end_ns_ > 0 && now >= end_ns_) {
      ended_ = true;
      return;
    }
    // Intended: the batch start, the instant the previous batch's slowest member finished.
    const int64_t start = last_end_ns_ > 0 ? last_end_ns_ : now;
    for (int64_t i = 0; i < batch_size_ && !(count_ > 0 && sent_ >= count_); ++i) {
      Request r = factory_.Make(sent_++);
      r.intended_ns = start;
      out->push_back(std::move(r));
    }
    last_end_ns_ = 0;
    batch_open_ = !out->empty();
    batch_failures_ = batch_requests_ = 0;
  }
  void Done(const Result& result, bool failed, int64_t, std::vector<events::RequestComplete>*) override {
    last_end_ns_ = std::max(last_end_ns_, result.observation.end_ns);
    Count(failed);
    ++batch_requests_;
    batch_failures_ += failed;
  }
  bool Exhausted() const override { return ended_ || !breaker.empty() || (count_ > 0 && sent_ >= count_ && !batch_open_); }
  // Called by Due when the batch has drained; also by the runner at the end.
  void CloseBatch() {
    batch_open_ = false;
    all_failed_streak_ = (batch_requests_ > 0 && batch_failures_ == batch_requests_) ? all_failed_streak_ + 1 : 0;
    if (all_failed_streak_ >= 3)
      breaker = "3 consecutive batches failed entirely";
    else if (failures_ >= std::max<int64_t>(1, (count_ > 0 ? count_ : sent_) / 2) && (count_ > 0 || sent_ >= 10))
      breaker = std::to_string(failures_) + " requests failed (at least half of them)";
  }
  bool batch_open() const { return batch_open_; }

 private:
  RequestFactory factory_;
  int64_t count_, batch_size_, end_ns_;
  int64_t sent_ = 0;
  bool ended_ = false, batch_open_ = false;
  int64_t batch_failures_ = 0, batch_requests_ = 0, all_failed_streak_ = 0;
  int64_t last_end_ns_ = 0;  // the current batch's latest end so far
};

// rate and trace: arrivals streamed from a schedule (one read ahead), sent at their instants.
class OpenLoop : public Driver {
 public:
  // total: the requests the schedule yields (for the breaker); chosen: when not empty, only
  // these schedule indexes are sent (ascending; a resumed trace run).
  // shard: keep only arrivals i = K (mod N) of the whole schedule (lib/load/shard.h).
  OpenLoop(RequestFactory factory, std::unique_ptr<ArrivalSchedule> schedule, int64_t total, int64_t start_ns,
           int64_t cap, std::vector<int64_t> chosen = {}, Shard shard = {})
      : factory_(factory), schedule_(std::move(schedule)), cap_(cap), count_(total), start_ns_(start_ns),
        chosen_(std::move(chosen)), shard_(shard) {
    Advance();
  }
  void Due(int64_t now, std::size_t in_flight, std::vector<Request>* out, int64_t* next_ns) override {
    while (has_next_ && next_at_ns_ <= now) {
      if (cap_ > 0 && static_cast<int64_t>(in_flight + out->size()) >= cap_) break;  // late: the lag is recorded
      Request r = factory_.Make(next_);
      r.scheduled_ns = next_at_ns_;
      r.intended_ns = r.scheduled_ns;
      out->push_back(std::move(r));
      Advance();
    }
    bool capped = cap_ > 0 && has_next_ && next_at_ns_ <= now;
    *next_ns = (has_next_ && !capped) ? next_at_ns_ : -1;
  }
  void Done(const Result&, bool failed, int64_t, std::vector<events::RequestComplete>*) override {
    Count(failed);
    if (breaker.empty() && failures_ >= std::max<int64_t>(1, count_ / 2))
      breaker = std::to_string(failures_) + " requests failed (at least half of them)";
  }
  bool Exhausted() const override { return !has_next_; }

 private:
  void Advance() {
    while ((has_next_ = schedule_->Next(&next_))) {
      if (shard_.on() && next_.index % shard_.n != shard_.k) continue;
      if (chosen_.empty()) break;
      while (chosen_pos_ < chosen_.size() && chosen_[chosen_pos_] < next_.index) ++chosen_pos_;
      if (chosen_pos_ >= chosen_.size()) {
        has_next_ = false;
        break;
      }
      if (chosen_[chosen_pos_] == next_.index) break;
    }
    if (has_next_) next_at_ns_ = start_ns_ + static_cast<int64_t>(next_.offset_s * 1e9);
    // A trace file that turned bad after the config was checked stops the run.
    if (!has_next_ && breaker.empty() && !schedule_->error().empty()) breaker = "trace: " + schedule_->error();
  }
  RequestFactory factory_;
  std::unique_ptr<ArrivalSchedule> schedule_;
  int64_t cap_, count_, start_ns_;
  std::vector<int64_t> chosen_;
  Shard shard_;
  std::size_t chosen_pos_ = 0;
  Arrival next_;
  bool has_next_ = false;
  int64_t next_at_ns_ = 0;
};

class MultiTurn : public Driver {
 public:
  MultiTurn(const Workload& w, int64_t* next_index, const MeasureContext& mctx, int64_t end_ns)
      : w_(w), next_index_(next_index), mctx_(mctx), end_ns_(end_ns),
        parallel_(std::max<int64_t>(ShareOf(std::max<int64_t>(w.concurrency, 1), w.shard), 1)) {}
  void Due(int64_t now, std::size_t, std::vector<Request>* out, int64_t* next_ns) override {
    *next_ns = -1;
    // Follow-up turns of conversations whose previous turn just succeeded.
    for (auto& c : live_) {
      if (c.ready) {
        c.ready = false;
        out->push_back(Turn(c));
        out->back().intended_ns = c.previous_end_ns;  // + think time (none today)
      }
    }
    while (breaker.empty() && static_cast<int64_t>(live_.size()) < parallel_ && !NoMoreConversations(now)) {
      Conversation c;
      c.number = GlobalNumber(started_++, w_.shard);
      const ConversationScript& script = w_.conversations[static_cast<std::size_t>(c.number) % w_.conversations.size()];
      c.messages = script.initial;
      live_.push_back(std::move(c));
      out->push_back(Turn(live_.back()));
      // A new conversation takes the slot an ended one freed (the phase start for the first).
      out->back().intended_ns = TakeEarliest(&freed_ns_, now);
    }
  }
  void Done(const Result& result, bool failed, int64_t now, std::vector<events::RequestComplete>* extra) override {
    auto it = std::find_if(live_.begin(), live_.end(),
                           [&](const Conversation& c) { return c.number == *result.request.conversation_index; });
    if (it == live_.end()) return;
    Conversation& c = *it;
    c.previous_end_ns = result.observation.end_ns;
    const ConversationScript& script = w_.conversations[static_cast<std::size_t>(c.number) % w_.conversations.size()];
    bool conversation_over = false, conversation_failed = false;
    if (failed) {
      for (int64_t t = c.turn; t < w_.turns; ++t) {
        Request skipped;
        skipped.index = (*next_index_)++;
        if (w_.shard.on()) skipped.index = c.number * w_.turns + t;
        skipped.conversation_index = static_cast<int>(c.number);
        skipped.turn_index = static_cast<int>(t);
        extra->push_back(Skipped(skipped, now, "previous turn failed", mctx_));
      }
      conversation_over = conversation_failed = true;
    } else {
      c.messages.push_back({{"role", "assistant"}, {"content", result.observation.content}});
      if (c.turn >= w_.turns) {
        conversation_over = true;
      } else {
        std::size_t follow = static_cast<std::size_t>(c.turn - 1);
        std::string user = follow < script.follow_ups.size() ? script.follow_ups[follow] : std::string();
        c.messages.push_back({{"role", "user"}, {"content", user}});
        c.ready = true;
      }
    }
    if (conversation_over) {
      failed_streak_ = conversation_failed ? failed_streak_ + 1 : 0;
      if (failed_streak_ >= 3) breaker = "3 consecutive conversations failed";
      freed_ns_.push_back(result.observation.end_ns);
      live_.erase(it);
    }
  }
  bool Exhausted() const override {
    return live_.empty() && (!breaker.empty() || ended_ || (w_.count > 0 && started_ >= ShareOf(w_.count, w_.shard)));
  }

 private:
  struct Conversation {
    int64_t number = 0;
    int64_t turn = 0;  // turns sent so far
    nlohmann::json messages;
    bool ready = false;
    int64_t previous_end_ns = 0;  // when its last turn ended
  };
  std::vector<int64_t> freed_ns_;  // conversation slots freed and not yet reused
  bool NoMoreConversations(int64_t now) {
    if (end_ns_ > 0 && now >= end_ns_) ended_ = true;
    return ended_ || (w_.count > 0 && started_ >= ShareOf(w_.count, w_.shard));
  }
  Request Turn(Conversation& c) {
    Request r;
    r.index = (*next_index_)++;
    if (w_.shard.on()) r.index = c.number * w_.turns + c.turn;  // the same on every shard count
    r.conversation_index = static_cast<int>(c.number);
    r.turn_index = static_cast<int>(c.turn++);
    r.keep_content = true;
    r.body = BodyFor(w_, c.messages, w_.max_tokens);
    return r;
  }
  const Workload& w_;
  int64_t* next_index_;
  MeasureContext mctx_;
  int64_t end_ns_;
  int64_t parallel_;
  std::vector<Conversation> live_;
  int64_t started_ = 0;
  int64_t failed_streak_ = 0;
  bool ended_ = false;
};

struct PhaseResult {
  bool interrupted = false;
  bool output_closed = false;
  std::string breaker;
};

// Sleeps until a CLOCK_MONOTONIC instant (the agreed start), waking early on an interrupt.
void WaitUntil(int64_t at_ns) {
  while (Interrupts() == 0) {
    int64_t left = at_ns - NowNs();
    if (left <= 0) return;
    int64_t step = std::min<int64_t>(left, 50'000'000);  // re-check interrupts every 50 ms
    timespec ts{static_cast<time_t>(step / kNs), static_cast<long>(step % kNs)};
    nanosleep(&ts, nullptr);
  }
}

PhaseResult RunPhase(Driver& driver, StreamClient& client, const Workload& w, const MeasureContext& mctx,
                     const Emit& emit, Outcome* outcome, bool measured) {
  PhaseResult pr;
  std::vector<Request> due;
  std::vector<Result> done;
  std::vector<events::RequestComplete> extra;
  auto emit_rc = [&](events::RequestComplete rc) {
    if (measured) (rc.error ? outcome->failed : outcome->succeeded)++;
    if (!pr.output_closed && !emit(events::Event(std::move(rc)))) pr.output_closed = true;
  };
  auto deliver = [&](int64_t now) {
    for (Result& r : done) {
      events::RequestComplete rc = Measure(r.request, r.observation, mctx);
      bool failed = rc.error.has_value();
      emit_rc(std::move(rc));
      driver.Done(r, failed, now, &extra);
      for (auto& x : extra) emit_rc(std::move(x));
      extra.clear();
    }
    done.clear();
  };
  while (true) {
    if (Interrupts() > 0) {
      pr.interrupted = true;
      break;
    }
    if (pr.output_closed) break;
    int64_t now = NowNs();
    int64_t next_ns = -1;
    if (driver.breaker.empty()) {
      driver.Due(now, client.in_flight(), &due, &next_ns);
      for (Request& r : due) {
        if (measured) ++outcome->sent;
        client.Start(std::move(r));
      }
      due.clear();
    }
    if (client.in_flight() == 0 && (driver.Exhausted() || !driver.breaker.empty())) {
      if (auto* b = dynamic_cast<Batches*>(&driver); b && b->batch_open()) b->CloseBatch();
      break;
    }
    client.RunOnce(next_ns, &done);
    deliver(NowNs());
  }
  if (pr.interrupted || pr.output_closed) {
    // Stop sending; give what is in flight a bounded time to finish, then cancel the rest.
    int64_t deadline = NowNs() + static_cast<int64_t>(w.drain_timeout_s * kNs);
    while (!pr.output_closed && client.in_flight() > 0 && NowNs() < deadline && Interrupts() < 2) {
      client.RunOnce(deadline, &done);
      deliver(NowNs());
    }
    client.CancelAll(&done);
    deliver(NowNs());
  }
  pr.breaker = driver.breaker;
  return pr;
}

}  // namespace

std::string ValidateWorkload(const Workload& w) {
  static const char* kTypes[] = {"single", "batch", "concurrent", "rate", "multi_turn", "trace"};
  if (std::find(std::begin(kTypes), std::end(kTypes), w.type) == std::end(kTypes))
    return "workload type must be single, batch, concurrent, multi_turn, rate or trace (got '" + w.type + "')";
  if (w.count < 0) return "count must be >= 0";
  if (w.count == 0 && !w.duration_s) return "count must be >= 1 (or set a duration)";
  if (w.duration_s && !(*w.duration_s > 0)) return "duration must be > 0 seconds";
  if (w.type == "batch" && w.batch_size < 1) return "workload type 'batch' requires a batch size >= 1";
  if (w.type == "concurrent" && w.concurrency < 1 && !w.concurrency_ramp)
    return "workload type 'concurrent' requires a concurrency >= 1";
  if (w.concurrency < 0) return "concurrency must be >= 1";
  if (w.concurrency_ramp) {
    if (w.type != "concurrent") return "a concurrency ramp needs workload type 'concurrent'";
    std::string e = ValidateConcurrencyRamp(*w.concurrency_ramp);
    if (!e.empty()) return e;
  }
  if (w.rate_ramp && w.type != "rate") return "a rate ramp needs workload type 'rate'";
  if (w.type == "rate") {
    std::string e = ValidateArrival({w.request_rate, w.arrival, w.burstiness, w.seed, w.rate_ramp});
    if (!e.empty()) return "workload type 'rate': " + e;
  }
  if (w.type == "trace") {
    if (!w.trace) return "workload type 'trace' requires a trace";
    std::string e = trace::ValidateOptions(*w.trace);
    if (!e.empty()) return "trace: " + e;
    if (w.duration_s) return "workload type 'trace' takes its duration from trace.duration_s";
  }
  if (!w.request_numbers.empty()) {
    if (w.type == "multi_turn") return "chosen request numbers are not supported for multi_turn";
    if (w.count != static_cast<int64_t>(w.request_numbers.size()))
      return "count must equal the number of chosen request numbers";
  }
  if (w.shard.on()) {
    const std::string n = std::to_string(w.shard.n);
    if (w.type != "rate" && w.type != "concurrent" && w.type != "multi_turn" && w.type != "trace")
      return "sharding (N = " + n + ") needs a rate, trace, concurrent or multi_turn workload (got '" + w.type + "')";
    if (w.concurrency_ramp && std::min(w.concurrency_ramp->from, w.concurrency_ramp->to) < w.shard.n)
      return "the concurrency ramp's smaller end " + std::to_string(std::min(w.concurrency_ramp->from, w.concurrency_ramp->to)) +
             " is smaller than the " + n + " shards (each shard needs a slot)";
    if (!w.request_numbers.empty()) return "chosen request numbers (resume) cannot be sharded";
    if (w.count > 0 && w.count < w.shard.n)
      return "count " + std::to_string(w.count) + " is smaller than the " + n + " shards";
    if (w.type != "rate" && w.type != "trace" && !w.concurrency_ramp && std::max<int64_t>(w.concurrency, 1) < w.shard.n)
      return "concurrency " + std::to_string(std::max<int64_t>(w.concurrency, 1)) + " is smaller than the " + n +
             " shards (each shard needs a slot)";
    if ((w.type == "rate" || w.type == "trace") && w.concurrency > 0 && w.concurrency < w.shard.n)
      return "the in-flight cap " + std::to_string(w.concurrency) + " is smaller than the " + n + " shards";
  }
  if (w.type == "multi_turn") {
    if (w.conversations.empty()) return "workload type 'multi_turn' requires conversations";
    if (w.turns < 1) return "turns must be >= 1";
  } else if (w.prompts.empty() && w.type != "trace") {
    return "no prompts to send";
  }
  if (w.endpoint != "chat" && w.endpoint != "completions")
    return "endpoint must be chat or completions (got '" + w.endpoint + "')";
  if (w.warmup_requests < 0) return "warmup must be >= 0";
  if (w.warmup_requests > 0 && w.prompts.empty()) return "warmup needs prompts";
  if (!(w.timeout_s > 0)) return "timeout must be > 0 seconds";
  if (!(w.idle_timeout_s > 0)) return "idle timeout must be > 0 seconds";
  if (w.max_tokens < 1) return "max_tokens must be >= 1";
  if (w.model.empty()) return "a model name is required";
  return "";
}

std::optional<int64_t> TotalRequests(const Workload& w) {
  if (w.count <= 0) return std::nullopt;
  return w.type == "multi_turn" ? w.count * w.turns : w.count;
}

Outcome RunWorkload(const Workload& w, const RunContext& ctx, const Emit& emit) {
  Outcome outcome;
  int64_t connections = std::max<int64_t>({w.concurrency, w.batch_size, 1});
  if (w.concurrency_ramp) connections = std::max({connections, w.concurrency_ramp->from, w.concurrency_ramp->to});
  StreamClient client({.url = ctx.url, .timeout_s = w.timeout_s, .idle_timeout_s = w.idle_timeout_s,
                       .max_connections = connections});
  if (!client.error().empty()) {
    outcome.reason = client.error();
    return outcome;
  }
  SetInterruptWakeFd(client.wake_fd());
  MeasureContext mctx{ctx.run_id, ctx.iteration, ctx.t0_ns, w.idle_timeout_s, w.timeout_s};
  if (w.shard.on()) mctx.shard = static_cast<int>(w.shard.k);
  PhaseResult pr;

  if (w.warmup_requests > 0) {
    int64_t warm_index = 0;
    int64_t warm_concurrency = w.type == "batch" ? w.batch_size : std::max<int64_t>(w.concurrency, 1);
    // Sharded: each shard warms its share (the warmup is not measured; it only has to happen).
    int64_t warm_count = std::max<int64_t>(ShareOf(w.warmup_requests, w.shard), 1);
    warm_concurrency = std::max<int64_t>(ShareOf(warm_concurrency, w.shard), 1);
    ClosedLoop warm(RequestFactory(w, /*warmup=*/true, &warm_index), warm_count, warm_concurrency, -1,
                    /*single_breaker=*/false);
    pr = RunPhase(warm, client, w, mctx, emit, &outcome, /*measured=*/false);
    // A failing warmup does not stop the run: the measured phase has its own breakers.
  }

  if (!pr.interrupted && !pr.output_closed) {
    int64_t index = 0;
    if (ctx.start_ns >= 0) WaitUntil(ctx.start_ns);
    // With --start-at the schedule starts at the agreed instant even if this shard is late (its
    // lateness shows as send_lag_ms / client_queue_ms), so the shards' schedules line up.
    int64_t start = ctx.start_ns >= 0 ? ctx.start_ns : NowNs();
    const int64_t count = w.shard.on() && w.count > 0 ? ShareOf(w.count, w.shard) : w.count;
    const int64_t slots = w.shard.on() && w.concurrency > 0 ? ShareOf(w.concurrency, w.shard) : w.concurrency;
    int64_t end_ns = w.duration_s ? start + static_cast<int64_t>(*w.duration_s * kNs) : -1;
    std::unique_ptr<Driver> driver;
    RequestFactory factory(w, /*warmup=*/false, &index);
    if (w.type == "single") {
      driver = std::make_unique<ClosedLoop>(factory, w.count, 1, end_ns, /*single_breaker=*/true);
    } else if (w.type == "concurrent") {
      std::optional<ConcurrencyRamp> ramp = w.concurrency_ramp;
      if (ramp && w.shard.on()) ramp = ConcurrencyRamp{ShareOf(ramp->from, w.shard), ShareOf(ramp->to, w.shard), ramp->over_s};
      driver = std::make_unique<ClosedLoop>(factory, count, slots, end_ns, false, ramp, start);
    } else if (w.type == "batch") {
      driver = std::make_unique<Batches>(factory, w.count, w.batch_size, end_ns);
    } else if (w.type == "rate") {
      ArrivalSpec spec{w.request_rate, w.arrival, w.burstiness, w.seed, w.rate_ramp};
      int64_t total = w.count;
      if (total <= 0) {  // duration-only: count the schedule once (it is a pure function)
        auto counting = RateSchedule(spec, w.count, w.duration_s);
        for (Arrival a; counting->Next(&a);) ++total;
      }
      driver = std::make_unique<OpenLoop>(factory, RateSchedule(spec, w.count, w.duration_s), ShareOf(total, w.shard),
                                          start, slots, std::vector<int64_t>{}, w.shard);
    } else if (w.type == "trace") {
      int64_t total = w.request_numbers.empty() ? ShareOf(w.count, w.shard) : static_cast<int64_t>(w.request_numbers.size());
      driver = std::make_unique<OpenLoop>(factory, TraceSchedule(*w.trace), total, start, slots, w.request_numbers, w.shard);
    } else {
      driver = std::make_unique<MultiTurn>(w, &index, mctx, end_ns);
    }
    pr = RunPhase(*driver, client, w, mctx, emit, &outcome, /*measured=*/true);
  }
  SetInterruptWakeFd(-1);
  outcome.stats = client.stats();
  outcome.interrupted = pr.interrupted;
  outcome.breaker = !pr.breaker.empty();
  if (pr.output_closed) {
    outcome.reason = "output closed";
  } else if (pr.interrupted) {
    outcome.reason = "interrupted";
  } else if (outcome.breaker) {
    outcome.reason = "circuit breaker: " + pr.breaker;
  } else {
    outcome.completed = true;
    outcome.reason = "finished";
  }
  return outcome;
}

}  // namespace ib::load
