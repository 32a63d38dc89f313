#include "internal/errors/errors.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace cs {
namespace {

// The expected mapping, written out independently of the catalog: every row is checked.
const std::map<std::string, int> kExpected = {
    {"CS_AUTHN_MISSING_TOKEN", 401},      {"CS_AUTHN_INVALID_TOKEN", 401},
    {"CS_AUTHN_EXPIRED_TOKEN", 401},      {"CS_AUTHZ_DENIED", 403},
    {"CS_AUTHZ_ROLE_MISSING", 403},       {"CS_AUTHZ_RESOURCE_MISMATCH", 403},
    {"CS_VALIDATION_FAILED", 400},        {"CS_VALIDATION_MANIFEST_INVALID", 400},
    {"CS_VALIDATION_BUNDLE_TOO_LARGE", 400}, {"CS_VALIDATION_NAME_INVALID", 400},
    {"CS_NOT_FOUND", 404},                {"CS_CONFLICT", 409},
    {"CS_RATE_LIMITED", 429},             {"CS_PAYLOAD_TOO_LARGE", 413},
    {"CS_HEADERS_TOO_LARGE", 431},        {"CS_KVROCKS_UNAVAILABLE", 503},
    {"CS_KVROCKS_WRITE_FAILED", 500},     {"CS_KVROCKS_READ_FAILED", 500},
    {"CS_KVROCKS_CAS_FAILED", 500},       {"CS_CODEQ_PUBLISH_FAILED", 500},
    {"CS_CODEQ_SUBSCRIBE_FAILED", 500},   {"CS_CODEQ_CORRELATION_TIMEOUT", 504},
    {"CS_CODEQ_UNAVAILABLE", 503},        {"CS_RUNTIME_TIMEOUT", 504},
    {"CS_RUNTIME_MEMORY_LIMIT", 502},     {"CS_RUNTIME_EXCEPTION", 502},
    {"CS_RUNTIME_CAPABILITY_DENIED", 502}, {"CS_CADENCE_POLL_FAILED", 500},
    {"CS_CADENCE_RESPOND_FAILED", 500},   {"CS_CADENCE_HEARTBEAT_FAILED", 500},
    {"CS_SCHEDULER_STATE_WRITE_FAILED", 500}, {"CS_INTERNAL", 500},
};

TEST(ErrorCatalog, EveryRowMapsToItsHttpStatus) {
  ASSERT_EQ(errorCatalog().size(), kExpected.size());
  for (const auto& [name, status] : kExpected) {
    auto code = errorCodeFromName(name);
    ASSERT_TRUE(code.has_value()) << name;
    EXPECT_EQ(httpStatus(*code), status) << name;
    EXPECT_EQ(errorCodeName(*code), name);
  }
}

TEST(ErrorCatalog, RowsAreInEnumOrderAndUnique) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < errorCatalog().size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(errorCatalog()[i].code), i);
    EXPECT_TRUE(names.insert(errorCatalog()[i].name).second) << errorCatalog()[i].name;
  }
}

TEST(ErrorCatalog, UnavailableCodesAre503) {
  for (const auto& row : errorCatalog()) {
    if (row.name.ends_with("_UNAVAILABLE")) {
      EXPECT_EQ(row.httpStatus, 503) << row.name;
    }
  }
}

TEST(ErrorCatalog, UnknownNameIsRejected) { EXPECT_FALSE(errorCodeFromName("CS_NOPE")); }

TEST(ErrorBody, HasTheSpecShape) {
  auto body = nlohmann::json::parse(
      errorBody(Error{ErrorCode::AuthzRoleMissing, "role \"x\" missing"}, "req_12345678"));
  ASSERT_TRUE(body.contains("error"));
  EXPECT_EQ(body.size(), 1u);
  EXPECT_EQ(body["error"]["code"], "CS_AUTHZ_ROLE_MISSING");
  EXPECT_EQ(body["error"]["message"], "role \"x\" missing");
  EXPECT_EQ(body["error"]["request_id"], "req_12345678");
  EXPECT_EQ(body["error"].size(), 3u);
}

TEST(ErrorBody, InvalidUtf8InMessageStillEncodes) {
  auto text = errorBody(Error{ErrorCode::ValidationFailed, std::string("bad \xff byte")}, "req_1");
  auto parsed = nlohmann::json::parse(text);
  EXPECT_EQ(parsed["error"]["code"], "CS_VALIDATION_FAILED");
}

TEST(Result, CarriesValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Error{ErrorCode::NotFound, "nope"};
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().status(), 404);
  EXPECT_EQ(bad.error().name(), "CS_NOT_FOUND");
}

}  // namespace
}  // namespace cs
