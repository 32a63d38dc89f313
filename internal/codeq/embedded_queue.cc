#include "internal/codeq/embedded_queue.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

namespace cs::codeq {
namespace {

constexpr size_t kMaxNameLength = 256;

// A message a group has handed out at least once (or is about to) and not acked yet.
struct Pending {
  std::string bytes;
  int attempt = 0;        // deliveries so far
  int64_t dueMs = 0;      // inflight: ack deadline; otherwise: redeliverable from
  bool inflight = false;  // handed to `owner` and neither acked, nacked nor timed out
  uint64_t owner = 0;     // subscription id
};

struct Group {
  uint64_t cursor = 0;  // next topic sequence number to hand out
  std::map<uint64_t, Pending> pending;
  std::set<std::pair<int64_t, uint64_t>> due;  // (dueMs, seq) of every pending entry
};

struct Topic {
  std::deque<std::string> messages;
  uint64_t firstSeq = 0;  // sequence number of messages.front()
  uint64_t dropped = 0;
  std::map<std::string, Group, std::less<>> groups;
  uint64_t endSeq() const { return firstSeq + messages.size(); }
};

struct Sub {
  uint64_t id = 0;
  SubscribeOptions options;
  DeliveryHandler handler;
  int inflight = 0;
  bool stopped = false;
  bool idle = false;  // waiting with nothing deliverable (see waitIdleForTest)
  std::condition_variable cv;  // this subscription's thread waits here (under Core::mu)
  std::thread thread;
};

Status checkName(std::string_view what, std::string_view name) {
  return checkQueueName(what, name, kMaxNameLength);
}

}  // namespace

struct EmbeddedQueue::Core : std::enable_shared_from_this<EmbeddedQueue::Core> {
  explicit Core(EmbeddedQueueOptions o) : options(std::move(o)) {
    if (!options.clock) options.clock = std::make_shared<SystemClock>();
    if (options.maxTopicLength == 0) options.maxTopicLength = 1;
  }

  EmbeddedQueueOptions options;
  std::mutex mu;
  std::condition_variable idleCv;  // a delivery thread went idle
  bool stopping = false;
  uint64_t nextSubId = 1;
  std::map<std::string, Topic, std::less<>> topics;
  std::unordered_map<uint64_t, std::shared_ptr<Sub>> subs;
  std::vector<std::thread> orphans;  // threads of subscriptions stopped from their own handler

  int64_t now() const { return options.clock->nowMs(); }

  void log(const std::string& line) {
    if (options.log) {
      options.log(line);
    } else {
      std::fprintf(stderr, "codeq(embedded): %s\n", line.c_str());
    }
  }

  // Something changed for `s`: its thread must look again before it may count as idle.
  // Only a waiting thread needs the signal; a busy one looks again when its handler returns.
  static void wakeLocked(Sub& s) {
    if (!s.idle) return;
    s.idle = false;
    s.cv.notify_one();
  }
  // Wakes only the subscriptions of one topic: a publish must not wake every delivery thread
  // of the process (each needless wake-up is a context switch on the invoke path).
  void wakeTopicLocked(std::string_view topic) {
    for (auto& [id, s] : subs) {
      if (s->options.topic == topic) wakeLocked(*s);
    }
  }
  void wakeAllLocked() {
    for (auto& [id, s] : subs) wakeLocked(*s);
  }

  Topic& topicLocked(std::string_view name) {
    auto it = topics.find(name);
    if (it == topics.end()) it = topics.emplace(std::string(name), Topic{}).first;
    return it->second;
  }

  void appendLocked(std::string_view topicName, std::string bytes) {
    Topic& t = topicLocked(topicName);
    t.messages.push_back(std::move(bytes));
    while (t.messages.size() > options.maxTopicLength) {
      t.messages.pop_front();
      ++t.firstSeq;
      ++t.dropped;
      if (t.dropped == 1 || t.dropped % 1000 == 0) {
        log("topic " + std::string(topicName) + " is at its cap of " +
            std::to_string(options.maxTopicLength) + " messages; dropped the oldest (" +
            std::to_string(t.dropped) + " dropped so far)");
      }
    }
    wakeTopicLocked(topicName);
  }

