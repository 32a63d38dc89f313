// The V8 driver of runtime::Engine. Everything that includes <v8.h> lives in this file.
//
// One activation = one fresh isolate (from IsolatePool, used once, then disposed on the pool's
// thread) + one context + the prelude + the bundle's ES modules. Threads: run() executes on the
// caller's thread; the Watchdog thread only calls Isolate::TerminateExecution (thread-safe);
// the pool thread only creates and disposes isolates nobody has entered.

#include <libplatform/libplatform.h>
#include <openssl/rand.h>
#include <v8.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <sched.h>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "internal/crypto/crypto.h"
#include "internal/runtime/engine.h"
#include "internal/runtime/page_cache.h"
#include "internal/runtime/text.h"

namespace cs::runtime::js {
extern const std::string_view kPrelude;
extern const std::string_view kUrlPolyfill;
}  // namespace cs::runtime::js

namespace cs::runtime {
namespace {

using v8::Local;
using v8::MaybeLocal;

constexpr uint32_t kActivationSlot = 0;

// For V8 calls whose failure is already reported by a pending exception.
template <typename T>
void ignore(v8::Maybe<T>) {}
constexpr size_t kMiB = 1024 * 1024;

int64_t nowWallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- process-wide V8 platform (the one process-wide object; STYLE §9) --------------------

std::atomic<CachingPageAllocator*> pageCache{nullptr};  // set once by initV8Once, when enabled

void initV8Once() {
  static std::once_flag once;
  static std::unique_ptr<v8::Platform> platform;
  std::call_once(once, [] {
    // No per-isolate snapshot checksum (≈0.15 ms per isolate); no WebAssembly: wasm memory
    // would bypass the ArrayBuffer budget; Atomics.wait is disabled per isolate below.
    // --jitless: no executable memory is ever generated from user code (no JIT spraying, no
    // W^X flips) and isolates are ≈10 % cheaper to create and tear down; short functions do
    // not live long enough to profit from the optimising tiers (docs/runtime.md).
    std::string flags = "--no-verify-snapshot-checksum --no-expose-wasm --jitless";
    // Extra V8 flags for experiments and operators (documented in docs/runtime.md).
    if (const char* extra = std::getenv("CS_V8_FLAGS"); extra != nullptr) {
      flags += " ";
      flags += extra;
    }
    v8::V8::SetFlagsFromString(flags.c_str(), flags.size());
    platform = v8::platform::NewDefaultPlatform(1);
    // Heap pages come from a cache that keeps freed blocks mapped and zeroed (page_cache.h);
    // CS_V8_PAGE_CACHE_MB=0 turns it off (for the benchmark's baseline and for diagnosis).
    CachingPageAllocator::Options cacheOptions;
    if (const char* mb = std::getenv("CS_V8_PAGE_CACHE_MB"); mb != nullptr && *mb != '\0') {
      const std::string_view text(mb);
      uint64_t value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec == std::errc() && end == text.data() + text.size() && value <= (uint64_t{1} << 20)) {
        cacheOptions.maxCachedBytes = static_cast<size_t>(value) << 20;
      } else {
        std::fprintf(stderr,
                     "CS_V8_PAGE_CACHE_MB: expected a whole number of MiB (0 to 1048576), got "
                     "'%s'; using the default of %zu MiB\n",
                     mb, cacheOptions.maxCachedBytes >> 20);
      }
    }
    if (cacheOptions.maxCachedBytes > 0) {
      static CachingPageAllocator pages(cacheOptions);
      pageCache.store(&pages);
      platform = withPageAllocator(std::move(platform), &pages);
    }
    v8::V8::InitializePlatform(platform.get());
    v8::V8::Initialize();
  });
}

// ---- memory: ArrayBuffer bytes count against the activation's budget -----------------------

class CountingAllocator final : public v8::ArrayBuffer::Allocator {
 public:
  void arm(size_t limit, v8::Isolate* isolate) {
    limit_ = limit;
    isolate_ = isolate;
  }
  bool exceeded() const { return exceeded_; }

  void* Allocate(size_t length) override {
    if (!reserve(length)) return nullptr;
    void* p = std::calloc(length ? length : 1, 1);
    if (p == nullptr) used_ -= length;
    return p;
  }
  void* AllocateUninitialized(size_t length) override {
    if (!reserve(length)) return nullptr;
    void* p = std::malloc(length ? length : 1);
    if (p == nullptr) used_ -= length;
    return p;
  }
  void Free(void* data, size_t length) override {
    std::free(data);
    used_ -= length;
  }

 private:
  bool reserve(size_t length) {
    size_t now = used_.fetch_add(length) + length;
    if (now > limit_) {
      used_ -= length;
      exceeded_ = true;
      if (v8::Isolate* iso = isolate_.load()) iso->TerminateExecution();
      return false;
    }
    return true;
  }
  std::atomic<size_t> used_{0};
  std::atomic<size_t> limit_{SIZE_MAX};
  std::atomic<bool> exceeded_{false};
  std::atomic<v8::Isolate*> isolate_{nullptr};
};

struct IsolateBox {
  v8::Isolate* isolate = nullptr;
  std::unique_ptr<CountingAllocator> allocator;
  int memoryMb = 0;
  // The fresh default context (prelude included, from the snapshot), created ahead of time.
  std::unique_ptr<v8::Global<v8::Context>> context;
};

v8::StartupData* startupSnapshot();
const intptr_t* externalReferences();

IsolateBox newIsolate(int memoryMb) {
  IsolateBox box;
  box.allocator = std::make_unique<CountingAllocator>();
  box.memoryMb = memoryMb;
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = box.allocator.get();
  params.snapshot_blob = startupSnapshot();
  params.external_references = externalReferences();
  params.constraints.ConfigureDefaultsFromHeapSize(0, static_cast<size_t>(memoryMb) * kMiB);
  box.isolate = v8::Isolate::New(params);
  box.isolate->SetAllowAtomicsWait(false);
  box.isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  box.isolate->SetCaptureStackTraceForUncaughtExceptions(true, 32);
  {
    v8::Locker locker(box.isolate);
    v8::Isolate::Scope isolateScope(box.isolate);
    v8::HandleScope handleScope(box.isolate);
    box.context = std::make_unique<v8::Global<v8::Context>>(box.isolate,
                                                            v8::Context::New(box.isolate));
  }
  return box;
}

void disposeIsolate(IsolateBox& box) {
  if (box.isolate != nullptr && box.context) {
    v8::Locker locker(box.isolate);
    box.context->Reset();
  }
  box.context.reset();
  if (box.isolate != nullptr) box.isolate->Dispose();
  box.isolate = nullptr;
  box.allocator.reset();  // after Dispose: backing stores are freed during Dispose
}

// Keeps `warm` fresh isolates ready and disposes used ones, on its own thread.
class IsolatePool {
 public:
  IsolatePool(size_t warm, int warmMemoryMb) : warm_(warm), warmMemoryMb_(warmMemoryMb) {
    thread_ = std::thread([this] { loop(); });
  }
  ~IsolatePool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (auto& box : ready_) disposeIsolate(box);
    for (auto& box : used_) disposeIsolate(box);
  }

