#include "internal/kv/records.h"

#include <limits>
#include <utility>

#include "internal/kv/keys.h"

namespace cs::kv {
namespace {

using nlohmann::json;

constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();

// The first decode error of one record; shared by a Reader and its children.
struct DecodeContext {
  std::string_view schema;
  std::optional<std::string> error;

  void fail(const std::string& path, std::string_view message) {
    if (!error)
      error = "corrupt " + std::string(schema) + " record: " + path + " " + std::string(message);
  }
  Error toError() const {
    return Error{ErrorCode::KvrocksReadFailed, error.value_or("corrupt record")};
  }
};

// Typed field access that records the first error and returns a harmless default, so a
// decoder reads every field straight through and checks ok() once.
class Reader {
 public:
  Reader(DecodeContext& ctx, const json& j, std::string path)
      : ctx_(ctx), j_(j), path_(std::move(path)) {
    if (!j_.is_object()) ctx_.fail(path_.empty() ? "record" : path_, "is not an object");
  }

  bool ok() const { return !ctx_.error; }

  void schema() {
    auto s = str("schema");
    if (ok() && s != ctx_.schema) fail("schema", "is \"" + s.substr(0, 64) + "\"");
  }

  // nullptr when missing (or null and nullable), or on a type error.
  const json* field(const char* key, bool required) {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end() || (!required && it->is_null())) {
      if (required) fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }

  std::string str(const char* key) { return optStr(key, true).value_or(""); }
  std::optional<std::string> optStr(const char* key, bool required = false) {
    const json* v = field(key, required);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      fail(key, "is not a string");
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  int64_t i64(const char* key, int64_t min = 0, int64_t max = kMaxI64) {
    return optI64(key, min, max, true).value_or(min);
  }
  std::optional<int64_t> optI64(const char* key, int64_t min = 0, int64_t max = kMaxI64,
                                bool required = false) {
    const json* v = field(key, required);
    if (!v) return std::nullopt;
    if (!v->is_number_integer() ||
        (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(kMaxI64))) {
      fail(key, "is not an integer");
      return std::nullopt;
    }
    auto n = v->get<int64_t>();
    if (n < min || n > max) {
      fail(key, "is out of range");
      return std::nullopt;
    }
    return n;
  }

  bool boolean(const char* key) { return optBool(key, true).value_or(false); }
  std::optional<bool> optBool(const char* key, bool required = false) {
    const json* v = field(key, required);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      fail(key, "is not a boolean");
      return std::nullopt;
    }
    return v->get<bool>();
  }

  const json* object(const char* key, bool required = true) {
    const json* v = field(key, required);
    if (v && !v->is_object()) {
      fail(key, "is not an object");
      return nullptr;
    }
    return v;
  }
  const json* array(const char* key) {
    const json* v = field(key, true);
    if (v && !v->is_array()) {
      fail(key, "is not an array");
      return nullptr;
    }
    return v;
  }
  // Any JSON value but null; nullptr when absent or null.
  const json* optAny(const char* key) { return field(key, false); }