  // An owner that was at its maxInflight may take another message now: it is woken.
  void releaseInflightLocked(Pending& p) {
    if (!p.inflight) return;
    p.inflight = false;
    if (auto it = subs.find(p.owner); it != subs.end() && it->second->inflight > 0) {
      Sub& owner = *it->second;
      if (owner.inflight-- >= owner.options.maxInflight) wakeLocked(owner);
    }
  }

  void eraseLocked(Group& g, std::map<uint64_t, Pending>::iterator it) {
    releaseInflightLocked(it->second);
    g.due.erase({it->second.dueMs, it->first});
    g.pending.erase(it);
  }

  // Deliveries whose ack deadline passed no longer count against their owner's maxInflight.
  void reclaimExpiredLocked(Group& g, int64_t nowMs) {
    for (auto it = g.due.begin(); it != g.due.end() && it->first <= nowMs; ++it) {
      releaseInflightLocked(g.pending.at(it->second));
    }
  }

  void run(const std::shared_ptr<Sub>& s);
  void deliverOrFail(const std::shared_ptr<Sub>& s, uint64_t seq, int attempt,
                     const std::string& bytes);
};

void EmbeddedQueue::Core::run(const std::shared_ptr<Sub>& s) {
  const SubscribeOptions& o = s->options;
  std::unique_lock lk(mu);
  while (!stopping && !s->stopped) {
    Topic& t = topicLocked(o.topic);
    Group& g = t.groups[o.group];
    const int64_t nowMs = now();
    reclaimExpiredLocked(g, nowMs);

    std::optional<uint64_t> seq;
    if (s->inflight < o.maxInflight) {
      if (!g.due.empty() && g.due.begin()->first <= nowMs) {
        seq = g.due.begin()->second;
        g.due.erase(g.due.begin());
      } else {
        g.cursor = std::max(g.cursor, t.firstSeq);
        if (g.cursor < t.endSeq()) {
          seq = g.cursor;
          Pending p;
          p.bytes = t.messages[g.cursor - t.firstSeq];
          g.pending.emplace(g.cursor, std::move(p));
          ++g.cursor;
        }
      }
    }
    if (!seq) {
      // Nothing deliverable now: sleep until the next future deadline or a change.
      s->idle = true;
      idleCv.notify_all();
      auto next = g.due.upper_bound({nowMs, UINT64_MAX});
      if (next == g.due.end()) {
        s->cv.wait(lk);
      } else {
        s->cv.wait_for(lk, std::chrono::milliseconds(next->first - nowMs));
      }
      continue;
    }
    s->idle = false;

    Pending& p = g.pending.at(*seq);
    if (p.attempt >= o.maxDeliveries) {
      if (o.dlqTopic.empty()) {
        log("topic " + o.topic + " group " + o.group + ": message " + std::to_string(*seq) +
            " not acked after " + std::to_string(p.attempt) + " deliveries; dropped (no DLQ)");
      } else {
        log("topic " + o.topic + " group " + o.group + ": message " + std::to_string(*seq) +
            " not acked after " + std::to_string(p.attempt) + " deliveries; moved to " +
            o.dlqTopic);
        appendLocked(o.dlqTopic, p.bytes);
      }
      g.pending.erase(*seq);
      continue;
    }
    ++p.attempt;
    p.inflight = true;
    p.owner = s->id;
    p.dueMs = nowMs + o.ackTimeoutMs;
    g.due.insert({p.dueMs, *seq});
    ++s->inflight;
    const int attempt = p.attempt;
    std::string bytes = p.bytes;
    lk.unlock();
    deliverOrFail(s, *seq, attempt, bytes);
    lk.lock();
  }
  s->idle = true;
  idleCv.notify_all();
}

void EmbeddedQueue::Core::deliverOrFail(const std::shared_ptr<Sub>& s, uint64_t seq, int attempt,
                                        const std::string& bytes) {
  const SubscribeOptions& o = s->options;
  Result<Envelope> envelope = decode(bytes);
  if (!envelope.ok()) {
    std::lock_guard lk(mu);
    log("topic " + o.topic + " group " + o.group + ": message " + std::to_string(seq) +
        " is not a valid envelope (" + envelope.error().message + "); " +
        (o.dlqTopic.empty() ? std::string("dropped") : "moved to " + o.dlqTopic));
    if (!o.dlqTopic.empty()) appendLocked(o.dlqTopic, bytes);
    Group& g = topicLocked(o.topic).groups[o.group];
    if (auto it = g.pending.find(seq); it != g.pending.end()) eraseLocked(g, it);
    wakeAllLocked();
    return;
  }
  Delivery d;
  d.topic = o.topic;
  d.group = o.group;
  d.deliveryId = std::to_string(seq);
  d.attempt = attempt;
  d.envelope = std::move(*envelope);
  try {
    s->handler(std::move(d));
  } catch (const std::exception& e) {
    // Left unacked: it comes back after the ack timeout.
    std::lock_guard lk(mu);
    log("topic " + o.topic + " group " + o.group + ": handler threw: " + e.what());
  } catch (...) {
    std::lock_guard lk(mu);
    log("topic " + o.topic + " group " + o.group + ": handler threw");
  }
}

namespace {

class EmbeddedSubscription final : public Subscription {
 public:
  EmbeddedSubscription(std::weak_ptr<EmbeddedQueue::Core> core, uint64_t id)
      : core_(std::move(core)), id_(id) {}
  ~EmbeddedSubscription() override { stop(); }

