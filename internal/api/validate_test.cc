#include "internal/api/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "internal/api/names.h"

namespace cs::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const Schema kAllSchemas[] = {Schema::Manifest,           Schema::InvocationRequest,
                              Schema::InvocationResult,   Schema::Envelope,
                              Schema::ScheduleCreate,     Schema::WorkerBindingCreate,
                              Schema::FunctionCreate,     Schema::Publish,
                              Schema::InvokeApi};

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

json fixture(const std::string& name) {
  return json::parse(readFile(std::string(CS_SOURCE_DIR) + "/internal/api/testdata/" + name));
}

std::string repeat(char c, size_t n) { return std::string(n, c); }

// --- valid fixtures ---------------------------------------------------------------------------

struct ValidCase {
  Schema schema;
  const char* fixture;
};

class ValidFixtureTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidFixtureTest, Passes) {
  Status s = validate(GetParam().schema, fixture(GetParam().fixture));
  EXPECT_TRUE(s.ok()) << GetParam().fixture << ": " << (s.ok() ? "" : s.error().message);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, ValidFixtureTest,
    ::testing::Values(ValidCase{Schema::Manifest, "manifest_minimal.json"},
                      ValidCase{Schema::Manifest, "manifest_full.json"},
                      ValidCase{Schema::InvocationRequest, "invocation_request.json"},
                      ValidCase{Schema::InvocationResult, "invocation_result_success.json"},
                      ValidCase{Schema::InvocationResult, "invocation_result_error.json"},
                      ValidCase{Schema::Envelope, "envelope.json"},
                      ValidCase{Schema::ScheduleCreate, "schedule_create.json"},
                      ValidCase{Schema::WorkerBindingCreate, "worker_binding_create.json"},
                      ValidCase{Schema::FunctionCreate, "function_create.json"},
                      ValidCase{Schema::Publish, "publish.json"},
                      ValidCase{Schema::InvokeApi, "invoke_api.json"}));

// --- one failing case per rule ---------------------------------------------------------------

// A valid fixture, one edit (set or remove at a JSON pointer), and what the error must say.
struct BadCase {
  const char* label;
  Schema schema;
  const char* fixture;
  const char* pointer;
  std::optional<json> value;  // nullopt: remove the member
  const char* mustMention;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.label; }

json applyEdit(json doc, const BadCase& c) {
  const json::json_pointer ptr(c.pointer);
  if (c.value) {
    doc[ptr] = *c.value;
  } else {
    doc[ptr.parent_pointer()].erase(ptr.back());
  }
  return doc;
}

class BadCaseTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadCaseTest, FailsWithCodeAndFieldInMessage) {
  const BadCase& c = GetParam();
  const json doc = applyEdit(fixture(c.fixture), c);
  Status s = validate(c.schema, doc);
  ASSERT_FALSE(s.ok()) << c.label;
  const ErrorCode expected = c.schema == Schema::Manifest ? ErrorCode::ValidationManifestInvalid
                                                          : ErrorCode::ValidationFailed;
  EXPECT_EQ(s.error().code, expected) << c.label;
  EXPECT_THAT(s.error().message, HasSubstr(c.mustMention)) << c.label;
  EXPECT_THAT(s.error().message, HasSubstr(std::string(schemaName(c.schema)) + ": ")) << c.label;
}

std::string caseName(const ::testing::TestParamInfo<BadCase>& info) { return info.param.label; }

constexpr auto M = Schema::Manifest;
const char* const kMin = "manifest_minimal.json";
const char* const kFull = "manifest_full.json";