  std::string childPath(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  Reader child(const json& j, std::string_view key) { return Reader(ctx_, j, childPath(key)); }
  void fail(std::string_view key, std::string_view message) { ctx_.fail(childPath(key), message); }

 private:
  DecodeContext& ctx_;
  const json& j_;
  std::string path_;
};

FunctionRef readRef(Reader& r) {
  FunctionRef ref;
  ref.function = r.str("function");
  ref.alias = r.optStr("alias");
  ref.version = r.optI64("version", 1);
  if (!r.ok()) return ref;
  if (!keys::isValidFunctionName(ref.function)) r.fail("function", "is not a valid name");
  if (ref.alias && !keys::isValidAlias(*ref.alias)) r.fail("alias", "is not a valid alias");
  if (ref.alias.has_value() == ref.version.has_value()) {
    r.fail("alias", "and version: exactly one is required");
  }
  return ref;
}

template <typename T>
Result<T> finish(DecodeContext& ctx, T value) {
  if (ctx.error) return ctx.toError();
  return value;
}

void putOpt(json& j, const char* key, const std::optional<int64_t>& v) {
  if (v) j[key] = *v;
}

}  // namespace

std::string_view toString(TriggerType t) {
  switch (t) {
    case TriggerType::Http:
      return "http";
    case TriggerType::Schedule:
      return "schedule";
    case TriggerType::Cadence:
      return "cadence";
    case TriggerType::Api:
      return "api";
  }
  return "api";
}

std::optional<TriggerType> parseTriggerType(std::string_view s) {
  if (s == "http") return TriggerType::Http;
  if (s == "schedule") return TriggerType::Schedule;
  if (s == "cadence") return TriggerType::Cadence;
  if (s == "api") return TriggerType::Api;
  return std::nullopt;
}

std::string_view toString(ActivationStatus s) {
  switch (s) {
    case ActivationStatus::Queued:
      return "queued";
    case ActivationStatus::Running:
      return "running";
    case ActivationStatus::Success:
      return "success";
    case ActivationStatus::Error:
      return "error";
    case ActivationStatus::Timeout:
      return "timeout";
  }
  return "error";
}

std::optional<ActivationStatus> parseActivationStatus(std::string_view s) {
  if (s == "queued") return ActivationStatus::Queued;
  if (s == "running") return ActivationStatus::Running;
  if (s == "success") return ActivationStatus::Success;
  if (s == "error") return ActivationStatus::Error;
  if (s == "timeout") return ActivationStatus::Timeout;
  return std::nullopt;
}

bool isTerminal(ActivationStatus s) {
  return s == ActivationStatus::Success || s == ActivationStatus::Error ||
         s == ActivationStatus::Timeout;
}

std::string_view toString(OverlapPolicy p) {
  switch (p) {
    case OverlapPolicy::Skip:
      return "skip";
    case OverlapPolicy::Queue:
      return "queue";
    case OverlapPolicy::Parallel:
      return "parallel";
  }
  return "skip";
}

std::optional<OverlapPolicy> parseOverlapPolicy(std::string_view s) {
  if (s == "skip") return OverlapPolicy::Skip;
  if (s == "queue") return OverlapPolicy::Queue;
  if (s == "parallel") return OverlapPolicy::Parallel;
  return std::nullopt;
}

Result<json> parseRecordJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return Error{ErrorCode::KvrocksReadFailed, "stored record is not valid JSON"};
  return j;
}

std::string dumpRecordJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// --- FunctionRecord ---------------------------------------------------------------------------
json toJson(const FunctionRecord& r) {
  return json{{"schema", kFunctionSchema},
              {"tenant", r.tenant},
              {"namespace", r.ns},
              {"name", r.name},
              {"runtime", r.runtime},
              {"entry", r.entry},
              {"handler", r.handler},
              {"created_at_ms", r.createdAtMs},
              {"deleted_at_ms", r.deletedAtMs ? json(*r.deletedAtMs) : json(nullptr)}};
}

template <>
Result<FunctionRecord> fromJson<FunctionRecord>(const json& j) {
  DecodeContext ctx{kFunctionSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  FunctionRecord f;
  f.tenant = r.str("tenant");
  f.ns = r.str("namespace");
  f.name = r.str("name");
  f.runtime = r.str("runtime");
  f.entry = r.str("entry");
  f.handler = r.str("handler");
  f.createdAtMs = r.i64("created_at_ms");
  f.deletedAtMs = r.optI64("deleted_at_ms");
  return finish(ctx, std::move(f));
}

// --- DraftRecord ------------------------------------------------------------------------------
json toJson(const DraftRecord& r) {
  json files = json::object();
  for (const auto& [name, b64] : r.filesB64) files[name] = b64;
  return json{{"schema", kDraftSchema},
              {"draft_id", r.draftId},
              {"tenant", r.tenant},
              {"namespace", r.ns},
              {"function", r.function},
              {"files", std::move(files)},
              {"sha256", r.sha256},
              {"size_bytes", r.sizeBytes},
              {"created_at_ms", r.createdAtMs},
              {"expires_at_ms", r.expiresAtMs}};
}

template <>
Result<DraftRecord> fromJson<DraftRecord>(const json& j) {
  DecodeContext ctx{kDraftSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  DraftRecord d;
  d.draftId = r.str("draft_id");
  d.tenant = r.str("tenant");
  d.ns = r.str("namespace");
  d.function = r.str("function");
  if (const json* files = r.object("files")) {
    for (const auto& [name, v] : files->items()) {
      if (!v.is_string()) {
        r.fail("files", "has a non-string entry");
        break;
      }
      d.filesB64[name] = v.get<std::string>();
    }
  }
  d.sha256 = r.str("sha256");
  d.sizeBytes = r.i64("size_bytes");
  d.createdAtMs = r.i64("created_at_ms");
  d.expiresAtMs = r.i64("expires_at_ms");
  return finish(ctx, std::move(d));
}

// --- VersionRecord ----------------------------------------------------------------------------
json toJson(const VersionRecord& r) {
  return json{{"schema", kVersionSchema},
              {"version", r.version},
              {"sha256", r.sha256},
              {"config", r.config.is_object() ? r.config : json::object()},
              {"published_at_ms", r.publishedAtMs}};
}

template <>
Result<VersionRecord> fromJson<VersionRecord>(const json& j) {
  DecodeContext ctx{kVersionSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  VersionRecord v;
  v.version = r.i64("version", 1);
  v.sha256 = r.str("sha256");
  if (const json* c = r.object("config")) v.config = *c;
  v.publishedAtMs = r.i64("published_at_ms");
  return finish(ctx, std::move(v));
}

// --- AliasRecord ------------------------------------------------------------------------------
json toJson(const AliasRecord& r) {
  return json{{"schema", kAliasSchema},
              {"alias", r.alias},
              {"version", r.version},
              {"updated_at_ms", r.updatedAtMs}};
}

template <>
Result<AliasRecord> fromJson<AliasRecord>(const json& j) {
  DecodeContext ctx{kAliasSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  AliasRecord a;
  a.alias = r.str("alias");
  a.version = r.i64("version", 1);
  a.updatedAtMs = r.i64("updated_at_ms");
  return finish(ctx, std::move(a));
}

// --- ActivationRecord -------------------------------------------------------------------------
json toJson(const ActivationRecord& r) {
  json j{{"schema", kActivationSchema},
         {"activation_id", r.activationId},
         {"tenant", r.tenant},
         {"namespace", r.ns},
         {"function", r.function},
         {"trigger",
          {{"type", toString(r.trigger.type)},
           {"source", r.trigger.source.is_object() ? r.trigger.source : json::object()}}},
         {"request_id", r.requestId},
         {"status", toString(r.status)},
         {"created_at_ms", r.createdAtMs},
         {"result_truncated", r.resultTruncated},
         {"logs_truncated", r.logsTruncated},
         {"log_chunks", r.logChunks}};
  putOpt(j, "version", r.version);
  if (r.alias) j["alias"] = *r.alias;
  putOpt(j, "started_at_ms", r.startedAtMs);
  putOpt(j, "ended_at_ms", r.endedAtMs);
  putOpt(j, "duration_ms", r.durationMs);
  if (r.result) j["result"] = *r.result;
  if (r.error) {
    j["error"] = {{"type", r.error->type},
                  {"code", r.error->code},
                  {"message", r.error->message},
                  {"stack", r.error->stack}};
  }
  return j;
}

template <>
Result<ActivationRecord> fromJson<ActivationRecord>(const json& j) {
  DecodeContext ctx{kActivationSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  ActivationRecord a;
  a.activationId = r.str("activation_id");
  a.tenant = r.str("tenant");
  a.ns = r.str("namespace");
  a.function = r.str("function");
  a.version = r.optI64("version", 1);
  a.alias = r.optStr("alias");
  if (const json* t = r.object("trigger")) {
    Reader tr = r.child(*t, "trigger");
    auto type = tr.str("type");
    if (tr.ok()) {
      if (auto parsed = parseTriggerType(type)) {
        a.trigger.type = *parsed;
      } else {
        tr.fail("type", "is not a trigger type");
      }
    }
    if (const json* src = tr.object("source")) a.trigger.source = *src;
  }
  a.requestId = r.str("request_id");
  auto status = r.str("status");
  if (r.ok()) {
    if (auto parsed = parseActivationStatus(status)) {
      a.status = *parsed;
    } else {
      r.fail("status", "is not an activation status");
    }
  }
  a.createdAtMs = r.i64("created_at_ms");
  a.startedAtMs = r.optI64("started_at_ms");
  a.endedAtMs = r.optI64("ended_at_ms");
  a.durationMs = r.optI64("duration_ms");
  if (const json* res = r.optAny("result")) {
    if (res->is_object()) {
      a.result = *res;
    } else {
      r.fail("result", "is not an object");
    }
  }
  if (const json* e = r.object("error", false)) {
    Reader er = r.child(*e, "error");
    ActivationError err;
    err.type = er.str("type");
    err.code = er.optStr("code").value_or("");
    err.message = er.str("message");
    err.stack = er.optStr("stack").value_or("");
    a.error = std::move(err);
  }
  a.resultTruncated = r.optBool("result_truncated").value_or(false);
  a.logsTruncated = r.optBool("logs_truncated").value_or(false);
  a.logChunks = r.optI64("log_chunks").value_or(0);
  return finish(ctx, std::move(a));
}

// --- LogChunk ---------------------------------------------------------------------------------
json toJson(const LogChunk& r) {
  json entries = json::array();
  for (const auto& e : r.entries) {
    entries.push_back({{"level", e.level}, {"ts_ms", e.tsMs}, {"message", e.message}});
  }
  return json{{"schema", kLogChunkSchema}, {"seq", r.seq}, {"entries", std::move(entries)}};
}

template <>
Result<LogChunk> fromJson<LogChunk>(const json& j) {
  DecodeContext ctx{kLogChunkSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  LogChunk c;
  c.seq = r.i64("seq");
  if (const json* entries = r.array("entries")) {
    for (size_t i = 0; i < entries->size() && r.ok(); ++i) {
      Reader er = r.child((*entries)[i], "entries[" + std::to_string(i) + "]");
      LogEntry e;
      e.level = er.str("level");
      e.tsMs = er.i64("ts_ms");
      e.message = er.str("message");
      if (er.ok() && e.level != "debug" && e.level != "info" && e.level != "warn" &&
          e.level != "error") {
        er.fail("level", "is not a log level");
      }
      c.entries.push_back(std::move(e));
    }
  }
  return finish(ctx, std::move(c));
}

// --- FunctionRef ------------------------------------------------------------------------------
json toJson(const FunctionRef& r) {
  json j{{"function", r.function}};
  if (r.alias) j["alias"] = *r.alias;
  if (r.version) j["version"] = *r.version;
  return j;
}

template <>
Result<FunctionRef> fromJson<FunctionRef>(const json& j) {
  DecodeContext ctx{"function ref", {}};
  Reader r(ctx, j, "");
  FunctionRef ref = readRef(r);
  return finish(ctx, std::move(ref));
}

// --- ScheduleRecord / ScheduleState -----------------------------------------------------------
json toJson(const ScheduleRecord& r) {
  json j{{"schema", kScheduleSchema},
         {"tenant", r.tenant},
         {"namespace", r.ns},
         {"name", r.name},
         {"every_seconds", r.everySeconds},
         {"overlap_policy", toString(r.overlapPolicy)},
         {"ref", toJson(r.ref)},
         {"enabled", r.enabled},
         {"created_at_ms", r.createdAtMs},
         {"updated_at_ms", r.updatedAtMs}};
  if (r.payload) j["payload"] = *r.payload;
  return j;
}

template <>
Result<ScheduleRecord> fromJson<ScheduleRecord>(const json& j) {
  DecodeContext ctx{kScheduleSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  ScheduleRecord s;
  s.tenant = r.str("tenant");
  s.ns = r.str("namespace");
  s.name = r.str("name");
  s.everySeconds = r.i64("every_seconds", 1, 86400);
  auto policy = r.str("overlap_policy");
  if (r.ok()) {
    if (auto parsed = parseOverlapPolicy(policy)) {
      s.overlapPolicy = *parsed;
    } else {
      r.fail("overlap_policy", "is not an overlap policy");
    }
  }
  if (const json* ref = r.object("ref")) {
    Reader rr = r.child(*ref, "ref");
    s.ref = readRef(rr);
  }
  if (const json* p = r.optAny("payload")) s.payload = *p;
  s.enabled = r.boolean("enabled");
  s.createdAtMs = r.i64("created_at_ms");
  s.updatedAtMs = r.i64("updated_at_ms");
  return finish(ctx, std::move(s));
}

json toJson(const ScheduleState& r) {
  return json{
      {"schema", kScheduleStateSchema}, {"next_tick_ms", r.nextTickMs}, {"tick_seq", r.tickSeq}};
}

template <>
Result<ScheduleState> fromJson<ScheduleState>(const json& j) {
  DecodeContext ctx{kScheduleStateSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  ScheduleState s;
  s.nextTickMs = r.i64("next_tick_ms");
  s.tickSeq = r.i64("tick_seq");
  return finish(ctx, s);
}

// --- WorkerBindingRecord ----------------------------------------------------------------------
json toJson(const WorkerBindingRecord& r) {
  json map = json::object();
  for (const auto& [type, ref] : r.activityMap) map[type] = toJson(ref);
  return json{{"schema", kWorkerBindingSchema},
              {"tenant", r.tenant},
              {"namespace", r.ns},
              {"name", r.name},
              {"domain", r.domain},
              {"tasklist", r.tasklist},
              {"worker_id", r.workerId},
              {"activity_map", std::move(map)},
              {"pollers", {{"activity", r.activityPollers}}},
              {"limits", {{"max_inflight_tasks", r.maxInflightTasks}}},
              {"enabled", r.enabled},
              {"created_at_ms", r.createdAtMs},
              {"updated_at_ms", r.updatedAtMs}};
}

template <>
Result<WorkerBindingRecord> fromJson<WorkerBindingRecord>(const json& j) {
  DecodeContext ctx{kWorkerBindingSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  WorkerBindingRecord w;
  w.tenant = r.str("tenant");
  w.ns = r.str("namespace");
  w.name = r.str("name");
  w.domain = r.str("domain");
  w.tasklist = r.str("tasklist");
  w.workerId = r.str("worker_id");
  if (const json* map = r.object("activity_map")) {
    for (const auto& [type, ref] : map->items()) {
      if (!r.ok()) break;
      Reader rr = r.child(ref, "activity_map." + type);
      w.activityMap[type] = readRef(rr);
    }
  }
  if (const json* p = r.object("pollers")) {
    w.activityPollers = r.child(*p, "pollers").i64("activity", 1, 256);
  }
  if (const json* l = r.object("limits")) {
    w.maxInflightTasks = r.child(*l, "limits").i64("max_inflight_tasks", 1, 100000);
  }
  w.enabled = r.boolean("enabled");
  w.createdAtMs = r.i64("created_at_ms");
  w.updatedAtMs = r.i64("updated_at_ms");
  return finish(ctx, std::move(w));
}

// --- CadenceTaskRecord / SecretRecord ---------------------------------------------------------
json toJson(const CadenceTaskRecord& r) {
  return json{{"schema", kCadenceTaskSchema},
              {"activation_id", r.activationId},
              {"created_at_ms", r.createdAtMs}};
}

template <>
Result<CadenceTaskRecord> fromJson<CadenceTaskRecord>(const json& j) {
  DecodeContext ctx{kCadenceTaskSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  CadenceTaskRecord t;
  t.activationId = r.str("activation_id");
  t.createdAtMs = r.i64("created_at_ms");
  return finish(ctx, std::move(t));
}

json toJson(const SecretRecord& r) {
  return json{{"schema", kSecretSchema}, {"value", r.value}, {"updated_at_ms", r.updatedAtMs}};
}

template <>
Result<SecretRecord> fromJson<SecretRecord>(const json& j) {
  DecodeContext ctx{kSecretSchema, {}};
  Reader r(ctx, j, "");
  r.schema();
  SecretRecord s;
  s.value = r.str("value");
  s.updatedAtMs = r.i64("updated_at_ms");
  return finish(ctx, std::move(s));
}

}  // namespace cs::kv