  void stop() override;

 private:
  std::weak_ptr<EmbeddedQueue::Core> core_;
  uint64_t id_;
};

void EmbeddedSubscription::stop() {
  std::shared_ptr<EmbeddedQueue::Core> core = core_.lock();
  if (!core) return;
  std::thread thread;
  {
    std::lock_guard lk(core->mu);
    auto it = core->subs.find(id_);
    if (it == core->subs.end()) return;
    std::shared_ptr<Sub> s = it->second;
    s->stopped = true;
    core->subs.erase(it);
    if (s->thread.get_id() == std::this_thread::get_id()) {
      // Stopped from its own handler: the loop ends when the handler returns.
      core->orphans.push_back(std::move(s->thread));
    } else {
      thread = std::move(s->thread);
    }
    s->cv.notify_one();
    core->idleCv.notify_all();
  }
  if (thread.joinable()) thread.join();
}

Result<std::pair<Group*, uint64_t>> findGroupLocked(EmbeddedQueue::Core& core,
                                                    const Delivery& d) {
  uint64_t seq = 0;
  const char* first = d.deliveryId.data();
  const char* last = first + d.deliveryId.size();
  auto [ptr, ec] = std::from_chars(first, last, seq);
  if (d.deliveryId.empty() || ec != std::errc{} || ptr != last) {
    return Error{ErrorCode::ValidationFailed, "delivery: deliveryId is not one of this queue's"};
  }
  auto t = core.topics.find(d.topic);
  if (t == core.topics.end()) {
    return Error{ErrorCode::ValidationFailed, "delivery: unknown topic " + d.topic};
  }
  auto g = t->second.groups.find(d.group);
  if (g == t->second.groups.end()) {
    return Error{ErrorCode::ValidationFailed, "delivery: unknown group " + d.group};
  }
  return std::pair<Group*, uint64_t>{&g->second, seq};
}

}  // namespace

EmbeddedQueue::EmbeddedQueue(EmbeddedQueueOptions options)
    : core_(std::make_shared<Core>(std::move(options))) {}

EmbeddedQueue::~EmbeddedQueue() { stop(); }

Status EmbeddedQueue::start() {
  std::lock_guard lk(core_->mu);
  if (core_->stopping) return Error{ErrorCode::CodeqUnavailable, "queue is stopped"};
  return okStatus();
}

void EmbeddedQueue::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lk(core_->mu);
    core_->stopping = true;
    for (auto& [id, s] : core_->subs) {
      s->stopped = true;
      s->cv.notify_one();
      threads.push_back(std::move(s->thread));
    }
    core_->subs.clear();
    for (auto& t : core_->orphans) threads.push_back(std::move(t));
    core_->orphans.clear();
    core_->idleCv.notify_all();
  }
  for (auto& t : threads) {
    if (!t.joinable()) continue;
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // misuse (stop from a handler); the thread keeps Core alive until it ends
    } else {
      t.join();
    }
  }
}

Status EmbeddedQueue::ping() {
  std::lock_guard lk(core_->mu);
  if (core_->stopping) return Error{ErrorCode::CodeqUnavailable, "queue is stopped"};
  return okStatus();
}

