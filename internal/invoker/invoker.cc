#include "internal/invoker/invoker.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>

#include "internal/api/validate.h"
#include "internal/bundle/bundle.h"
#include "internal/codeq/envelope.h"
#include "internal/invoker/version_gate.h"
#include "internal/kv/keys.h"
#include "internal/kv/records.h"

namespace cs::invoker {

namespace {

using json = nlohmann::json;

// How often one invoker trims a function's activation index of expired entries.
constexpr int64_t kTrimIntervalMs = 60'000;

// What happens to a delivery once a pipeline step is done with it.
struct Disposition {
  enum class Kind { Ack, Nack, Parked };
  Kind kind = Kind::Ack;
  int64_t delayMs = 0;
};

Disposition ackIt() { return {Disposition::Kind::Ack, 0}; }
Disposition nackIt(int64_t delayMs) {
  return {Disposition::Kind::Nack, std::max<int64_t>(0, delayMs)};
}

// The version as the invoker runs it: meta from storage, limits resolved against the manifest.
struct Resolved {
  int64_t version = 0;
  std::string sha256;
  json config = json::object();
  int64_t timeoutMs = 30000;
  int memoryMb = 128;
  int maxConcurrency = 10;
};

// Everything stage one found out; kept while the job waits for its semaphore.
struct Prepared {
  InvocationRequest request;
  int64_t createdAtMs = 0;
  Resolved resolved;
  std::shared_ptr<const CachedBundle> bundle;
  std::string gateKey;  // tenant/ns/fn/version
};

struct Job {
  codeq::Delivery delivery;
  std::shared_ptr<Prepared> prepared;  // set once the job reached the semaphore
  bool holdsPermit = false;            // handed back by the gate with a permit
};

// Failures that are a property of the request or the stored version (terminal `error`
// result), as opposed to transient storage/queue failures (nack and retry).
bool isPermanent(ErrorCode code) {
  switch (code) {
    case ErrorCode::NotFound:
    case ErrorCode::ValidationFailed:
    case ErrorCode::ValidationManifestInvalid:
    case ErrorCode::ValidationBundleTooLarge:
    case ErrorCode::ValidationNameInvalid:
      return true;
    default:
      return false;
  }
}

std::string errorTypeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::NotFound:
      return "NotFound";
    case ErrorCode::ValidationManifestInvalid:
      return "ManifestInvalid";
    case ErrorCode::ValidationFailed:
    case ErrorCode::ValidationBundleTooLarge:
      return "BundleInvalid";
    default:
      return "InvokerError";
  }
}

// An integer field of the version config within [lo, hi], else nullopt (the manifest's value
// applies then; control writes the config resolved, so this only guards odd records).
std::optional<int64_t> configInt(const json& config, const char* name, int64_t lo, int64_t hi) {
  if (!config.is_object()) return std::nullopt;
  auto it = config.find(name);
  if (it == config.end() || !it->is_number_integer()) return std::nullopt;
  int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

Error notFound(std::string message) { return Error{ErrorCode::NotFound, std::move(message)}; }

}  // namespace

struct Invoker::Impl {
  Impl(InvokerOptions options, InvokerDeps deps)
      : options_(std::move(options)),
        deps_(std::move(deps)),
        observer_(deps_.observer ? *deps_.observer : noop_),
        cache_(options_.cache.bundlesMax, options_.cache.bytesMax) {}

  // --- lifecycle -----------------------------------------------------------------------------
  Status start();
  void stop();

  // --- consumer (queue delivery thread) ------------------------------------------------------
  void onDelivery(codeq::Delivery delivery);

  // --- workers -------------------------------------------------------------------------------
  void workerLoop();
  void enqueue(Job job);
  void process(Job job);
  void releasePermit(const std::string& key);
  void settle(const codeq::Delivery& delivery, const Disposition& d);

  // Stage one: everything up to the semaphore. Sets job.prepared when the job may run;
  // otherwise the returned disposition ends the delivery.
  Disposition prepare(Job& job);
  // Stage two, holding the version's permit: CAS running, run, logs, terminal record, publish.
  Disposition runWithPermit(Prepared& p);

  Result<Resolved> resolveVersion(const InvocationRequest& r);
  Result<std::shared_ptr<const CachedBundle>> loadBundle(const InvocationRequest& r,
                                                         const Resolved& v);
  Result<std::optional<kv::ActivationRecord>> loadActivation(const InvocationRequest& r);