  IsolateBox acquire(int memoryMb) {
    if (memoryMb == warmMemoryMb_ && warm_ > 0) {
      std::unique_lock lock(mu_);
      if (!ready_.empty()) {
        IsolateBox box = std::move(ready_.front());
        ready_.pop_front();
        lock.unlock();
        cv_.notify_all();
        return box;
      }
    }
    return newIsolate(memoryMb);
  }

  void release(IsolateBox box) {
    {
      std::lock_guard lock(mu_);
      if (used_.size() < kMaxDisposalBacklog) {
        used_.push_back(std::move(box));
        box.isolate = nullptr;
      }
    }
    if (box.isolate != nullptr) {
      disposeIsolate(box);  // the pool thread is starved: do not let used isolates pile up
      return;
    }
    cv_.notify_all();
  }

 private:
  // Used isolates waiting for the pool thread; beyond this the releasing worker disposes.
  static constexpr size_t kMaxDisposalBacklog = 4;

  void loop() {
    // Preparing and disposing isolates is background work: SCHED_IDLE lets every activation
    // thread (HTTP, queue, workers) preempt it at once. At low load the pool still refills
    // between requests; under saturation workers create isolates inline, the same CPU either
    // way. Measured at 200 req/s through cs dev: p50 3.03–3.23 ms → 2.45–2.68 ms
    // (docs/performance.md). Failure to switch policy only costs that latency.
    sched_param idle{};
    (void)sched_setscheduler(0, SCHED_IDLE, &idle);
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !used_.empty() || ready_.size() < warm_; });
      if (stop_) return;
      if (!used_.empty()) {
        IsolateBox box = std::move(used_.front());
        used_.pop_front();
        lock.unlock();
        disposeIsolate(box);
        lock.lock();
        continue;
      }
      lock.unlock();
      IsolateBox box = newIsolate(warmMemoryMb_);
      lock.lock();
      ready_.push_back(std::move(box));
    }
  }

  const size_t warm_;
  const int warmMemoryMb_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IsolateBox> ready_;
  std::deque<IsolateBox> used_;
  bool stop_ = false;
  std::thread thread_;
};

// ---- deadlines -----------------------------------------------------------------------------

// Calls TerminateExecution on isolates whose deadline passed. remove() guarantees that the
// watchdog no longer touches the isolate once it returns.
class Watchdog {
 public:
  Watchdog() : thread_([this] { loop(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  uint64_t add(v8::Isolate* isolate, int64_t deadlineSteadyMs, std::atomic<bool>* fired) {
    uint64_t id;
    {
      std::lock_guard lock(mu_);
      id = nextId_++;
      entries_[id] = Entry{isolate, deadlineSteadyMs, fired};
      // The thread only needs waking when this deadline comes before the one it sleeps until
      // (one context switch less per activation otherwise).
      if (deadlineSteadyMs >= waitingUntil_) return id;
    }
    cv_.notify_all();
    return id;
  }
  void remove(uint64_t id) {
    std::lock_guard lock(mu_);
    entries_.erase(id);
  }

 private:
  struct Entry {
    v8::Isolate* isolate;
    int64_t deadline;
    std::atomic<bool>* fired;
  };
  void loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      int64_t next = INT64_MAX;
      int64_t now = nowSteadyMs();
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.deadline <= now) {
          it->second.fired->store(true);
          it->second.isolate->TerminateExecution();
          it = entries_.erase(it);
        } else {
          next = std::min(next, it->second.deadline);
          ++it;
        }
      }
      waitingUntil_ = next;
      if (next == INT64_MAX) {
        cv_.wait(lock);
      } else {
        cv_.wait_for(lock, std::chrono::milliseconds(next - now));
      }
      waitingUntil_ = INT64_MIN;  // scanning (under the lock): add() need not notify
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;
  uint64_t nextId_ = 1;
  // The deadline the thread sleeps until (INT64_MAX: none); INT64_MIN while it is not asleep.
  int64_t waitingUntil_ = INT64_MIN;
  bool stop_ = false;
  std::thread thread_;
};

// ---- one activation --------------------------------------------------------------------------

struct Timer {
  int64_t due = 0;
  int64_t interval = -1;  // < 0: one-shot
  uint64_t seq = 0;       // FIFO among timers with the same due time
  v8::Global<v8::Function> fn;
  std::vector<v8::Global<v8::Value>> args;
};

struct Activation {
  const Invocation* inv = nullptr;
  v8::Isolate* isolate = nullptr;
  CountingAllocator* allocator = nullptr;
  int64_t deadline = 0;  // steady ms
  std::atomic<bool> timedOut{false};
  std::atomic<bool> heapExceeded{false};

  std::vector<LogEntry> logs;
  size_t logBytes = 0;
  bool logsTruncated = false;

