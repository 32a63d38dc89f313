// JSON parsing and JSON Schema validation of everything that crosses a boundary: the function
// manifest, queue messages and REST request bodies (SPEC §4, §7, §8, §11).
//
// The schemas are the files in spec/, compiled into the library at build time and parsed once
// (on first use, thread-safe); afterwards every function here is safe to call from any thread.
// Failures are values: CS_VALIDATION_MANIFEST_INVALID for the manifest, CS_VALIDATION_FAILED for
// everything else, with a message that names the offending field as a JSON pointer, e.g.
// "manifest: /limits/timeoutMs: Expected number less than or equal to 900000".
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "internal/errors/errors.h"

namespace cs::api {

enum class Schema {
  Manifest,             // spec/manifest.schema.json            cs.function.script.v1
  InvocationRequest,    // spec/invocation-request.schema.json  cs.invoke.v1
  InvocationResult,     // spec/invocation-result.schema.json   cs.results.v1
  Envelope,             // spec/envelope.schema.json            cs.envelope.v1
  ScheduleCreate,       // spec/schedule-create.schema.json     POST .../schedules
  WorkerBindingCreate,  // spec/worker-binding-create.schema.json POST .../cadence/workers
  FunctionCreate,       // spec/function-create.schema.json     POST .../functions
  Publish,              // spec/publish.schema.json             POST .../versions
  InvokeApi,            // spec/invoke-api.schema.json          POST ...:invoke
};

// Deeper JSON documents are rejected by parseJson (guards recursive consumers).
inline constexpr int kMaxJsonDepth = 128;

// Strict JSON (RFC 8259, UTF-8) → CS_VALIDATION_FAILED on syntax errors, empty input or
// nesting deeper than kMaxJsonDepth.
Result<nlohmann::json> parseJson(std::string_view text);

// Validates doc against one schema; the error code depends on the schema (see above).
Status validate(Schema schema, const nlohmann::json& doc);

Status validateManifest(const nlohmann::json& doc);
Status validateInvocationRequest(const nlohmann::json& doc);
Status validateInvocationResult(const nlohmann::json& doc);
Status validateEnvelope(const nlohmann::json& doc);
Status validateScheduleCreate(const nlohmann::json& doc);
Status validateWorkerBindingCreate(const nlohmann::json& doc);
Status validateFunctionCreate(const nlohmann::json& doc);
Status validatePublish(const nlohmann::json& doc);
Status validateInvokeApi(const nlohmann::json& doc);

// The schema document as written in spec/ (e.g. to serve it or to document it).
std::string_view schemaText(Schema schema);
// File stem in spec/, e.g. "manifest".
std::string_view schemaName(Schema schema);

}  // namespace cs::api