Status EmbeddedQueue::publish(std::string_view topic, const Envelope& envelope) {
  if (Status st = checkName("topic", topic); !st.ok()) return st;
  if (Status st = validate(envelope); !st.ok()) return st;
  return publishRawForTest(topic, encode(envelope));
}

Status EmbeddedQueue::publishRawForTest(std::string_view topic, std::string_view bytes) {
  if (Status st = checkName("topic", topic); !st.ok()) return st;
  std::lock_guard lk(core_->mu);
  if (core_->stopping) return Error{ErrorCode::CodeqUnavailable, "queue is stopped"};
  core_->appendLocked(topic, std::string(bytes));
  return okStatus();
}

Result<std::unique_ptr<Subscription>> EmbeddedQueue::subscribe(const SubscribeOptions& options,
                                                               DeliveryHandler handler) {
  if (Status st = checkSubscribe(options, handler, kMaxNameLength); !st.ok()) return st.error();

  auto s = std::make_shared<Sub>();
  s->options = options;
  s->handler = std::move(handler);
  {
    std::lock_guard lk(core_->mu);
    if (core_->stopping) return Error{ErrorCode::CodeqUnavailable, "queue is stopped"};
    Topic& t = core_->topicLocked(options.topic);
    if (t.groups.find(options.group) == t.groups.end()) {
      t.groups[options.group].cursor = t.firstSeq;  // offset 0: retained history included
    }
    s->id = core_->nextSubId++;
    core_->subs.emplace(s->id, s);
    // The thread holds Core, so a thread orphaned by misuse never outlives its state.
    s->thread = std::thread([core = core_, s] { core->run(s); });
  }
  return std::unique_ptr<Subscription>(std::make_unique<EmbeddedSubscription>(core_, s->id));
}

Status EmbeddedQueue::ack(const Delivery& delivery) {
  std::lock_guard lk(core_->mu);
  auto found = findGroupLocked(*core_, delivery);
  if (!found.ok()) return found.error();
  auto [g, seq] = *found;
  // Only the owner's state changed (one inflight slot less): releasing it wakes the owner.
  if (auto it = g->pending.find(seq); it != g->pending.end()) core_->eraseLocked(*g, it);
  return okStatus();
}

Status EmbeddedQueue::nack(const Delivery& delivery, int64_t delayMs) {
  if (delayMs < 0) return Error{ErrorCode::ValidationFailed, "delayMs: must not be negative"};
  std::lock_guard lk(core_->mu);
  auto found = findGroupLocked(*core_, delivery);
  if (!found.ok()) return found.error();
  auto [g, seq] = *found;
  auto it = g->pending.find(seq);
  if (it == g->pending.end()) return okStatus();  // already acked
  Pending& p = it->second;
  if (p.attempt != delivery.attempt || !p.inflight) return okStatus();  // stale
  core_->releaseInflightLocked(p);
  g->due.erase({p.dueMs, seq});
  p.dueMs = core_->now() + delayMs;
  g->due.insert({p.dueMs, seq});
  core_->wakeTopicLocked(delivery.topic);  // any consumer of the group may take it
  return okStatus();
}

void EmbeddedQueue::wakeForTest() {
  std::lock_guard lk(core_->mu);
  core_->wakeAllLocked();
}

bool EmbeddedQueue::waitIdleForTest(int64_t maxWaitMs) {
  std::unique_lock lk(core_->mu);
  return core_->idleCv.wait_for(lk, std::chrono::milliseconds(maxWaitMs), [&] {
    if (core_->stopping) return true;
    return std::all_of(core_->subs.begin(), core_->subs.end(),
                       [](const auto& kv) { return kv.second->idle; });
  });
}

std::vector<std::string> EmbeddedQueue::messagesForTest(std::string_view topic) {
  std::lock_guard lk(core_->mu);
  auto it = core_->topics.find(topic);
  if (it == core_->topics.end()) return {};
  return {it->second.messages.begin(), it->second.messages.end()};
}

std::unique_ptr<EmbeddedQueue> makeEmbeddedQueue(EmbeddedQueueOptions options) {
  return std::make_unique<EmbeddedQueue>(std::move(options));
}

}  // namespace cs::codeq
