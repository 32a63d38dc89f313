// JSON records stored under the SPEC §6 keys, shared by every kv::Store driver.
//
// Every record carries "schema" (e.g. "cs.function.v1") for later migrations. Decoding checks
// the schema and the type (and range, for enums and counters) of every field it reads and
// turns anything wrong into CS_KVROCKS_READ_FAILED; it never throws or crashes on a corrupt
// record. Unknown extra fields are ignored so that fields can be added without breaking older
// readers. Optional fields are omitted when absent (deleted_at_ms is written as null, as listed
// in SPEC §6) and read as absent when missing or null.
//
// Use: `std::string bytes = kv::encode(rec);` and `auto rec = kv::decode<ActivationRecord>(bytes);`
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "internal/errors/errors.h"

namespace cs::kv {

inline constexpr std::string_view kFunctionSchema = "cs.function.v1";
inline constexpr std::string_view kDraftSchema = "cs.draft.v1";
inline constexpr std::string_view kVersionSchema = "cs.version.v1";
inline constexpr std::string_view kAliasSchema = "cs.alias.v1";
inline constexpr std::string_view kActivationSchema = "cs.activation.v1";
inline constexpr std::string_view kLogChunkSchema = "cs.log.v1";
inline constexpr std::string_view kScheduleSchema = "cs.schedule.v1";
inline constexpr std::string_view kScheduleStateSchema = "cs.schedule_state.v1";
inline constexpr std::string_view kWorkerBindingSchema = "cs.cadence_worker.v1";
inline constexpr std::string_view kCadenceTaskSchema = "cs.cadence_task.v1";
inline constexpr std::string_view kSecretSchema = "cs.secret.v1";

// cs:fn:{t}:{ns}:{fn}:meta
struct FunctionRecord {
  std::string tenant;
  std::string ns;  // JSON "namespace"
  std::string name;
  std::string runtime;  // "cs-js"
  std::string entry;    // "function.js"
  std::string handler;  // "default"
  int64_t createdAtMs = 0;
  std::optional<int64_t> deletedAtMs;  // set by soft delete
};

// cs:fn:{t}:{ns}:{fn}:draft:{draft_id}, TTL = draft TTL.
struct DraftRecord {
  std::string draftId;
  std::string tenant;
  std::string ns;
  std::string function;
  std::map<std::string, std::string> filesB64;  // JSON "files": file name -> base64 bytes
  std::string sha256;                           // of the canonical bundle
  int64_t sizeBytes = 0;
  int64_t createdAtMs = 0;
  int64_t expiresAtMs = 0;
};

// cs:fn:{t}:{ns}:{fn}:ver:{v}:meta (the bundle bytes live at ...:ver:{v}:bundle).
struct VersionRecord {
  int64_t version = 0;
  std::string sha256;
  nlohmann::json config = nlohmann::json::object();  // the publish-time config object
  int64_t publishedAtMs = 0;
};

// cs:fn:{t}:{ns}:{fn}:alias:{alias}
struct AliasRecord {
  std::string alias;
  int64_t version = 0;
  int64_t updatedAtMs = 0;
};

enum class TriggerType { Http, Schedule, Cadence, Api };
enum class ActivationStatus { Queued, Running, Success, Error, Timeout };

std::string_view toString(TriggerType t);
std::string_view toString(ActivationStatus s);
std::optional<TriggerType> parseTriggerType(std::string_view s);
std::optional<ActivationStatus> parseActivationStatus(std::string_view s);
// success | error | timeout: no transition out of these (SPEC §6).
bool isTerminal(ActivationStatus s);

struct ActivationTrigger {
  TriggerType type = TriggerType::Api;
  nlohmann::json source = nlohmann::json::object();
};

struct ActivationError {
  std::string type;  // Exception | Timeout | MemoryLimit | ...
  std::string code;  // CS_* code, may be empty
  std::string message;
  std::string stack;  // may be empty
};

// cs:act:{t}:{activation_id}:meta, TTL = activation TTL.
struct ActivationRecord {
  std::string activationId;
  std::string tenant;
  std::string ns;
  std::string function;
  std::optional<int64_t> version;  // absent until the invoker resolved the alias
  std::optional<std::string> alias;
  ActivationTrigger trigger;
  std::string requestId;
  ActivationStatus status = ActivationStatus::Queued;
  int64_t createdAtMs = 0;
  std::optional<int64_t> startedAtMs;
  std::optional<int64_t> endedAtMs;
  std::optional<int64_t> durationMs;
  std::optional<nlohmann::json> result;  // {statusCode, headers, body, isBase64Encoded}
  std::optional<ActivationError> error;
  bool resultTruncated = false;
  bool logsTruncated = false;
  int64_t logChunks = 0;
};

struct LogEntry {
  std::string level;  // debug | info | warn | error
  int64_t tsMs = 0;
  std::string message;
};

// cs:log:{t}:{activation_id}:{seq}; seq is also the chunk's score in ...:chunks.
struct LogChunk {
  int64_t seq = 0;
  std::vector<LogEntry> entries;
};

// A function reference: exactly one of alias / version.
struct FunctionRef {
  std::string function;
  std::optional<std::string> alias;
  std::optional<int64_t> version;
};

enum class OverlapPolicy { Skip, Queue, Parallel };
std::string_view toString(OverlapPolicy p);
std::optional<OverlapPolicy> parseOverlapPolicy(std::string_view s);

// cs:schedule:{t}:{ns}:{name}:meta
struct ScheduleRecord {
  std::string tenant;
  std::string ns;
  std::string name;
  int64_t everySeconds = 0;  // 1..86400
  OverlapPolicy overlapPolicy = OverlapPolicy::Skip;
  FunctionRef ref;
  std::optional<nlohmann::json> payload;
  bool enabled = true;
  int64_t createdAtMs = 0;
  int64_t updatedAtMs = 0;
};

// cs:schedule:{t}:{ns}:{name}:state
struct ScheduleState {
  int64_t nextTickMs = 0;
  int64_t tickSeq = 0;
};

// cs:cadence:{t}:{ns}:worker:{name}:meta
struct WorkerBindingRecord {
  std::string tenant;
  std::string ns;
  std::string name;
  std::string domain;
  std::string tasklist;
  std::string workerId;
  std::map<std::string, FunctionRef> activityMap;  // ActivityType -> function ref
  int64_t activityPollers = 1;                     // pollers.activity, 1..256
  int64_t maxInflightTasks = 1;                    // limits.max_inflight_tasks, 1..100000
  bool enabled = true;
  int64_t createdAtMs = 0;
  int64_t updatedAtMs = 0;
};

// cs:cadence:{t}:{ns}:task:{taskTokenHash}; deleted after respond.
struct CadenceTaskRecord {
  std::string activationId;
  int64_t createdAtMs = 0;
};

// cs:secret:{t}:{path}
struct SecretRecord {
  std::string value;
  int64_t updatedAtMs = 0;
};

nlohmann::json toJson(const FunctionRecord& r);
nlohmann::json toJson(const DraftRecord& r);
nlohmann::json toJson(const VersionRecord& r);
nlohmann::json toJson(const AliasRecord& r);
nlohmann::json toJson(const ActivationRecord& r);
nlohmann::json toJson(const LogChunk& r);
nlohmann::json toJson(const FunctionRef& r);  // no schema: embedded in other records
nlohmann::json toJson(const ScheduleRecord& r);
nlohmann::json toJson(const ScheduleState& r);
nlohmann::json toJson(const WorkerBindingRecord& r);
nlohmann::json toJson(const CadenceTaskRecord& r);
nlohmann::json toJson(const SecretRecord& r);

// Specialised for every record type above; CS_KVROCKS_READ_FAILED on any mismatch.
template <typename T>
Result<T> fromJson(const nlohmann::json& j);

template <>
Result<FunctionRecord> fromJson<FunctionRecord>(const nlohmann::json& j);
template <>
Result<DraftRecord> fromJson<DraftRecord>(const nlohmann::json& j);
template <>
Result<VersionRecord> fromJson<VersionRecord>(const nlohmann::json& j);
template <>
Result<AliasRecord> fromJson<AliasRecord>(const nlohmann::json& j);
template <>
Result<ActivationRecord> fromJson<ActivationRecord>(const nlohmann::json& j);
template <>
Result<LogChunk> fromJson<LogChunk>(const nlohmann::json& j);
template <>
Result<FunctionRef> fromJson<FunctionRef>(const nlohmann::json& j);
template <>
Result<ScheduleRecord> fromJson<ScheduleRecord>(const nlohmann::json& j);
template <>
Result<ScheduleState> fromJson<ScheduleState>(const nlohmann::json& j);
template <>
Result<WorkerBindingRecord> fromJson<WorkerBindingRecord>(const nlohmann::json& j);
template <>
Result<CadenceTaskRecord> fromJson<CadenceTaskRecord>(const nlohmann::json& j);
template <>
Result<SecretRecord> fromJson<SecretRecord>(const nlohmann::json& j);

// Parses text as JSON without throwing; CS_KVROCKS_READ_FAILED when it is not JSON.
Result<nlohmann::json> parseRecordJson(std::string_view text);
// Serialises without throwing: invalid UTF-8 in strings is replaced by U+FFFD.
std::string dumpRecordJson(const nlohmann::json& j);

template <typename T>
std::string encode(const T& record) {
  return dumpRecordJson(toJson(record));
}

template <typename T>
Result<T> decode(std::string_view text) {
  auto j = parseRecordJson(text);
  if (!j) return j.error();
  return fromJson<T>(*j);
}

}  // namespace cs::kv