INSTANTIATE_TEST_SUITE_P(
    Manifest, BadCaseTest,
    ::testing::Values(
        BadCase{"RequiredSchema", M, kMin, "/schema", std::nullopt, "/schema: is required"},
        BadCase{"RequiredEntry", M, kMin, "/entry", std::nullopt, "/entry: is required"},
        BadCase{"ConstSchema", M, kMin, "/schema", "cs.function.script.v2",
                "/schema: must be \"cs.function.script.v1\""},
        BadCase{"ConstRuntime", M, kMin, "/runtime", "node", "/runtime: must be \"cs-js\""},
        BadCase{"ConstHandler", M, kMin, "/handler", "main", "/handler: must be \"default\""},
        BadCase{"PatternEntry", M, kMin, "/entry", "my function.js", "/entry: must match"},
        BadCase{"EntryTooLong", M, kMin, "/entry", repeat('a', 257), "/entry"},
        BadCase{"EntryHugeDoesNotCrash", M, kMin, "/entry", repeat('a', 400000), "/entry"},
        BadCase{"TypeEntry", M, kMin, "/entry", 42, "/entry: must be of type"},
        BadCase{"TimeoutZero", M, kFull, "/limits/timeoutMs", 0, "/limits/timeoutMs"},
        BadCase{"TimeoutTooBig", M, kFull, "/limits/timeoutMs", 900001,
                "/limits/timeoutMs: Expected number less than or equal to 900000"},
        BadCase{"TimeoutString", M, kFull, "/limits/timeoutMs", "1000",
                "/limits/timeoutMs: must be of type \"integer\""},
        BadCase{"TimeoutFraction", M, kFull, "/limits/timeoutMs", 1.5, "/limits/timeoutMs"},
        BadCase{"MemoryTooSmall", M, kFull, "/limits/memoryMb", 15, "/limits/memoryMb"},
        BadCase{"MemoryTooBig", M, kFull, "/limits/memoryMb", 4097, "/limits/memoryMb"},
        BadCase{"ConcurrencyTooBig", M, kFull, "/limits/maxConcurrency", 101,
                "/limits/maxConcurrency"},
        BadCase{"ExtraTopLevel", M, kMin, "/version", 2, "/version: is not allowed"},
        BadCase{"ExtraInLimits", M, kFull, "/limits/cpu", 1, "/limits/cpu: is not allowed"},
        BadCase{"ExtraCapability", M, kFull, "/capabilities/fs", json::object(),
                "/capabilities/fs: is not allowed"},
        BadCase{"KvOpEnum", M, kFull, "/capabilities/kv/ops", json::array({"get", "drop"}),
                "/capabilities/kv/ops/1: must be one of \"get\", \"set\", \"del\""},
        BadCase{"KvOpsUnique", M, kFull, "/capabilities/kv/ops", json::array({"get", "get"}),
                "/capabilities/kv/ops"},
        BadCase{"KvOpsRequired", M, kFull, "/capabilities/kv/ops", std::nullopt,
                "/capabilities/kv/ops: is required"},
        BadCase{"KvPrefixEmpty", M, kFull, "/capabilities/kv/prefixes", json::array({""}),
                "/capabilities/kv/prefixes/0"},
        BadCase{"KvPrefixTooLong", M, kFull, "/capabilities/kv/prefixes",
                json::array({repeat('p', 257)}), "/capabilities/kv/prefixes/0"},
        BadCase{"KvTooManyPrefixes", M, kFull, "/capabilities/kv/prefixes",
                json(std::vector<std::string>(65, "p/")), "/capabilities/kv/prefixes"},
        BadCase{"CodeqTooManyTopics", M, kFull, "/capabilities/codeq/publishTopics",
                json(std::vector<std::string>(65, "t")), "/capabilities/codeq/publishTopics"},
        BadCase{"HttpHostTooLong", M, kFull, "/capabilities/http/allowHosts",
                json::array({repeat('h', 254)}), "/capabilities/http/allowHosts/0"},
        BadCase{"HttpTooManyHosts", M, kFull, "/capabilities/http/allowHosts",
                json(std::vector<std::string>(129, "h.example")),
                "/capabilities/http/allowHosts"},
        BadCase{"HttpTimeoutTooBig", M, kFull, "/capabilities/http/timeoutMs", 30001,
                "/capabilities/http/timeoutMs"},
        BadCase{"HttpHostsRequired", M, kFull, "/capabilities/http/allowHosts", std::nullopt,
                "/capabilities/http/allowHosts: is required"}),
    caseName);

constexpr auto R = Schema::InvocationRequest;
const char* const kReq = "invocation_request.json";