  kv::ActivationRecord baseRecord(const InvocationRequest& r, std::optional<int64_t> version,
                                  int64_t createdAtMs) const;
  // Terminal record for a request that never ran (CAS from absent/queued).
  Disposition finishWithoutRun(const InvocationRequest& r, std::optional<int64_t> version,
                               int64_t createdAtMs, kv::ActivationStatus status,
                               kv::ActivationError error);
  // Terminal record for a request this replica moved to `running` (CAS from running).
  // `indexed`: this invoker added the activation to its function's index when it started.
  Disposition finishRunning(const kv::ActivationRecord& record, const InvocationRequest& r,
                            bool indexed);
  // A CAS found another record: terminal → republish it; running → handleRunning.
  Disposition onConflict(const std::optional<std::string>& current, const InvocationRequest& r);
  Disposition handleRunning(const kv::ActivationRecord& record, const InvocationRequest& r);
  // Publishes the result of a terminal record (to cs.results and reply_to), indexes the
  // activation and clears the schedule marker. Also the path of republished results.
  Disposition publishTerminal(const kv::ActivationRecord& record, const InvocationRequest& r,
                              bool indexed = false);
  Disposition deadLetter(const codeq::Delivery& delivery, const Error& why);

  int64_t writeLogs(const InvocationRequest& r, const std::vector<kv::LogChunk>& chunks);
  // Running: adds the activation to its function's index. Terminal: adds it unless `indexed`,
  // renews the index's TTL and, at most once a minute per function, trims entries older
  // than the activation TTL. True when the activation is in the index.
  enum class IndexStage { Running, Terminal };
  bool indexActivation(const InvocationRequest& r, int64_t createdAtMs, IndexStage stage,
                       bool indexed = false);
  void clearScheduleMarker(const InvocationRequest& r);
  void reportInvocation(const kv::ActivationRecord& record);

  int64_t ttlMs() const { return options_.activationTtlSeconds * 1000; }
  Disposition retry() const { return nackIt(options_.retryDelayMs); }
  void adjustInflight(int64_t delta) { observer_.onInflight(inflight_.fetch_add(delta) + delta); }

  InvokerOptions options_;
  InvokerDeps deps_;
  InvocationObserver noop_;
  InvocationObserver& observer_;
  BundleCache cache_;
  VersionGate<Job> gate_;
  std::atomic<int64_t> inflight_{0};

  std::mutex lifecycleMu_;  // serialises start()/stop()
  bool started_ = false;
  std::unique_ptr<codeq::Subscription> subscription_;
  std::vector<std::thread> workers_;

  std::mutex trimMu_;  // guards lastTrimMs_
  std::unordered_map<std::string, int64_t> lastTrimMs_;  // index key → last trim (wall ms)
  std::mutex mu_;  // guards queue_ and stopping_
  std::condition_variable workCv_;
  std::condition_variable spaceCv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
};

// --- lifecycle ---------------------------------------------------------------------------------

Status Invoker::Impl::start() {
  std::lock_guard life(lifecycleMu_);
  if (started_) return okStatus();
  const auto& o = options_;
  auto bad = [](std::string m) { return Error{ErrorCode::ValidationFailed, "invoker: " + m}; };
  if (o.workers.threads < 1 || o.workers.threads > 1024)
    return bad("workers.threads must be 1-1024");
  if (o.workers.maxInflight < 1) return bad("workers.max_inflight must be >= 1");
  if (o.activationTtlSeconds < 1 ||
      o.activationTtlSeconds > std::numeric_limits<int64_t>::max() / 1000) {
    return bad("activation_ttl_seconds out of range");
  }
  if (o.topics.invoke.empty() || o.topics.results.empty() || o.topics.dlqInvoke.empty()) {
    return bad("topics must not be empty");
  }
  if (o.group.empty() || o.consumer.empty()) return bad("group and consumer must not be empty");
  if (o.retryDelayMs < 0 || o.takeoverGraceMs < 0 || o.ackTimeoutMs < 1 || o.maxDeliveries < 1) {
    return bad("retry_delay/takeover_grace/ack_timeout/max_deliveries out of range");
  }

  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  for (int i = 0; i < o.workers.threads; ++i) workers_.emplace_back([this] { workerLoop(); });

  codeq::SubscribeOptions sub;
  sub.topic = o.topics.invoke;
  sub.group = o.group;
  sub.consumer = o.consumer;
  sub.maxInflight = o.workers.maxInflight;
  sub.ackTimeoutMs = o.ackTimeoutMs;
  sub.maxDeliveries = o.maxDeliveries;
  sub.dlqTopic = o.topics.dlqInvoke;
  auto subscription =
      deps_.queue.subscribe(sub, [this](codeq::Delivery d) { onDelivery(std::move(d)); });
  if (!subscription.ok()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    workCv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    return subscription.error();
  }
  subscription_ = std::move(*subscription);
  started_ = true;
  return okStatus();
}