  std::map<std::string, v8::Global<v8::Module>> modules;
  std::unordered_multimap<int, std::string> moduleByHash;
  v8::Global<v8::Function> thenReturn;

  std::map<uint64_t, Timer> timers;
  uint64_t nextTimerId = 1;
  uint64_t timerSeq = 0;

  bool memoryExceeded() const { return heapExceeded || allocator->exceeded(); }
  bool terminated() const { return memoryExceeded() || timedOut; }

  void addLog(std::string_view level, std::string message) {
    if (logsTruncated) return;
    size_t limit = inv->limits.maxLogBytes;
    size_t cost = message.size() + level.size() + 16;
    if (logBytes + cost > limit) {
      logsTruncated = true;
      size_t room = limit > logBytes + level.size() + 16 ? limit - logBytes - level.size() - 16 : 0;
      if (room == 0) return;
      message = truncateUtf8(message, room);
      cost = message.size() + level.size() + 16;
    }
    logBytes += cost;
    logs.push_back(LogEntry{std::string(level), nowWallMs(), std::move(message)});
  }
};

Activation* activationOf(v8::Isolate* isolate) {
  return static_cast<Activation*>(isolate->GetData(kActivationSlot));
}

Local<v8::String> str(v8::Isolate* isolate, std::string_view s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(s.size()))
      .ToLocalChecked();
}

std::string toStdString(v8::Isolate* isolate, Local<v8::Value> value) {
  v8::String::Utf8Value utf8(isolate, value);
  return *utf8 ? std::string(*utf8, static_cast<size_t>(utf8.length())) : std::string();
}

void throwError(v8::Isolate* isolate, std::string_view message) {
  isolate->ThrowException(v8::Exception::Error(str(isolate, message)));
}
void throwTypeError(v8::Isolate* isolate, std::string_view message) {
  isolate->ThrowException(v8::Exception::TypeError(str(isolate, message)));
}
void throwNamedError(v8::Isolate* isolate, std::string_view name, std::string_view message) {
  auto context = isolate->GetCurrentContext();
  auto error = v8::Exception::Error(str(isolate, message)).As<v8::Object>();
  ignore(error->Set(context, str(isolate, "name"), str(isolate, name)));
  isolate->ThrowException(error);
}

// ---- module loading ------------------------------------------------------------------------

MaybeLocal<v8::Module> resolveModule(Local<v8::Context> context, Local<v8::String> specifier,
                                     Local<v8::FixedArray> assertions, Local<v8::Module> referrer);

MaybeLocal<v8::Module> compileModule(Activation& act, const std::string& path) {
  v8::Isolate* isolate = act.isolate;
  if (auto it = act.modules.find(path); it != act.modules.end()) {
    return it->second.Get(isolate);
  }
  const std::string& source = act.inv->files->at(path);
  v8::ScriptOrigin origin(isolate, str(isolate, path), 0, 0, false, -1, Local<v8::Value>(), false,
                          false, true);
  v8::ScriptCompiler::Source src(str(isolate, source), origin);
  Local<v8::Module> module;
  if (!v8::ScriptCompiler::CompileModule(isolate, &src).ToLocal(&module)) return {};
  act.modules[path].Reset(isolate, module);
  act.moduleByHash.emplace(module->GetIdentityHash(), path);
  return module;
}

std::string referrerPath(Activation& act, Local<v8::Module> referrer) {
  auto range = act.moduleByHash.equal_range(referrer->GetIdentityHash());
  for (auto it = range.first; it != range.second; ++it) {
    if (act.modules[it->second].Get(act.isolate) == referrer) return it->second;
  }
  return act.inv->entry;
}

// Resolves `specifier` against the bundle; on failure throws a JS error and returns "".
std::string resolveInBundle(Activation& act, const std::string& from, const std::string& spec) {
  auto resolved = resolveBundlePath(from, spec);
  if (!resolved) {
    throwTypeError(act.isolate, "Cannot import \"" + spec +
                                    "\": only relative imports of files inside the function "
                                    "bundle are allowed (no packages, URLs or node: modules)");
    return {};
  }
  for (const std::string& candidate : {*resolved, *resolved + ".js", *resolved + ".mjs"}) {
    if (act.inv->files->count(candidate)) return candidate;
  }
  throwError(act.isolate, "Cannot find module \"" + spec + "\" imported from " + from +
                              " in the function bundle");
  return {};
}

MaybeLocal<v8::Module> resolveModule(Local<v8::Context> context, Local<v8::String> specifier,
                                     Local<v8::FixedArray>, Local<v8::Module> referrer) {
  v8::Isolate* isolate = context->GetIsolate();
  Activation& act = *activationOf(isolate);
  std::string path =
      resolveInBundle(act, referrerPath(act, referrer), toStdString(isolate, specifier));
  if (path.empty()) return {};
  return compileModule(act, path);
}

MaybeLocal<v8::Promise> dynamicImport(Local<v8::Context> context, Local<v8::Data>,
                                      Local<v8::Value> resourceName, Local<v8::String> specifier,
                                      Local<v8::FixedArray>) {
  v8::Isolate* isolate = context->GetIsolate();
  Activation& act = *activationOf(isolate);
  Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) return {};
  v8::TryCatch tc(isolate);
  std::string from = resourceName->IsString() ? toStdString(isolate, resourceName) : act.inv->entry;
  std::string path = resolveInBundle(act, from, toStdString(isolate, specifier));
  Local<v8::Module> module;
  Local<v8::Value> evaluated;
  if (!path.empty() && compileModule(act, path).ToLocal(&module) &&
      module->InstantiateModule(context, resolveModule).FromMaybe(false) &&
      module->Evaluate(context).ToLocal(&evaluated)) {
    Local<v8::Value> ns = module->GetModuleNamespace();
    Local<v8::Value> value = ns;
    if (evaluated->IsPromise()) {
      Local<v8::Value> args[] = {evaluated, ns};
      Local<v8::Value> chained;
      if (act.thenReturn.Get(isolate)->Call(context, v8::Undefined(isolate), 2, args).ToLocal(&chained)) {
        value = chained;
      }
    }
    ignore(resolver->Resolve(context, value));
  } else if (tc.HasCaught() && !tc.HasTerminated()) {
    Local<v8::Value> exception = tc.Exception();
    tc.Reset();
    ignore(resolver->Reject(context, exception));
  } else {
    tc.ReThrow();
    return {};
  }
  return resolver->GetPromise();
}