INSTANTIATE_TEST_SUITE_P(
    InvocationRequest, BadCaseTest,
    ::testing::Values(
        BadCase{"RequiredActivationId", R, kReq, "/activation_id", std::nullopt,
                "/activation_id: is required"},
        BadCase{"RequiredRequestId", R, kReq, "/request_id", std::nullopt,
                "/request_id: is required"},
        BadCase{"RequiredTenant", R, kReq, "/tenant", std::nullopt, "/tenant: is required"},
        BadCase{"RequiredNamespace", R, kReq, "/namespace", std::nullopt,
                "/namespace: is required"},
        BadCase{"RequiredRef", R, kReq, "/ref", std::nullopt, "/ref: is required"},
        BadCase{"RequiredTrigger", R, kReq, "/trigger", std::nullopt, "/trigger: is required"},
        BadCase{"RequiredPrincipal", R, kReq, "/principal", std::nullopt,
                "/principal: is required"},
        BadCase{"RequiredDeadline", R, kReq, "/deadline_ms", std::nullopt,
                "/deadline_ms: is required"},
        BadCase{"RequiredEvent", R, kReq, "/event", std::nullopt, "/event: is required"},
        BadCase{"NoExtraTopLevel", R, kReq, "/reply_to", "gw-1", "/reply_to: is not allowed"},
        BadCase{"ActivationIdNotUuid", R, kReq, "/activation_id", "not-a-uuid",
                "/activation_id"},
        BadCase{"ActivationIdUpperCase", R, kReq, "/activation_id",
                "3F2B8C1E-9A4D-4E21-8B7A-0C5D6E7F8A9B", "/activation_id: must match"},
        BadCase{"RequestIdTooShort", R, kReq, "/request_id", "req_123", "/request_id"},
        BadCase{"RequestIdTooLong", R, kReq, "/request_id", "req_" + repeat('a', 61),
                "/request_id"},
        BadCase{"TenantTooShort", R, kReq, "/tenant", "ab", "/tenant"},
        BadCase{"TenantTooLong", R, kReq, "/tenant", repeat('t', 65), "/tenant"},
        BadCase{"TenantWithColon", R, kReq, "/tenant", "t_a:b:c", "/tenant: must match"},
        BadCase{"NamespaceEmpty", R, kReq, "/namespace", "", "/namespace"},
        BadCase{"FunctionEmpty", R, kReq, "/ref/function", "", "/ref/function"},
        BadCase{"FunctionTooLong", R, kReq, "/ref/function", repeat('f', 65), "/ref/function"},
        BadCase{"AliasTooLong", R, kReq, "/ref/alias", repeat('a', 33), "/ref/alias"},
        BadCase{"VersionZero", R, kReq, "/ref/version", 0, "/ref/version"},
        BadCase{"VersionString", R, kReq, "/ref/version", "3", "/ref/version: must be of type"},
        BadCase{"RefNeedsAliasOrVersion", R, kReq, "/ref/alias", std::nullopt,
                "/ref: needs alias or version"},
        BadCase{"RefNoExtra", R, kReq, "/ref/tenant", "x", "/ref/tenant: is not allowed"},
        BadCase{"TriggerTypeEnum", R, kReq, "/trigger/type", "webhook",
                "/trigger/type: must be one of \"http\", \"schedule\", \"cadence\", \"api\""},
        BadCase{"TriggerSourceObject", R, kReq, "/trigger/source", "gw",
                "/trigger/source: must be of type \"object\""},
        BadCase{"TriggerNoExtra", R, kReq, "/trigger/reply_to", "x",
                "/trigger/reply_to: is not allowed"},
        BadCase{"PrincipalSubEmpty", R, kReq, "/principal/sub", "", "/principal/sub"},
        BadCase{"PrincipalSubTooLong", R, kReq, "/principal/sub", repeat('s', 257),
                "/principal/sub"},
        BadCase{"PrincipalTooManyRoles", R, kReq, "/principal/roles",
                json(std::vector<std::string>(257, "r")), "/principal/roles"},
        BadCase{"PrincipalRoleType", R, kReq, "/principal/roles", json::array({5}),
                "/principal/roles/0: must be of type"},
        BadCase{"DeadlineZero", R, kReq, "/deadline_ms", 0, "/deadline_ms"},
        BadCase{"DeadlineNegative", R, kReq, "/deadline_ms", -5, "/deadline_ms"}),
    caseName);

constexpr auto S = Schema::InvocationResult;
const char* const kOk = "invocation_result_success.json";
const char* const kErr = "invocation_result_error.json";