void Invoker::Impl::stop() {
  std::lock_guard life(lifecycleMu_);
  if (!started_) return;
  // Stopping first wakes a delivery thread blocked on a full work queue, so the
  // subscription's stop (which waits for handlers in progress) cannot deadlock.
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  workCv_.notify_all();
  spaceCv_.notify_all();
  if (subscription_) subscription_->stop();
  subscription_.reset();
  for (auto& t : workers_) t.join();
  workers_.clear();

  // Give back what never ran. Parked jobs hold no permit; queued jobs handed over by the gate
  // do, and release it so a later start() begins with a clean semaphore.
  std::vector<Job> leftovers = gate_.drain();
  std::deque<Job> queued;
  {
    std::lock_guard lock(mu_);
    queued.swap(queue_);
  }
  for (auto& job : queued) {
    if (job.holdsPermit && job.prepared) (void)gate_.release(job.prepared->gateKey);
    leftovers.push_back(std::move(job));
  }
  for (const auto& job : leftovers) settle(job.delivery, nackIt(0));
  started_ = false;
}

// --- consumer ----------------------------------------------------------------------------------

void Invoker::Impl::onDelivery(codeq::Delivery delivery) {
  adjustInflight(1);
  {
    std::unique_lock lock(mu_);
    // Bounded: the subscription's maxInflight keeps us below the bound; if a driver delivers
    // more, its thread waits here (backpressure, never unbounded buffering).
    spaceCv_.wait(lock, [this] {
      return stopping_ || queue_.size() < static_cast<size_t>(options_.workers.maxInflight);
    });
    if (!stopping_) {
      queue_.push_back(Job{std::move(delivery), nullptr, false});
      lock.unlock();
      workCv_.notify_one();
      return;
    }
  }
  settle(delivery, nackIt(0));
}

// --- workers -----------------------------------------------------------------------------------

void Invoker::Impl::workerLoop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      workCv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // stop() gives back what is still queued
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    spaceCv_.notify_one();
    process(std::move(job));
  }
}

void Invoker::Impl::enqueue(Job job) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
  }
  workCv_.notify_one();
}

void Invoker::Impl::releasePermit(const std::string& key) {
  if (auto next = gate_.release(key)) {
    next->holdsPermit = true;
    enqueue(std::move(*next));
  }
}

void Invoker::Impl::process(Job job) {
  codeq::Delivery delivery = job.delivery;  // to settle after the job moved into the gate
  std::string heldKey;
  Disposition d;
  try {
    if (!job.holdsPermit) {
      if (!job.prepared) {
        d = prepare(job);
        if (!job.prepared) {
          settle(delivery, d);
          return;
        }
      }
      const std::string key = job.prepared->gateKey;
      if (!gate_.acquireOrPark(key, job.prepared->resolved.maxConcurrency, job)) return;
    }
    heldKey = job.prepared->gateKey;
    d = runWithPermit(*job.prepared);
  } catch (const std::exception& e) {
    spdlog::error("invoker: activation of message {} failed unexpectedly: {}", delivery.envelope.id,
                  e.what());
    d = retry();
  }
  if (!heldKey.empty()) releasePermit(heldKey);
  settle(delivery, d);
}

void Invoker::Impl::settle(const codeq::Delivery& delivery, const Disposition& d) {
  if (d.kind == Disposition::Kind::Parked) return;
  Status st = d.kind == Disposition::Kind::Ack ? deps_.queue.ack(delivery)
                                               : deps_.queue.nack(delivery, d.delayMs);
  if (!st.ok()) {
    spdlog::warn("invoker: {} of message {} failed: {}",
                 d.kind == Disposition::Kind::Ack ? "ack" : "nack", delivery.envelope.id,
                 st.error().message);
  }
  adjustInflight(-1);
}

// --- stage one ---------------------------------------------------------------------------------