// ---- native bindings (object N of the prelude) --------------------------------------------

void nativeLog(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Activation& act = *activationOf(isolate);
  std::string level = toStdString(isolate, info[0]);
  if (level != "info" && level != "warn" && level != "error") level = "info";
  act.addLog(level, toStdString(isolate, info[1]));
}

void nativeHost(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Activation& act = *activationOf(isolate);
  auto context = isolate->GetCurrentContext();
  std::string name = toStdString(isolate, info[0]);
  std::string method = toStdString(isolate, info[1]);
  std::string argsJson = toStdString(isolate, info[2]);
  Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) return;
  info.GetReturnValue().Set(resolver->GetPromise());

  HostProvider* provider = nullptr;
  for (HostProvider* p : act.inv->providers) {
    if (p->name() == name) provider = p;
  }
  cs::Result<nlohmann::json> result =
      cs::Error{cs::ErrorCode::RuntimeCapabilityDenied, "cs." + name + " is not available"};
  if (provider != nullptr) {
    auto args = nlohmann::json::parse(argsJson, nullptr, false);
    if (args.is_discarded()) {
      result = cs::Error{cs::ErrorCode::ValidationFailed, "host call arguments are not JSON"};
    } else {
      try {
        result = provider->call(method, args, act.deadline);
      } catch (const std::exception& e) {
        result = cs::Error{cs::ErrorCode::Internal, std::string("host call failed: ") + e.what()};
      }
    }
  }
  if (result.ok()) {
    Local<v8::Value> value;
    std::string text = result->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!v8::JSON::Parse(context, str(isolate, text)).ToLocal(&value)) return;
    ignore(resolver->Resolve(context, value));
    return;
  }
  const cs::Error& error = result.error();
  std::string message = "cs." + name + "." + method + ": " + error.message;
  if (error.code == cs::ErrorCode::RuntimeCapabilityDenied) {
    act.addLog("error", std::string(error.name()) + " " + message);
  }
  auto exception = v8::Exception::Error(str(isolate, message)).As<v8::Object>();
  ignore(exception->Set(context, str(isolate, "code"), str(isolate, error.name())));
  ignore(resolver->Reject(context, exception));
}

void nativeSetTimer(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Activation& act = *activationOf(isolate);
  if (!info[0]->IsFunction()) return throwTypeError(isolate, "timer callback must be a function");
  double delay = info[1]->IsNumber() ? info[1].As<v8::Number>()->Value() : 0;
  if (!(delay >= 1)) delay = (delay >= 0 && delay < 1) ? 0 : 0;
  delay = std::min(delay, 2147483647.0);
  if (act.timers.size() >= 10000) return throwError(isolate, "too many pending timers (10000)");
  Timer timer;
  timer.due = nowSteadyMs() + static_cast<int64_t>(delay);
  timer.interval = info[2]->IsTrue() ? std::max<int64_t>(1, static_cast<int64_t>(delay)) : -1;
  timer.seq = act.timerSeq++;
  timer.fn.Reset(isolate, info[0].As<v8::Function>());
  if (info[3]->IsArray()) {
    auto array = info[3].As<v8::Array>();
    auto context = isolate->GetCurrentContext();
    for (uint32_t i = 0; i < array->Length(); ++i) {
      Local<v8::Value> v;
      if (!array->Get(context, i).ToLocal(&v)) return;
      timer.args.emplace_back(isolate, v);
    }
  }
  uint64_t id = act.nextTimerId++;
  act.timers.emplace(id, std::move(timer));
  info.GetReturnValue().Set(static_cast<double>(id));
}

void nativeClearTimer(const v8::FunctionCallbackInfo<v8::Value>& info) {
  Activation& act = *activationOf(info.GetIsolate());
  if (info[0]->IsNumber()) act.timers.erase(static_cast<uint64_t>(info[0].As<v8::Number>()->Value()));
}

void nativeQueueMicrotask(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (!info[0]->IsFunction()) return throwTypeError(info.GetIsolate(), "callback must be a function");
  info.GetIsolate()->EnqueueMicrotask(info[0].As<v8::Function>());
}