INSTANTIATE_TEST_SUITE_P(
    InvocationResult, BadCaseTest,
    ::testing::Values(
        BadCase{"RequiredStatus", S, kOk, "/status", std::nullopt, "/status: is required"},
        BadCase{"RequiredDuration", S, kOk, "/duration_ms", std::nullopt,
                "/duration_ms: is required"},
        BadCase{"StatusEnum", S, kOk, "/status", "ok", "/status: must be one of"},
        BadCase{"DurationNegative", S, kOk, "/duration_ms", -1, "/duration_ms"},
        BadCase{"StatusCodeTooSmall", S, kOk, "/result/statusCode", 99, "/result/statusCode"},
        BadCase{"StatusCodeTooBig", S, kOk, "/result/statusCode", 600, "/result/statusCode"},
        BadCase{"HeaderValueNotString", S, kOk, "/result/headers/x-count", 3,
                "/result/headers/x-count: must be of type \"string\""},
        BadCase{"Base64FlagType", S, kOk, "/result/isBase64Encoded", "yes",
                "/result/isBase64Encoded"},
        BadCase{"ResultNoExtra", S, kOk, "/result/cookies", json::array(),
                "/result/cookies: is not allowed"},
        BadCase{"SuccessNeedsResult", S, kOk, "/result", std::nullopt, "/result: is required"},
        BadCase{"TimeoutNeedsError", S, kErr, "/error", std::nullopt, "/error: is required"},
        BadCase{"ErrorTypeEmpty", S, kErr, "/error/type", "", "/error/type"},
        BadCase{"ErrorTypeTooLong", S, kErr, "/error/type", repeat('T', 129), "/error/type"},
        BadCase{"ErrorMessageTooLong", S, kErr, "/error/message", repeat('m', 65537),
                "/error/message"},
        BadCase{"ErrorStackTooLong", S, kErr, "/error/stack", repeat('s', 8193),
                "/error/stack"},
        BadCase{"ErrorNoExtra", S, kErr, "/error/cause", "x", "/error/cause: is not allowed"},
        BadCase{"ActivationIdPattern", S, kOk, "/activation_id", "abc", "/activation_id"}),
    caseName);

constexpr auto E = Schema::Envelope;
const char* const kEnv = "envelope.json";

INSTANTIATE_TEST_SUITE_P(
    Envelope, BadCaseTest,
    ::testing::Values(
        BadCase{"ConstSchema", E, kEnv, "/schema", "cs.envelope.v2",
                "/schema: must be \"cs.envelope.v1\""},
        BadCase{"IdPattern", E, kEnv, "/id", "message-1", "/id: must match"},
        BadCase{"TsNegative", E, kEnv, "/ts_ms", -1, "/ts_ms"},
        BadCase{"RequiredBody", E, kEnv, "/body", std::nullopt, "/body: is required"},
        BadCase{"RequiredType", E, kEnv, "/type", std::nullopt, "/type: is required"},
        BadCase{"NoExtra", E, kEnv, "/headers", json::object(), "/headers: is not allowed"}),
    caseName);

constexpr auto C = Schema::ScheduleCreate;
const char* const kSch = "schedule_create.json";

INSTANTIATE_TEST_SUITE_P(
    ScheduleCreate, BadCaseTest,
    ::testing::Values(
        BadCase{"RequiredName", C, kSch, "/name", std::nullopt, "/name: is required"},
        BadCase{"RequiredEvery", C, kSch, "/every_seconds", std::nullopt,
                "/every_seconds: is required"},
        BadCase{"RequiredRef", C, kSch, "/ref", std::nullopt, "/ref: is required"},
        BadCase{"EveryZero", C, kSch, "/every_seconds", 0, "/every_seconds"},
        BadCase{"EveryTooBig", C, kSch, "/every_seconds", 86401,
                "/every_seconds: Expected number less than or equal to 86400"},
        BadCase{"EveryString", C, kSch, "/every_seconds", "60", "/every_seconds: must be of type"},
        BadCase{"OverlapEnum", C, kSch, "/overlap_policy", "drop",
                "/overlap_policy: must be one of \"skip\", \"queue\", \"parallel\""},
        BadCase{"NamePattern", C, kSch, "/name", "Nightly Report", "/name: must match"},
        BadCase{"NameTooShort", C, kSch, "/name", "ab", "/name"},
        BadCase{"RefBothAliasAndVersion", C, kSch, "/ref/version", 3,
                "/ref: needs exactly one of alias or version"},
        BadCase{"RefNeither", C, kSch, "/ref/alias", std::nullopt,
                "/ref: needs exactly one of alias or version"},
        BadCase{"RefNeedsFunction", C, kSch, "/ref/function", std::nullopt,
                "/ref/function: is required"},
        BadCase{"RefAliasPattern", C, kSch, "/ref/alias", "Prod", "/ref/alias: must match"},
        BadCase{"RefNoExtra", C, kSch, "/ref/namespace", "x", "/ref/namespace: is not allowed"},
        BadCase{"NoExtra", C, kSch, "/cron", "* * * * *", "/cron: is not allowed"},
        BadCase{"EnabledType", C, kSch, "/enabled", "yes", "/enabled: must be of type"}),
    caseName);