Disposition Invoker::Impl::prepare(Job& job) {
  const codeq::Envelope& env = job.delivery.envelope;
  const int64_t now = deps_.clock.nowMs();
  if (env.tsMs > 0) observer_.onQueueLag(job.delivery.topic, std::max<int64_t>(0, now - env.tsMs));

  // An envelope that came out of codeq::decode had its body validated there.
  auto request = parseRequest(env.type, env.tenant, env.body,
                              env.bodyChecked ? BodySchema::AlreadyChecked : BodySchema::Check);
  if (!request.ok()) return deadLetter(job.delivery, request.error());
  auto p = std::make_shared<Prepared>();
  p->request = std::move(*request);
  const InvocationRequest& r = p->request;
  p->createdAtMs = env.tsMs > 0 ? env.tsMs : now;

  // Idempotency before any work: a terminal record is answered from storage.
  auto stored = loadActivation(r);
  if (!stored.ok()) {
    spdlog::warn("invoker: activation {}: {}", r.activationId, stored.error().message);
    return retry();
  }
  if (*stored) {
    const kv::ActivationRecord& rec = **stored;
    if (kv::isTerminal(rec.status)) return publishTerminal(rec, r);
    if (rec.status == kv::ActivationStatus::Running) return handleRunning(rec, r);
    p->createdAtMs = rec.createdAtMs;  // queued by cs-control (async invoke)
  }

  if (now >= r.deadlineMs) {
    return finishWithoutRun(r, r.version, p->createdAtMs, kv::ActivationStatus::Timeout,
                            invokerError("Timeout", ErrorCode::RuntimeTimeout,
                                         "deadline passed before the activation started"));
  }

  auto resolved = resolveVersion(r);
  if (!resolved.ok()) {
    if (!isPermanent(resolved.error().code)) return retry();
    return finishWithoutRun(r, r.version, p->createdAtMs, kv::ActivationStatus::Error,
                            invokerError(errorTypeFor(resolved.error().code), resolved.error().code,
                                         resolved.error().message));
  }
  p->resolved = std::move(*resolved);

  auto bundle = loadBundle(r, p->resolved);
  if (!bundle.ok()) {
    if (!isPermanent(bundle.error().code)) return retry();
    return finishWithoutRun(r, p->resolved.version, p->createdAtMs, kv::ActivationStatus::Error,
                            invokerError(errorTypeFor(bundle.error().code), bundle.error().code,
                                         bundle.error().message));
  }
  p->bundle = std::move(*bundle);

  // Limits: the resolved config (docs/contracts.md), else the manifest.
  const api::ManifestLimits& ml = p->bundle->manifest.limits;
  Resolved& v = p->resolved;
  v.timeoutMs = configInt(v.config, "timeout_ms", 1, 900000).value_or(ml.timeoutMs);
  v.memoryMb = static_cast<int>(configInt(v.config, "memory_mb", 16, 4096).value_or(ml.memoryMb));
  v.maxConcurrency =
      static_cast<int>(configInt(v.config, "max_concurrency", 1, 100).value_or(ml.maxConcurrency));
  p->gateKey = r.tenant + "/" + r.ns + "/" + r.function + "/" + std::to_string(v.version);
  job.prepared = std::move(p);
  return ackIt();  // unused: the caller moves on to the semaphore
}

Result<std::optional<kv::ActivationRecord>> Invoker::Impl::loadActivation(
    const InvocationRequest& r) {
  auto key = kv::keys::activation(r.tenant, r.activationId);
  if (!key.ok()) return key.error();
  auto raw = deps_.store.get(*key);
  if (!raw.ok()) return raw.error();
  if (!*raw) return std::optional<kv::ActivationRecord>{};
  auto rec = kv::decode<kv::ActivationRecord>(**raw);
  if (!rec.ok()) return rec.error();
  return std::optional<kv::ActivationRecord>(std::move(*rec));
}