void nativeUtf8Encode(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Local<v8::String> s = info[0]->IsString() ? info[0].As<v8::String>() : v8::String::Empty(isolate);
  int length = s->Utf8Length(isolate);
  auto buffer = v8::ArrayBuffer::New(isolate, static_cast<size_t>(length));
  if (length > 0) {
    s->WriteUtf8(isolate, static_cast<char*>(buffer->GetBackingStore()->Data()), length, nullptr,
                 v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  }
  info.GetReturnValue().Set(v8::Uint8Array::New(buffer, 0, static_cast<size_t>(length)));
}

void nativeUtf8Decode(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (!info[0]->IsUint8Array()) return throwTypeError(isolate, "decode: expected bytes");
  auto view = info[0].As<v8::Uint8Array>();
  std::string bytes(view->ByteLength(), '\0');
  view->CopyContents(bytes.data(), bytes.size());
  bool fatal = info[1]->IsTrue();
  bool ignoreBom = info[2]->IsTrue();
  if (fatal && !isValidUtf8(bytes)) {
    return throwTypeError(isolate, "The encoded data was not valid for encoding utf-8");
  }
  std::string_view text = bytes;
  if (!ignoreBom && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  Local<v8::String> out;
  if (!v8::String::NewFromUtf8(isolate, text.data(), v8::NewStringType::kNormal,
                               static_cast<int>(text.size()))
           .ToLocal(&out)) {
    return throwError(isolate, "decode: string too long");
  }
  info.GetReturnValue().Set(out);
}

void nativeAtob(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  auto decoded = forgivingBase64Decode(toStdString(isolate, info[0]));
  if (!decoded) {
    return throwNamedError(isolate, "InvalidCharacterError",
                           "atob: the string to be decoded is not correctly encoded");
  }
  Local<v8::String> out;
  if (!v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t*>(decoded->data()),
                                  v8::NewStringType::kNormal, static_cast<int>(decoded->size()))
           .ToLocal(&out)) {
    return;
  }
  info.GetReturnValue().Set(out);
}

void nativeBtoa(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Local<v8::String> s = info[0].As<v8::String>();
  if (!s->ContainsOnlyOneByte()) {
    return throwNamedError(isolate, "InvalidCharacterError",
                           "btoa: the string contains characters outside of the Latin1 range");
  }
  std::string bytes(static_cast<size_t>(s->Length()), '\0');
  s->WriteOneByte(isolate, reinterpret_cast<uint8_t*>(bytes.data()), 0, s->Length(),
                  v8::String::NO_NULL_TERMINATION);
  info.GetReturnValue().Set(str(isolate, cs::crypto::base64Encode(bytes)));
}

void nativeGetRandomValues(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Local<v8::Value> v = info[0];
  bool integerArray = v->IsInt8Array() || v->IsUint8Array() || v->IsUint8ClampedArray() ||
                      v->IsInt16Array() || v->IsUint16Array() || v->IsInt32Array() ||
                      v->IsUint32Array() || v->IsBigInt64Array() || v->IsBigUint64Array();
  if (!integerArray) {
    return throwNamedError(isolate, "TypeMismatchError",
                           "getRandomValues: argument must be an integer TypedArray");
  }
  auto view = v.As<v8::ArrayBufferView>();
  if (view->ByteLength() > 65536) {
    return throwNamedError(isolate, "QuotaExceededError",
                           "getRandomValues: at most 65536 bytes can be requested");
  }
  std::string random = cs::crypto::randomBytes(view->ByteLength());
  auto* base = static_cast<char*>(view->Buffer()->GetBackingStore()->Data());
  if (!random.empty()) std::memcpy(base + view->ByteOffset(), random.data(), random.size());
  info.GetReturnValue().Set(v);
}

void nativeRandomUuid(const v8::FunctionCallbackInfo<v8::Value>& info) {
  info.GetReturnValue().Set(str(info.GetIsolate(), cs::crypto::uuidV4()));
}

class CloneDelegate final : public v8::ValueSerializer::Delegate {
 public:
  explicit CloneDelegate(v8::Isolate* isolate) : isolate_(isolate) {}
  void ThrowDataCloneError(Local<v8::String> message) override {
    auto context = isolate_->GetCurrentContext();
    auto error = v8::Exception::Error(message).As<v8::Object>();
    ignore(error->Set(context, str(isolate_, "name"), str(isolate_, "DataCloneError")));
    isolate_->ThrowException(error);
  }

 private:
  v8::Isolate* isolate_;
};

void nativeStructuredClone(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  auto context = isolate->GetCurrentContext();
  CloneDelegate delegate(isolate);
  v8::ValueSerializer serializer(isolate, &delegate);
  serializer.WriteHeader();
  if (!serializer.WriteValue(context, info[0]).FromMaybe(false)) return;
  auto [data, size] = serializer.Release();
  std::unique_ptr<uint8_t, decltype(&std::free)> owned(data, &std::free);
  v8::ValueDeserializer deserializer(isolate, data, size);
  Local<v8::Value> out;
  if (!deserializer.ReadHeader(context).FromMaybe(false)) return;
  if (!deserializer.ReadValue(context).ToLocal(&out)) return;
  info.GetReturnValue().Set(out);
}

void nativeLoadUrl(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  auto context = isolate->GetCurrentContext();
  v8::ScriptOrigin origin(isolate, str(isolate, "cs:url.js"));
  Local<v8::Script> script;
  if (!v8::Script::Compile(context, str(isolate, js::kUrlPolyfill), &origin).ToLocal(&script)) return;
  Local<v8::Value> ignored;
  if (!script->Run(context).ToLocal(&ignored)) return;
}

// ---- the engine ------------------------------------------------------------------------------

struct Bindings {
  const char* name;
  v8::FunctionCallback fn;
};
constexpr Bindings kBindings[] = {
    {"log", nativeLog},
    {"host", nativeHost},
    {"setTimer", nativeSetTimer},
    {"clearTimer", nativeClearTimer},
    {"queueMicrotask", nativeQueueMicrotask},
    {"utf8Encode", nativeUtf8Encode},
    {"utf8Decode", nativeUtf8Decode},
    {"atob", nativeAtob},
    {"btoa", nativeBtoa},
    {"getRandomValues", nativeGetRandomValues},
    {"randomUUID", nativeRandomUuid},
    {"structuredClone", nativeStructuredClone},
    {"loadUrl", nativeLoadUrl},
};

constexpr size_t kHelpersSnapshotIndex = 0;

const intptr_t* externalReferences() {
  static const std::vector<intptr_t> refs = [] {
    std::vector<intptr_t> r;
    for (const auto& b : kBindings) r.push_back(reinterpret_cast<intptr_t>(b.fn));
    r.push_back(0);
    return r;
  }();
  return refs.data();
}

// Builds the startup snapshot once per process: V8's own snapshot plus a default context in
// which the prelude has already run. Every isolate is created from it, so an activation pays
// neither for compiling nor for running the prelude.
v8::StartupData buildSnapshot() {
  v8::SnapshotCreator creator(externalReferences());
  v8::Isolate* isolate = creator.GetIsolate();
  {
    v8::HandleScope handleScope(isolate);
    Local<v8::Context> context = v8::Context::New(isolate);
    v8::Context::Scope contextScope(context);
    v8::TryCatch tc(isolate);
    Local<v8::Object> native = v8::Object::New(isolate);
    for (const auto& b : kBindings) {
      Local<v8::Function> fn = v8::Function::New(context, b.fn).ToLocalChecked();
      if (!native->Set(context, str(isolate, b.name), fn).FromMaybe(false)) std::abort();
    }
    v8::ScriptOrigin origin(isolate, str(isolate, "cs:prelude.js"));
    Local<v8::Script> script;
    Local<v8::Value> factory, helpers;
    Local<v8::Value> args[] = {native};
    v8::ScriptCompiler::Source source(str(isolate, js::kPrelude), origin);
    // Eager compilation and a warm-up call of each helper, so the snapshot carries their
    // bytecode (kKeep) and no activation compiles prelude code lazily.
    const char kWarmUp[] =
        "(h) => { h.install([]); delete globalThis.cs;"
        " h.normalize({ statusCode: 200, headers: { 'content-type': 'text/plain' }, body: '' });"
        " h.normalize({ ok: true }); h.describe(new Error('warm-up')); h.describe('x'); }";
    Local<v8::Script> warmScript;
    Local<v8::Value> warm, ignored;
    Local<v8::Value> warmArgs[1];
    if (!v8::ScriptCompiler::Compile(context, &source, v8::ScriptCompiler::kEagerCompile)
             .ToLocal(&script) ||
        !script->Run(context).ToLocal(&factory) || !factory->IsFunction() ||
        !factory.As<v8::Function>()->Call(context, v8::Undefined(isolate), 1, args).ToLocal(&helpers) ||
        !helpers->IsObject() ||
        !v8::Script::Compile(context, str(isolate, kWarmUp)).ToLocal(&warmScript) ||
        !warmScript->Run(context).ToLocal(&warm) ||
        !(warmArgs[0] = helpers, true) ||
        !warm.As<v8::Function>()->Call(context, v8::Undefined(isolate), 1, warmArgs).ToLocal(&ignored)) {
      std::string why = tc.HasCaught() ? toStdString(isolate, tc.Exception()) : "unknown error";
      std::fprintf(stderr, "cs-js: the runtime prelude failed: %s\n", why.c_str());
      std::abort();  // our own bug: the prelude is part of the binary
    }
    if (creator.AddData(context, helpers.As<v8::Object>()) != kHelpersSnapshotIndex) std::abort();
    creator.SetDefaultContext(context);
  }
  return creator.CreateBlob(v8::SnapshotCreator::FunctionCodeHandling::kKeep);
}

v8::StartupData* startupSnapshot() {
  static v8::StartupData blob = buildSnapshot();  // never freed: process lifetime
  return &blob;
}

size_t nearHeapLimit(void* data, size_t current, size_t /*initial*/) {
  auto* act = static_cast<Activation*>(data);
  act->heapExceeded = true;
  act->isolate->TerminateExecution();
  // Room for the termination to unwind; the isolate is discarded right after.
  return current + std::max<size_t>(current, 64 * kMiB);
}

enum class Settled { Fulfilled, Rejected, Terminated };

class V8Engine final : public Engine {
 public:
  explicit V8Engine(const EngineOptions& options) {
    initV8Once();
    (void)startupSnapshot();
    pool_ = std::make_unique<IsolatePool>(options.warmIsolates, options.warmMemoryMb);
  }

  ActivationResult run(const Invocation& inv) override {
    int64_t start = nowSteadyMs();
    ActivationResult result;
    if (inv.files == nullptr || inv.files->count(inv.entry) == 0) {
      result.outcome = Outcome::Exception;
      result.error = ErrorDetail{"Exception", cs::ErrorCode::RuntimeException,
                                 "entry \"" + inv.entry + "\" is not in the function bundle", ""};
      result.durationMs = nowSteadyMs() - start;
      return result;
    }
    IsolateBox box = pool_->acquire(std::clamp(inv.limits.memoryMb, 16, 4096));
    Activation act;
    act.inv = &inv;
    act.isolate = box.isolate;
    act.allocator = box.allocator.get();
    act.deadline = start + std::max<int64_t>(1, inv.limits.timeoutMs);
    box.allocator->arm(static_cast<size_t>(box.memoryMb) * kMiB, box.isolate);
    box.isolate->SetData(kActivationSlot, &act);
    box.isolate->AddNearHeapLimitCallback(nearHeapLimit, &act);
    uint64_t watch = watchdog_.add(box.isolate, act.deadline, &act.timedOut);
    {
      v8::Locker locker(box.isolate);
      v8::Isolate::Scope isolateScope(box.isolate);
      v8::HandleScope handleScope(box.isolate);
      execute(act, box.context->Get(box.isolate), result);
      act.modules.clear();
      act.timers.clear();
      act.thenReturn.Reset();
    }
    watchdog_.remove(watch);
    box.isolate->RemoveNearHeapLimitCallback(nearHeapLimit, 0);
    box.isolate->SetData(kActivationSlot, nullptr);
    box.allocator->arm(SIZE_MAX, nullptr);
    pool_->release(std::move(box));

    result.logs = std::move(act.logs);
    result.logsTruncated = act.logsTruncated;
    finish(inv, result);
    result.durationMs = nowSteadyMs() - start;
    return result;
  }

 private:
  void execute(Activation& act, Local<v8::Context> context, ActivationResult& result) {
    v8::Isolate* isolate = act.isolate;
    isolate->SetHostImportModuleDynamicallyCallback(dynamicImport);
    v8::Context::Scope contextScope(context);
    v8::TryCatch tc(isolate);

    Local<v8::Object> helpers;
    if (!installPrelude(act, context).ToLocal(&helpers)) {
      return fail(act, context, tc, result, Local<v8::Object>());
    }

    // Load, link and evaluate the entry module (top-level await included).
    Local<v8::Module> module;
    Local<v8::Value> evaluated;
    if (!compileModule(act, act.inv->entry).ToLocal(&module) ||
        !module->InstantiateModule(context, resolveModule).FromMaybe(false) ||
        !module->Evaluate(context).ToLocal(&evaluated)) {
      return fail(act, context, tc, result, helpers);
    }
    if (evaluated->IsPromise()) {
      Local<v8::Value> exception;
      if (await(act, context, evaluated.As<v8::Promise>(), &exception) != Settled::Fulfilled) {
        return failWith(act, context, tc, result, helpers, exception);
      }
    }
    Local<v8::Value> handler;
    auto ns = module->GetModuleNamespace().As<v8::Object>();
    if (!ns->Get(context, str(isolate, "default")).ToLocal(&handler)) {
      return fail(act, context, tc, result, helpers);
    }
    if (!handler->IsFunction()) {
      result.outcome = Outcome::Exception;
      result.error = ErrorDetail{"Exception", cs::ErrorCode::RuntimeException,
                                 act.inv->entry + " must `export default` a function (found " +
                                     toStdString(isolate, handler->TypeOf(isolate)) + ")",
                                 ""};
      return;
    }

    // Call handler(event, ctx).
    Local<v8::Value> args[2];
    if (!v8::JSON::Parse(context, str(isolate, act.inv->eventJson)).ToLocal(&args[0]) ||
        !v8::JSON::Parse(context, str(isolate, act.inv->ctxJson)).ToLocal(&args[1])) {
      return fail(act, context, tc, result, helpers);
    }
    Local<v8::Value> returned;
    if (!handler.As<v8::Function>()->Call(context, v8::Undefined(isolate), 2, args).ToLocal(&returned)) {
      return fail(act, context, tc, result, helpers);
    }
    if (returned->IsPromise()) {
      auto promise = returned.As<v8::Promise>();
      Local<v8::Value> exception;
      if (await(act, context, promise, &exception) != Settled::Fulfilled) {
        return failWith(act, context, tc, result, helpers, exception);
      }
      returned = promise->Result();
    }

    // Normalise the returned value into a response (prelude `normalize`).
    Local<v8::Value> fn, normalized, text;
    Local<v8::Value> normArgs[] = {returned};
    if (!helpers->Get(context, str(isolate, "normalize")).ToLocal(&fn) ||
        !fn.As<v8::Function>()->Call(context, v8::Undefined(isolate), 1, normArgs).ToLocal(&normalized) ||
        !v8::JSON::Stringify(context, normalized).ToLocal(&text)) {
      return fail(act, context, tc, result, helpers);
    }
    auto json = nlohmann::json::parse(toStdString(isolate, text), nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
      result.outcome = Outcome::InvalidResult;
      result.error = ErrorDetail{"Exception", cs::ErrorCode::RuntimeException,
                                 "the function's result could not be read", ""};
      return;
    }
    if (json.contains("invalid")) {
      result.outcome = Outcome::InvalidResult;
      result.error = ErrorDetail{"Exception", cs::ErrorCode::RuntimeException,
                                 "invalid result: " + json["invalid"].get<std::string>(), ""};
      return;
    }
    FunctionResponse response;
    response.statusCode = json["statusCode"].get<int>();
    for (auto& [k, v] : json["headers"].items()) response.headers[k] = v.get<std::string>();
    response.body = json["body"].get<std::string>();
    response.isBase64Encoded = json["isBase64Encoded"].get<bool>();
    result.outcome = Outcome::Success;
    result.response = std::move(response);
  }

  // The prelude already ran inside the startup snapshot; add this activation's `cs` object.
  MaybeLocal<v8::Object> installPrelude(Activation& act, Local<v8::Context> context) {
    v8::Isolate* isolate = act.isolate;
    Local<v8::Object> helpers;
    if (!context->GetDataFromSnapshotOnce<v8::Object>(kHelpersSnapshotIndex).ToLocal(&helpers)) {
      throwError(isolate, "runtime prelude missing from the startup snapshot");
      return {};
    }
    Local<v8::Array> providers = v8::Array::New(isolate);
    uint32_t i = 0;
    for (HostProvider* p : act.inv->providers) {
      Local<v8::Object> desc = v8::Object::New(isolate);
      Local<v8::Array> methods = v8::Array::New(isolate);
      uint32_t j = 0;
      for (const auto& m : p->methods()) ignore(methods->Set(context, j++, str(isolate, m)));
      ignore(desc->Set(context, str(isolate, "name"), str(isolate, p->name())));
      ignore(desc->Set(context, str(isolate, "methods"), methods));
      ignore(providers->Set(context, i++, desc));
    }
    Local<v8::Value> install, thenReturn, ignored;
    Local<v8::Value> args[] = {providers};
    if (!helpers->Get(context, str(isolate, "install")).ToLocal(&install) ||
        !install.As<v8::Function>()->Call(context, v8::Undefined(isolate), 1, args).ToLocal(&ignored) ||
        !helpers->Get(context, str(isolate, "thenReturn")).ToLocal(&thenReturn)) {
      return {};
    }
    act.thenReturn.Reset(isolate, thenReturn.As<v8::Function>());
    return helpers;
  }

  // Runs microtasks and timers until `promise` settles, the deadline passes or the isolate is
  // terminated. A promise that can never settle waits for the deadline (status timeout).
  Settled await(Activation& act, Local<v8::Context> context, Local<v8::Promise> promise,
                Local<v8::Value>* exception) {
    v8::Isolate* isolate = act.isolate;
    while (true) {
      isolate->PerformMicrotaskCheckpoint();
      if (act.terminated() || isolate->IsExecutionTerminating()) return Settled::Terminated;
      if (promise->State() == v8::Promise::kFulfilled) return Settled::Fulfilled;
      if (promise->State() == v8::Promise::kRejected) {
        *exception = promise->Result();
        return Settled::Rejected;
      }
      int64_t now = nowSteadyMs();
      if (now >= act.deadline) {
        act.timedOut = true;
        return Settled::Terminated;
      }
      if (act.timers.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(act.deadline - now));
        continue;
      }
      auto next = std::min_element(act.timers.begin(), act.timers.end(), [](auto& a, auto& b) {
        return std::tie(a.second.due, a.second.seq) < std::tie(b.second.due, b.second.seq);
      });
      if (next->second.due > now) {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(std::min(next->second.due, act.deadline) - now));
        continue;
      }
      // Fire the earliest due timer.
      v8::EscapableHandleScope scope(isolate);
      Local<v8::Function> fn = next->second.fn.Get(isolate);
      std::vector<Local<v8::Value>> args;
      for (auto& a : next->second.args) args.push_back(a.Get(isolate));
      if (next->second.interval >= 0) {
        next->second.due = now + next->second.interval;
        next->second.seq = act.timerSeq++;
      } else {
        act.timers.erase(next);
      }
      v8::TryCatch tc(isolate);
      if (fn->Call(context, v8::Undefined(isolate), static_cast<int>(args.size()), args.data()).IsEmpty()) {
        if (tc.HasTerminated() || act.terminated()) return Settled::Terminated;
        // An uncaught exception in a timer fails the activation.
        *exception = scope.Escape(tc.Exception());
        return Settled::Rejected;
      }
    }
  }

  void fail(Activation& act, Local<v8::Context> context, v8::TryCatch& tc, ActivationResult& result,
            Local<v8::Object> helpers) {
    Local<v8::Value> exception = tc.HasCaught() ? tc.Exception() : Local<v8::Value>();
    Local<v8::Message> message = tc.HasCaught() ? tc.Message() : Local<v8::Message>();
    failWith(act, context, tc, result, helpers, exception, message);
  }

  void failWith(Activation& act, Local<v8::Context> context, v8::TryCatch& tc,
                ActivationResult& result, Local<v8::Object> helpers, Local<v8::Value> exception,
                Local<v8::Message> message = Local<v8::Message>()) {
    v8::Isolate* isolate = act.isolate;
    if (act.memoryExceeded()) {
      result.outcome = Outcome::MemoryLimit;
      result.error = ErrorDetail{"MemoryLimit", cs::ErrorCode::RuntimeMemoryLimit,
                                 "memory limit of " + std::to_string(act.inv->limits.memoryMb) +
                                     " MB exceeded",
                                 ""};
      return;
    }
    if (act.timedOut || tc.HasTerminated() || isolate->IsExecutionTerminating()) {
      result.outcome = Outcome::Timeout;
      result.error = ErrorDetail{"Timeout", cs::ErrorCode::RuntimeTimeout,
                                 "the function did not finish within its timeout of " +
                                     std::to_string(act.inv->limits.timeoutMs) + " ms",
                                 ""};
      return;
    }
    result.outcome = Outcome::Exception;
    ErrorDetail detail{"Exception", cs::ErrorCode::RuntimeException, "", ""};
    tc.Reset();
    if (exception.IsEmpty()) {
      detail.message = "the function failed without an exception value";
    } else if (!helpers.IsEmpty()) {
      Local<v8::Value> fn, described;
      Local<v8::Value> args[] = {exception};
      if (helpers->Get(context, str(isolate, "describe")).ToLocal(&fn) &&
          fn.As<v8::Function>()->Call(context, v8::Undefined(isolate), 1, args).ToLocal(&described)) {
        auto obj = described.As<v8::Object>();
        auto field = [&](const char* name) {
          Local<v8::Value> v;
          return obj->Get(context, str(isolate, name)).ToLocal(&v) ? toStdString(isolate, v)
                                                                   : std::string();
        };
        std::string name = field("name"), msg = field("message");
        detail.message = msg.starts_with("Uncaught ") ? msg : name + ": " + msg;
        detail.stack = field("stack");
        if (field("code") == "CS_RUNTIME_CAPABILITY_DENIED") {
          result.outcome = Outcome::CapabilityDenied;
          detail.type = "CapabilityDenied";
          detail.code = cs::ErrorCode::RuntimeCapabilityDenied;
        }
      } else {
        detail.message = toStdString(isolate, exception);
      }
      if (act.terminated()) return failWith(act, context, tc, result, helpers, exception);
    } else {
      detail.message = toStdString(isolate, exception);
    }
    // Compile errors (syntax, bad imports) carry their location only in the message.
    if (!message.IsEmpty() && (detail.stack.empty() || detail.stack == detail.message)) {
      std::string where = toStdString(isolate, message->GetScriptResourceName());
      int line = message->GetLineNumber(context).FromMaybe(0);
      int column = message->GetStartColumn(context).FromMaybe(0) + 1;
      detail.stack = detail.message + "\n    at " + where + ":" + std::to_string(line) + ":" +
                     std::to_string(column);
    }
    result.error = std::move(detail);
  }

  static void finish(const Invocation& inv, ActivationResult& result) {
    const Limits& limits = inv.limits;
    auto redactAll = [&](std::string& s) {
      for (const auto& secret : inv.redact) redact(s, secret);
    };
    for (auto& entry : result.logs) redactAll(entry.message);
    if (result.error) {
      redactAll(result.error->message);
      redactAll(result.error->stack);
      result.error->message = truncateUtf8(result.error->message, limits.maxErrorBytes);
      result.error->stack = truncateUtf8(result.error->stack, limits.maxStackBytes);
    }
    if (result.response) {
      redactAll(result.response->body);
      for (auto& [k, v] : result.response->headers) redactAll(v);
      auto& body = result.response->body;
      if (body.size() > limits.maxResultBytes) {
        body = result.response->isBase64Encoded ? body.substr(0, limits.maxResultBytes / 4 * 4)
                                                : truncateUtf8(body, limits.maxResultBytes);
        result.resultTruncated = true;
      }
    }
  }

  std::unique_ptr<IsolatePool> pool_;
  Watchdog watchdog_;
};

}  // namespace

std::unique_ptr<Engine> makeV8Engine(const EngineOptions& options) {
  return std::make_unique<V8Engine>(options);
}

PageCacheStats pageCacheStats() {
  CachingPageAllocator* cache = pageCache.load();
  if (cache == nullptr) return {};
  CachingPageAllocator::Stats s = cache->stats();
  return PageCacheStats{s.hits, s.misses, s.cachedBlocks, s.cachedBytes, s.protectCalls,
                        s.protectsSkipped};
}

}  // namespace cs::runtime