constexpr auto W = Schema::WorkerBindingCreate;
const char* const kWb = "worker_binding_create.json";

INSTANTIATE_TEST_SUITE_P(
    WorkerBindingCreate, BadCaseTest,
    ::testing::Values(
        BadCase{"RequiredName", W, kWb, "/name", std::nullopt, "/name: is required"},
        BadCase{"RequiredDomain", W, kWb, "/domain", std::nullopt, "/domain: is required"},
        BadCase{"RequiredTasklist", W, kWb, "/tasklist", std::nullopt, "/tasklist: is required"},
        BadCase{"RequiredWorkerId", W, kWb, "/worker_id", std::nullopt,
                "/worker_id: is required"},
        BadCase{"RequiredActivityMap", W, kWb, "/activity_map", std::nullopt,
                "/activity_map: is required"},
        BadCase{"DomainEmpty", W, kWb, "/domain", "", "/domain"},
        BadCase{"ActivityMapEmpty", W, kWb, "/activity_map", json::object(), "/activity_map"},
        BadCase{"ActivityNeedsFunction", W, kWb, "/activity_map/ChargeCard/function",
                std::nullopt, "/activity_map/ChargeCard/function: is required"},
        BadCase{"ActivityAliasAndVersion", W, kWb, "/activity_map/ChargeCard/version", 2,
                "/activity_map/ChargeCard: needs exactly one of alias or version"},
        BadCase{"ActivityNoExtra", W, kWb, "/activity_map/SendEmail/timeout", 5,
                "/activity_map/SendEmail/timeout: is not allowed"},
        BadCase{"ActivityNotObject", W, kWb, "/activity_map/SendEmail", "send-email@3",
                "/activity_map/SendEmail: must be of type \"object\""},
        BadCase{"PollersZero", W, kWb, "/pollers/activity", 0, "/pollers/activity"},
        BadCase{"PollersTooMany", W, kWb, "/pollers/activity", 257, "/pollers/activity"},
        BadCase{"PollersNoExtra", W, kWb, "/pollers/decision", 1,
                "/pollers/decision: is not allowed"},
        BadCase{"InflightZero", W, kWb, "/limits/max_inflight_tasks", 0,
                "/limits/max_inflight_tasks"},
        BadCase{"InflightTooBig", W, kWb, "/limits/max_inflight_tasks", 100001,
                "/limits/max_inflight_tasks"},
        BadCase{"EnabledType", W, kWb, "/enabled", 1, "/enabled: must be of type"},
        BadCase{"NoExtra", W, kWb, "/tenant", "t_acme01", "/tenant: is not allowed"}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    ApiBodies, BadCaseTest,
    ::testing::Values(
        BadCase{"FnNamePattern", Schema::FunctionCreate, "function_create.json", "/name",
                "1charge", "/name: must match"},
        BadCase{"FnRuntimeConst", Schema::FunctionCreate, "function_create.json", "/runtime",
                "python", "/runtime: must be \"cs-js\""},
        BadCase{"FnNoExtra", Schema::FunctionCreate, "function_create.json", "/owner", "me",
                "/owner: is not allowed"},
        BadCase{"PublishDraftPattern", Schema::Publish, "publish.json", "/draft_id", "draft-1",
                "/draft_id"},
        BadCase{"PublishRequiredDraft", Schema::Publish, "publish.json", "/draft_id",
                std::nullopt, "/draft_id: is required"},
        BadCase{"PublishTimeoutTooBig", Schema::Publish, "publish.json", "/config/timeout_ms",
                900001, "/config/timeout_ms"},
        BadCase{"PublishMemoryTooSmall", Schema::Publish, "publish.json", "/config/memory_mb",
                8, "/config/memory_mb"},
        BadCase{"PublishRolesType", Schema::Publish, "publish.json",
                "/config/authz/invoke_http_roles", "admin",
                "/config/authz/invoke_http_roles: must be of type \"array\""},
        BadCase{"PublishEnvValueType", Schema::Publish, "publish.json", "/config/env/LOG_LEVEL",
                3, "/config/env/LOG_LEVEL: must be of type \"string\""},
        BadCase{"PublishSecretRef", Schema::Publish, "publish.json",
                "/config/secrets/STRIPE_KEY", "vault:x", "/config/secrets/STRIPE_KEY"},
        BadCase{"PublishCapabilityChecked", Schema::Publish, "publish.json",
                "/config/capabilities/kv/ops", json::array({"scan"}),
                "/config/capabilities/kv/ops/0"},
        BadCase{"PublishConfigNoExtra", Schema::Publish, "publish.json", "/config/timeout", 5,
                "/config/timeout: is not allowed"},
        BadCase{"InvokeModeEnum", Schema::InvokeApi, "invoke_api.json", "/mode", "later",
                "/mode: must be one of \"sync\", \"async\""},
        BadCase{"InvokeRequiredRef", Schema::InvokeApi, "invoke_api.json", "/ref",
                std::nullopt, "/ref: is required"},
        BadCase{"InvokeRefBoth", Schema::InvokeApi, "invoke_api.json", "/ref/alias", "prod",
                "/ref: needs exactly one of alias or version"},
        BadCase{"InvokeRefNoFunction", Schema::InvokeApi, "invoke_api.json", "/ref/function",
                "charge", "/ref/function: is not allowed"}),
    caseName);

// --- fixtures that are invalid as files --------------------------------------------------------

TEST(ValidateTest, InvalidFixtureFiles) {
  Status timeout = validateManifest(fixture("manifest_bad_timeout.json"));
  ASSERT_FALSE(timeout.ok());
  EXPECT_EQ(timeout.error().code, ErrorCode::ValidationManifestInvalid);
  EXPECT_THAT(timeout.error().message, HasSubstr("/limits/timeoutMs"));

  Status extra = validateManifest(fixture("manifest_extra_field.json"));
  ASSERT_FALSE(extra.ok());
  EXPECT_THAT(extra.error().message, HasSubstr("/capabilities/kv/admin: is not allowed"));

  Status interval = validateScheduleCreate(fixture("schedule_create_bad_interval.json"));
  ASSERT_FALSE(interval.ok());
  EXPECT_EQ(interval.error().code, ErrorCode::ValidationFailed);
  EXPECT_THAT(interval.error().message, HasSubstr("/every_seconds"));
}

// --- behaviour beyond single rules -----------------------------------------------------------

TEST(ValidateTest, NamedWrappersMatchGenericValidate) {
  const json req = fixture("invocation_request.json");
  EXPECT_TRUE(validateInvocationRequest(req).ok());
  EXPECT_FALSE(validateInvocationResult(req).ok());
  EXPECT_FALSE(validateEnvelope(req).ok());
  EXPECT_FALSE(validateScheduleCreate(req).ok());
  EXPECT_FALSE(validateWorkerBindingCreate(req).ok());
  EXPECT_FALSE(validateFunctionCreate(req).ok());
  EXPECT_FALSE(validatePublish(req).ok());
  EXPECT_FALSE(validateInvokeApi(req).ok());
  EXPECT_TRUE(validateEnvelope(fixture("envelope.json")).ok());
  EXPECT_TRUE(validateInvocationResult(fixture("invocation_result_success.json")).ok());
  EXPECT_TRUE(validateScheduleCreate(fixture("schedule_create.json")).ok());
  EXPECT_TRUE(validateWorkerBindingCreate(fixture("worker_binding_create.json")).ok());
  EXPECT_TRUE(validateFunctionCreate(fixture("function_create.json")).ok());
  EXPECT_TRUE(validatePublish(fixture("publish.json")).ok());
  EXPECT_TRUE(validateInvokeApi(fixture("invoke_api.json")).ok());
}

TEST(ValidateTest, NonObjectDocumentsRejectedAtRoot) {
  for (Schema s : kAllSchemas) {
    for (const json& doc : {json::array(), json("x"), json(nullptr), json(3)}) {
      Status st = validate(s, doc);
      ASSERT_FALSE(st.ok()) << schemaName(s);
      EXPECT_THAT(st.error().message, HasSubstr("/: must be of type \"object\""));
    }
  }
}

TEST(ValidateTest, EventMayBeAnyJson) {
  json req = fixture("invocation_request.json");
  for (const json& event : {json(nullptr), json("text"), json::array({1, 2}), json(7)}) {
    req["event"] = event;
    EXPECT_TRUE(validateInvocationRequest(req).ok()) << event.dump();
  }
}

TEST(ValidateTest, RefMayCarryAliasAndVersionInMessages) {
  json req = fixture("invocation_request.json");
  req["ref"]["version"] = 7;  // alias resolved by the producer, both kept
  EXPECT_TRUE(validateInvocationRequest(req).ok());
  req["ref"].erase("alias");
  EXPECT_TRUE(validateInvocationRequest(req).ok());
}

TEST(ValidateTest, ResultTopLevelIsOpenButStatusDecidesWhatIsRequired) {
  json ok = fixture("invocation_result_success.json");
  ok["result_truncated"] = true;
  EXPECT_TRUE(validateInvocationResult(ok).ok());
  json err = fixture("invocation_result_error.json");
  err["status"] = "error";
  EXPECT_TRUE(validateInvocationResult(err).ok());
}

TEST(ValidateTest, OptionalFieldsMayBeOmitted) {
  EXPECT_TRUE(validateScheduleCreate(
                  json{{"name", "tick"}, {"every_seconds", 1}, {"ref", {{"function", "fnx"},
                                                                         {"version", 1}}}})
                  .ok());
  EXPECT_TRUE(validateWorkerBindingCreate(
                  json{{"name", "wbx"},
                       {"domain", "d"},
                       {"tasklist", "tl"},
                       {"worker_id", "w"},
                       {"activity_map", {{"A", {{"function", "fnx"}, {"alias", "prod"}}}}}})
                  .ok());
  EXPECT_TRUE(validatePublish(json{{"draft_id", "drf_abcdefgh"}}).ok());
  EXPECT_TRUE(validateInvokeApi(json{{"ref", {{"alias", "prod"}}}}).ok());
  EXPECT_TRUE(validateFunctionCreate(json{{"name", "fnx"}}).ok());
}

TEST(ValidateTest, ExplainedCombinatorHidesBranchNoiseButKeepsRealGaps) {
  json doc = fixture("schedule_create.json");
  doc["ref"] = json::object();
  Status s = validateScheduleCreate(doc);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("/ref/function: is required"));
  EXPECT_THAT(s.error().message, HasSubstr("/ref: needs exactly one of alias or version"));
  EXPECT_EQ(s.error().message.find("/ref/alias: is required"), std::string::npos)
      << s.error().message;
}