Result<Resolved> Invoker::Impl::resolveVersion(const InvocationRequest& r) {
  const std::string fnName = r.ns + "/" + r.function;
  auto fnKey = kv::keys::functionMeta(r.tenant, r.ns, r.function);
  if (!fnKey.ok()) return fnKey.error();
  auto fnRaw = deps_.store.get(*fnKey);
  if (!fnRaw.ok()) return fnRaw.error();
  if (!*fnRaw) return notFound("function " + fnName + " not found");
  auto fn = kv::decode<kv::FunctionRecord>(**fnRaw);
  if (!fn.ok()) return fn.error();
  if (fn->deletedAtMs) return notFound("function " + fnName + " was deleted");

  int64_t version = 0;
  if (r.version) {
    version = *r.version;
  } else {
    // parseRequest guarantees alias or version.
    auto aliasKey = kv::keys::alias(r.tenant, r.ns, r.function, r.alias.value_or(""));
    if (!aliasKey.ok()) return aliasKey.error();
    auto aliasRaw = deps_.store.get(*aliasKey);
    if (!aliasRaw.ok()) return aliasRaw.error();
    if (!*aliasRaw) {
      return notFound("alias " + r.alias.value_or("") + " of function " + fnName + " not found");
    }
    auto alias = kv::decode<kv::AliasRecord>(**aliasRaw);
    if (!alias.ok()) return alias.error();
    version = alias->version;
  }

  auto verKey = kv::keys::versionMeta(r.tenant, r.ns, r.function, version);
  if (!verKey.ok()) return verKey.error();
  auto verRaw = deps_.store.get(*verKey);
  if (!verRaw.ok()) return verRaw.error();
  if (!*verRaw) {
    return notFound("version " + std::to_string(version) + " of function " + fnName + " not found");
  }
  auto meta = kv::decode<kv::VersionRecord>(**verRaw);
  if (!meta.ok()) return meta.error();
  Resolved v;
  v.version = version;
  v.sha256 = meta->sha256;
  v.config = meta->config.is_object() ? meta->config : json::object();
  return v;
}

Result<std::shared_ptr<const CachedBundle>> Invoker::Impl::loadBundle(const InvocationRequest& r,
                                                                      const Resolved& v) {
  if (auto hit = cache_.get(v.sha256)) {
    auto s = cache_.stats();
    observer_.onCache(CacheEvent::Hit, s.items, s.bytes);
    return hit;
  }
  observer_.onColdStart();
  auto key = kv::keys::versionBundle(r.tenant, r.ns, r.function, v.version);
  if (!key.ok()) return key.error();
  auto raw = deps_.store.get(*key);
  if (!raw.ok()) return raw.error();
  const std::string where =
      "version " + std::to_string(v.version) + " of " + r.ns + "/" + r.function;
  if (!*raw) return Error{ErrorCode::ValidationFailed, "bundle of " + where + " is missing"};
  if (auto st = bundle::verify(**raw, v.sha256); !st.ok()) {
    return Error{st.error().code, where + ": " + st.error().message};
  }
  auto files = bundle::unpack(**raw);
  if (!files.ok()) return Error{files.error().code, where + ": " + files.error().message};
  auto manifestFile = files->find("manifest.json");
  if (manifestFile == files->end()) {
    return Error{ErrorCode::ValidationManifestInvalid, where + ": manifest.json is missing"};
  }
  auto manifest = api::parseManifest(manifestFile->second);
  if (!manifest.ok()) return Error{manifest.error().code, where + ": " + manifest.error().message};
  if (files->count(manifest->entry) == 0) {
    return Error{ErrorCode::ValidationManifestInvalid,
                 where + ": entry \"" + manifest->entry + "\" is not a file of the bundle"};
  }
  auto entry = std::make_shared<CachedBundle>();
  entry->sha256 = v.sha256;
  entry->manifest = std::move(*manifest);
  for (const auto& [path, bytes] : *files) entry->bytes += path.size() + bytes.size();
  entry->files = std::move(*files);
  cache_.put(entry);
  auto s = cache_.stats();
  observer_.onCache(CacheEvent::Miss, s.items, s.bytes);
  return std::shared_ptr<const CachedBundle>(std::move(entry));
}

// --- stage two ---------------------------------------------------------------------------------

kv::ActivationRecord Invoker::Impl::baseRecord(const InvocationRequest& r,
                                               std::optional<int64_t> version,
                                               int64_t createdAtMs) const {
  kv::ActivationRecord rec;
  rec.activationId = r.activationId;
  rec.tenant = r.tenant;
  rec.ns = r.ns;
  rec.function = r.function;
  rec.version = version;
  rec.alias = r.alias;
  rec.trigger = kv::ActivationTrigger{r.triggerType, r.triggerSource};
  rec.requestId = r.requestId;
  rec.createdAtMs = createdAtMs;
  return rec;
}

Disposition Invoker::Impl::runWithPermit(Prepared& p) {
  const InvocationRequest& r = p.request;
  const Resolved& v = p.resolved;
  const int64_t now = deps_.clock.nowMs();
  const int64_t remainingMs = r.deadlineMs - now;
  if (remainingMs <= 0) {
    // It waited for the semaphore past its deadline.
    return finishWithoutRun(r, v.version, p.createdAtMs, kv::ActivationStatus::Timeout,
                            invokerError("Timeout", ErrorCode::RuntimeTimeout,
                                         "deadline passed before the activation started"));
  }

  auto key = kv::keys::activation(r.tenant, r.activationId);
  if (!key.ok()) return retry();
  kv::ActivationRecord rec = baseRecord(r, v.version, p.createdAtMs);
  rec.status = kv::ActivationStatus::Running;
  rec.startedAtMs = now;
  auto cas = deps_.store.casActivationStatus(
      *key,
      {std::string(kv::kStatusAbsent), std::string(kv::toString(kv::ActivationStatus::Queued))},
      kv::encode(rec), ttlMs());
  if (!cas.ok()) {
    spdlog::warn("invoker: activation {}: CAS running: {}", r.activationId, cas.error().message);
    return retry();
  }
  if (cas->outcome == kv::CasOutcome::Conflict) return onConflict(cas->current, r);
  // A failed add is retried when the activation ends (finishRunning with indexed=false).
  const bool indexed = indexActivation(r, p.createdAtMs, IndexStage::Running);

  Providers providers;
  if (deps_.providers) {
    ActivationInfo info{r, v.version, v.config, p.bundle->manifest};
    auto built = deps_.providers(info);
    if (!built.ok()) {
      rec.status = kv::ActivationStatus::Error;
      rec.endedAtMs = deps_.clock.nowMs();
      rec.durationMs = 0;
      rec.error = invokerError("InvokerError", built.error().code,
                               "host providers: " + built.error().message);
      return finishRunning(rec, r, indexed);
    }
    providers = std::move(*built);
  }

  ActivationEnv environment;
  if (v.config.contains("env") && v.config["env"].is_object()) environment.env = v.config["env"];
  if (deps_.environment) {
    ActivationInfo info{r, v.version, v.config, p.bundle->manifest};
    auto resolved = deps_.environment(info);
    if (!resolved.ok()) {
      rec.status = kv::ActivationStatus::Error;
      rec.endedAtMs = deps_.clock.nowMs();
      rec.durationMs = 0;
      rec.error = invokerError("InvokerError", resolved.error().code,
                               "environment: " + resolved.error().message);
      return finishRunning(rec, r, indexed);
    }
    environment = std::move(*resolved);
  }
  json ctx = buildCtx(r, v.version);
  ctx["env"] = std::move(environment.env);

  runtime::Invocation inv;
  inv.files = &p.bundle->files;
  inv.entry = p.bundle->manifest.entry;
  inv.eventJson = r.event.dump(-1, ' ', false, json::error_handler_t::replace);
  inv.ctxJson = ctx.dump(-1, ' ', false, json::error_handler_t::replace);
  inv.redact = std::move(environment.redact);
  inv.limits.timeoutMs = std::max<int64_t>(1, std::min(v.timeoutMs, remainingMs));
  inv.limits.memoryMb = v.memoryMb;
  inv.limits.maxLogBytes = options_.limits.maxLogBytes;
  inv.limits.maxResultBytes = options_.limits.maxResultBytes;
  inv.limits.maxErrorBytes = options_.limits.maxErrorBytes;
  for (auto& provider : providers) inv.providers.push_back(provider.get());

  runtime::ActivationResult result = deps_.engine.run(inv);

  auto chunks = chunkLogs(result.logs);
  int64_t written = writeLogs(r, chunks);
  rec.status = toActivationStatus(result.outcome);
  rec.endedAtMs = deps_.clock.nowMs();
  rec.durationMs = std::max<int64_t>(0, result.durationMs);
  if (result.response) rec.result = runtime::toJson(*result.response);
  if (result.error) rec.error = toActivationError(*result.error);
  if (rec.status != kv::ActivationStatus::Success && !rec.error) {
    rec.error =
        invokerError(rec.status == kv::ActivationStatus::Timeout ? "Timeout" : "Exception",
                     rec.status == kv::ActivationStatus::Timeout ? ErrorCode::RuntimeTimeout
                                                                 : ErrorCode::RuntimeException,
                     "the activation failed");
  }
  if (rec.status == kv::ActivationStatus::Success && !rec.result) {
    rec.result = runtime::toJson(runtime::FunctionResponse{});
  }
  rec.resultTruncated = result.resultTruncated;
  rec.logsTruncated = result.logsTruncated || written < static_cast<int64_t>(chunks.size());
  rec.logChunks = written;
  return finishRunning(rec, r, indexed);
}