TEST(ValidateTest, SeveralProblemsAreListedDeepestFirst) {
  json doc = fixture("manifest_full.json");
  doc["limits"]["timeoutMs"] = 0;
  doc["runtime"] = "node";
  Status s = validateManifest(doc);
  ASSERT_FALSE(s.ok());
  const std::string& m = s.error().message;
  EXPECT_THAT(m, HasSubstr("/limits/timeoutMs"));
  EXPECT_THAT(m, HasSubstr("/runtime"));
  EXPECT_LT(m.find("/limits/timeoutMs"), m.find("/runtime"));
}

TEST(ValidateTest, HugePatternedStringsAreRejectedWithoutRegex) {
  // ~100k characters overflow libstdc++'s recursive std::regex; this must be an error value.
  json req = fixture("invocation_request.json");
  req["trigger"]["source"]["blob"] = repeat('x', 500000);  // no pattern here: accepted
  EXPECT_TRUE(validateInvocationRequest(req).ok());
  req["tenant"] = repeat('t', 500000);
  Status s = validateInvocationRequest(req);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("/tenant: String should be no more than 64"));

  json pub = fixture("publish.json");
  pub["config"]["env"][repeat('K', 300000)] = "v";
  Status p = validatePublish(pub);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("/config/env/KKKK"));
}