Disposition Invoker::Impl::finishWithoutRun(const InvocationRequest& r,
                                            std::optional<int64_t> version, int64_t createdAtMs,
                                            kv::ActivationStatus status,
                                            kv::ActivationError error) {
  auto key = kv::keys::activation(r.tenant, r.activationId);
  if (!key.ok()) return retry();
  kv::ActivationRecord rec = baseRecord(r, version, createdAtMs);
  rec.status = status;
  rec.endedAtMs = deps_.clock.nowMs();
  rec.durationMs = 0;
  rec.error = std::move(error);
  auto cas = deps_.store.casActivationStatus(
      *key,
      {std::string(kv::kStatusAbsent), std::string(kv::toString(kv::ActivationStatus::Queued))},
      kv::encode(rec), ttlMs());
  if (!cas.ok()) {
    spdlog::warn("invoker: activation {}: CAS terminal: {}", r.activationId, cas.error().message);
    return retry();
  }
  if (cas->outcome == kv::CasOutcome::Conflict) return onConflict(cas->current, r);
  reportInvocation(rec);
  return publishTerminal(rec, r);
}

Disposition Invoker::Impl::finishRunning(const kv::ActivationRecord& record,
                                         const InvocationRequest& r, bool indexed) {
  auto key = kv::keys::activation(r.tenant, r.activationId);
  if (!key.ok()) return retry();
  auto cas = deps_.store.casActivationStatus(
      *key, {std::string(kv::toString(kv::ActivationStatus::Running))}, kv::encode(record),
      ttlMs());
  if (!cas.ok()) {
    // The record stays `running`; the redelivery finishes it as timeout after the deadline.
    spdlog::warn("invoker: activation {}: CAS terminal: {}", r.activationId, cas.error().message);
    return retry();
  }
  if (cas->outcome == kv::CasOutcome::Conflict) return onConflict(cas->current, r);
  reportInvocation(record);
  return publishTerminal(record, r, indexed);
}

Disposition Invoker::Impl::onConflict(const std::optional<std::string>& current,
                                      const InvocationRequest& r) {
  if (!current) return retry();  // vanished (TTL) between read and CAS: try again
  auto rec = kv::decode<kv::ActivationRecord>(*current);
  if (!rec.ok()) {
    spdlog::warn("invoker: activation {}: {}", r.activationId, rec.error().message);
    return retry();
  }
  if (kv::isTerminal(rec->status)) return publishTerminal(*rec, r);  // someone else finished
  if (rec->status == kv::ActivationStatus::Running) return handleRunning(*rec, r);
  return retry();
}

Disposition Invoker::Impl::handleRunning(const kv::ActivationRecord& record,
                                         const InvocationRequest& r) {
  const int64_t now = deps_.clock.nowMs();
  const int64_t takeoverAt = r.deadlineMs + options_.takeoverGraceMs;
  if (now <= takeoverAt) {
    // Someone may still be running it: come back once it must have finished.
    return nackIt(std::max(options_.retryDelayMs, takeoverAt - now + 1));
  }
  // The runner died: the deadline passed, so finish it as timeout without running again.
  kv::ActivationRecord rec = record;
  rec.status = kv::ActivationStatus::Timeout;
  rec.endedAtMs = now;
  rec.durationMs = std::max<int64_t>(0, r.deadlineMs - record.startedAtMs.value_or(r.deadlineMs));
  rec.error = invokerError("Timeout", ErrorCode::RuntimeTimeout,
                           "the activation did not finish by its deadline (its invoker stopped)");
  return finishRunning(rec, r, /*indexed=*/false);
}

Disposition Invoker::Impl::publishTerminal(const kv::ActivationRecord& record,
                                           const InvocationRequest& r, bool indexed) {
  codeq::Envelope env = codeq::makeEnvelope(r.tenant, std::string(codeq::kTypeResult),
                                            buildResultBody(record, r.requestId));
  if (auto st = deps_.queue.publish(options_.topics.results, env); !st.ok()) {
    spdlog::warn("invoker: activation {}: publish result: {}", r.activationId, st.error().message);
    return retry();  // the record is terminal: the redelivery republishes it
  }
  if (r.replyTo) {
    if (auto st = deps_.queue.publish(*r.replyTo, env); !st.ok()) {
      spdlog::warn("invoker: activation {}: publish to {}: {}", r.activationId, *r.replyTo,
                   st.error().message);
      return retry();
    }
  }
  indexActivation(r, record.createdAtMs, IndexStage::Terminal, indexed);
  clearScheduleMarker(r);
  return ackIt();
}

Disposition Invoker::Impl::deadLetter(const codeq::Delivery& delivery, const Error& why) {
  spdlog::warn("invoker: message {} is not a valid invocation request, sent to {}: {}",
               delivery.envelope.id, options_.topics.dlqInvoke, why.message);
  if (auto st = deps_.queue.publish(options_.topics.dlqInvoke, delivery.envelope); !st.ok()) {
    spdlog::warn("invoker: message {}: publish to {}: {}", delivery.envelope.id,
                 options_.topics.dlqInvoke, st.error().message);
    return retry();
  }
  return ackIt();
}

int64_t Invoker::Impl::writeLogs(const InvocationRequest& r,
                                 const std::vector<kv::LogChunk>& chunks) {
  if (chunks.empty()) return 0;
  auto setKey = kv::keys::logChunks(r.tenant, r.activationId);
  if (!setKey.ok()) return 0;
  int64_t written = 0;
  for (const auto& chunk : chunks) {
    auto key = kv::keys::logChunk(r.tenant, r.activationId, chunk.seq);
    if (!key.ok()) break;
    auto st = deps_.store.set(*key, kv::encode(chunk), ttlMs());
    if (!st.ok()) {
      spdlog::warn("invoker: activation {}: log chunk {}: {}", r.activationId, chunk.seq,
                   st.error().message);
      break;
    }
    auto added =
        deps_.store.zadd(*setKey, std::to_string(chunk.seq), static_cast<double>(chunk.seq));
    if (!added.ok()) {
      spdlog::warn("invoker: activation {}: log index: {}", r.activationId, added.error().message);
      break;
    }
    ++written;
  }
  if (written > 0) (void)deps_.store.expire(*setKey, ttlMs());
  return written;
}

bool Invoker::Impl::indexActivation(const InvocationRequest& r, int64_t createdAtMs,
                                    IndexStage stage, bool indexed) {
  auto key = kv::keys::activationsByFunction(r.tenant, r.ns, r.function);
  if (!key.ok()) return false;
  if (stage == IndexStage::Running || !indexed) {
    auto added = deps_.store.zadd(*key, r.activationId, static_cast<double>(createdAtMs));
    if (!added.ok()) {
      spdlog::warn("invoker: activation {}: index: {}", r.activationId, added.error().message);
      return false;
    }
  }
  if (stage == IndexStage::Running) return true;  // TTL and trim once, when it ends
  (void)deps_.store.expire(*key, ttlMs());
  // Entries older than the activation TTL point at expired records; they are harmless until
  // trimmed (readers skip missing records), so one trim a minute per function is enough.
  const int64_t now = deps_.clock.nowMs();
  {
    std::lock_guard lock(trimMu_);
    if (lastTrimMs_.size() > 10000) lastTrimMs_.clear();
    auto [it, fresh] = lastTrimMs_.try_emplace(*key, now);
    if (!fresh && now - it->second < kTrimIntervalMs) return true;
    it->second = now;
  }
  (void)deps_.store.zremRangeByScore(*key, -std::numeric_limits<double>::infinity(),
                                     static_cast<double>(now - ttlMs()));
  return true;
}

void Invoker::Impl::clearScheduleMarker(const InvocationRequest& r) {
  if (r.triggerType != kv::TriggerType::Schedule || !r.scheduleName) return;
  auto key = kv::keys::scheduleInflight(r.tenant, r.ns, *r.scheduleName);
  if (!key.ok()) return;
  // Only our own marker: a newer tick's marker belongs to another activation.
  auto current = deps_.store.get(*key);
  if (!current.ok() || !*current || **current != r.activationId) return;
  if (auto st = deps_.store.del(*key); !st.ok()) {
    spdlog::warn("invoker: activation {}: clear schedule marker: {}", r.activationId,
                 st.error().message);
  }
}

void Invoker::Impl::reportInvocation(const kv::ActivationRecord& record) {
  InvocationLabels labels{record.tenant, record.ns, record.function,
                          record.version ? std::to_string(*record.version) : "",
                          std::string(kv::toString(record.trigger.type))};
  observer_.onInvocation(labels, kv::toString(record.status), record.durationMs.value_or(0));
}

// --- Invoker -----------------------------------------------------------------------------------

Invoker::Invoker(InvokerOptions options, InvokerDeps deps)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(deps))) {}

Invoker::~Invoker() { stop(); }

Status Invoker::start() { return impl_->start(); }
void Invoker::stop() { impl_->stop(); }
size_t Invoker::parkedForTest() const { return impl_->gate_.parked(); }
CacheStats Invoker::cacheStatsForTest() const { return impl_->cache_.stats(); }

}  // namespace cs::invoker