TEST(ValidateTest, ConcurrentValidationIsConsistent) {
  const json good = fixture("invocation_request.json");
  json bad = good;
  bad["trigger"]["type"] = "webhook";
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (!validateInvocationRequest(good).ok()) ++failures[t];
        Status s = validateInvocationRequest(bad);
        if (s.ok() || s.error().message.find("/trigger/type") == std::string::npos) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

// --- the embedded schemas --------------------------------------------------------------------

TEST(SchemaTest, EmbeddedTextEqualsSpecFiles) {
  for (Schema s : kAllSchemas) {
    const std::string path =
        std::string(CS_SOURCE_DIR) + "/spec/" + std::string(schemaName(s)) + ".schema.json";
    EXPECT_EQ(schemaText(s), readFile(path)) << path;
  }
}

// Walks a schema; every `pattern` must come with a maxLength (regex stack safety) and
// patternProperties is not used (keys would reach std::regex unbounded).
void checkPatternsBounded(const json& node, const std::string& where) {
  if (node.is_object()) {
    EXPECT_FALSE(node.contains("patternProperties")) << where;
    if (node.contains("pattern")) {
      EXPECT_TRUE(node.contains("maxLength")) << where << " has a pattern without maxLength";
    }
    for (const auto& [k, v] : node.items()) checkPatternsBounded(v, where + "/" + k);
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      checkPatternsBounded(node[i], where + "/" + std::to_string(i));
    }
  }
}

TEST(SchemaTest, DraftSevenAndPatternsBounded) {
  for (Schema s : kAllSchemas) {
    const json doc = json::parse(schemaText(s));
    EXPECT_EQ(doc.at("$schema"), "http://json-schema.org/draft-07/schema#") << schemaName(s);
    EXPECT_EQ(doc.at("type"), "object") << schemaName(s);
    checkPatternsBounded(doc, std::string(schemaName(s)));
  }
}

// The name patterns inside the API-body schemas agree with validateName (SPEC §3).
TEST(SchemaTest, BodyPatternsAgreeWithNameRules) {
  const std::vector<std::string> candidates = {
      "ab",      "abc",  "a-b",    "Abc",       "1abc",  "abc_def-9", "abc def",
      "p",       "pr",   "prod",   "prod.v1",   "x" + repeat('y', 62), "x" + repeat('y', 63),
      "x" + repeat('y', 31), "x" + repeat('y', 30), "é-abc", ""};
  for (const std::string& c : candidates) {
    json sched = fixture("schedule_create.json");
    sched["name"] = c;
    EXPECT_EQ(validateScheduleCreate(sched).ok(), isValidName(NameKind::Schedule, c)) << c;
    sched = fixture("schedule_create.json");
    sched["ref"]["function"] = c;
    EXPECT_EQ(validateScheduleCreate(sched).ok(), isValidName(NameKind::Function, c)) << c;
    json invoke = json{{"ref", {{"alias", c}}}};
    EXPECT_EQ(validateInvokeApi(invoke).ok(), isValidName(NameKind::Alias, c)) << c;
    json pub = json{{"draft_id", "drf_" + c}};
    EXPECT_EQ(validatePublish(pub).ok(), isValidName(NameKind::DraftId, "drf_" + c)) << c;
  }
}

// --- parseJson -------------------------------------------------------------------------------

TEST(ParseJsonTest, ParsesValidJson) {
  Result<json> r = parseJson(R"({"a":[1,2,{"b":"c"}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["a"][2]["b"], "c");
}

TEST(ParseJsonTest, RejectsBadJson) {
  for (const std::string text :
       {"", "{", "{\"a\":}", "[1,2", "{\"a\":1} trailing", "{'a':1}", "\"\xff\xfe\"", "NaN"}) {
    Result<json> r = parseJson(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, ErrorCode::ValidationFailed);
    EXPECT_THAT(r.error().message, HasSubstr("invalid JSON"));
  }
}

TEST(ParseJsonTest, RejectsDeepNestingButNotBracketsInStrings) {
  const std::string deep = repeat('[', kMaxJsonDepth + 1) + repeat(']', kMaxJsonDepth + 1);
  Result<json> r = parseJson(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("nesting"));
  const std::string ok = repeat('[', kMaxJsonDepth) + repeat(']', kMaxJsonDepth);
  EXPECT_TRUE(parseJson(ok).ok());
  EXPECT_TRUE(parseJson("{\"s\":\"" + repeat('[', 1000) + "\\\"\"}").ok());
}

}  // namespace
}  // namespace cs::api
