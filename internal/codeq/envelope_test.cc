#include "internal/codeq/envelope.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "internal/crypto/crypto.h"

namespace cs::codeq {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json invocationRequest() {
  return {{"activation_id", crypto::uuidV4()},
          {"request_id", "req_12345678"},
          {"tenant", "t_acme"},
          {"namespace", "default"},
          {"ref", {{"function", "hello"}, {"alias", "live"}}},
          {"trigger", {{"type", "http"}, {"source", {{"route", "/hello"}}}}},
          {"principal", {{"sub", "user-1"}, {"roles", json::array()}}},
          {"deadline_ms", 1'700'000'000'000},
          {"event", nullptr}};
}

json invocationResult() {
  return {{"activation_id", crypto::uuidV4()},
          {"request_id", "req_12345678"},
          {"status", "success"},
          {"duration_ms", 12},
          {"result", {{"statusCode", 200}, {"body", "hi"}}}};
}

json envelopeJson(const std::string& type, json body) {
  return {{"schema", "cs.envelope.v1"}, {"id", "msg_abc"},  {"ts_ms", 5},
          {"tenant", "t_acme"},         {"type", type},     {"body", std::move(body)}};
}

Error decodeError(const std::string& text) {
  Result<Envelope> r = decode(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? Error{ErrorCode::Internal, "decoded"} : r.error();
}

TEST(EnvelopeTest, MakeEnvelopeHasAFreshIdAndTimestamp) {
  Envelope a = makeEnvelope("t_acme", std::string(kTypeInvoke), invocationRequest());
  Envelope b = makeEnvelope("t_acme", std::string(kTypeInvoke), invocationRequest());
  EXPECT_TRUE(std::regex_match(a.id, std::regex("msg_[0-9a-f]{32}"))) << a.id;
  EXPECT_NE(a.id, b.id);
  EXPECT_GT(a.tsMs, 1'600'000'000'000);
  EXPECT_EQ(a.tenant, "t_acme");
  EXPECT_EQ(a.type, kTypeInvoke);
  EXPECT_TRUE(validate(a).ok());
}

TEST(EnvelopeTest, EncodeDecodeRoundTrip) {
  for (auto [type, body] : {std::pair<std::string, json>{std::string(kTypeInvoke),
                                                         invocationRequest()},
                            {std::string(kTypeResult), invocationResult()},
                            {"cs.cadence.heartbeat.v1", json{{"anything", {1, 2}}}}}) {
    Envelope e = makeEnvelope("t_acme", type, body);
    std::string bytes = encode(e);
    json wire = json::parse(bytes);
    EXPECT_EQ(wire["schema"], "cs.envelope.v1");
    EXPECT_EQ(wire["ts_ms"], e.tsMs);
    Result<Envelope> back = decode(bytes);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->id, e.id);
    EXPECT_EQ(back->tsMs, e.tsMs);
    EXPECT_EQ(back->tenant, e.tenant);
    EXPECT_EQ(back->type, e.type);
    EXPECT_EQ(back->body, e.body);
  }
}

TEST(EnvelopeTest, DecodeRejectsNonJson) {
  for (std::string text : {"", "not json", "{", "[]", "null", "\xff"}) {
    EXPECT_EQ(decodeError(text).code, ErrorCode::ValidationFailed) << text;
  }
}

TEST(EnvelopeTest, DecodeNamesTheBadEnvelopeField) {
  json e = envelopeJson("cs.other.v1", 1);
  e["schema"] = "cs.envelope.v2";
  EXPECT_THAT(decodeError(e.dump()).message, HasSubstr("/schema"));
  e = envelopeJson("cs.other.v1", 1);
  e["id"] = "nope";
  EXPECT_THAT(decodeError(e.dump()).message, HasSubstr("/id"));
  e = envelopeJson("cs.other.v1", 1);
  e.erase("tenant");
  EXPECT_THAT(decodeError(e.dump()).message, HasSubstr("tenant"));
  e = envelopeJson("cs.other.v1", 1);
  e["ts_ms"] = -1;
  EXPECT_THAT(decodeError(e.dump()).message, HasSubstr("/ts_ms"));
  e = envelopeJson("cs.other.v1", 1);
  e["extra"] = true;
  EXPECT_THAT(decodeError(e.dump()).message, HasSubstr("extra"));
  e = envelopeJson("cs.other.v1", 1);
  e.erase("body");
  EXPECT_THAT(decodeError(e.dump()).message, HasSubstr("body"));
}

TEST(EnvelopeTest, DecodeRejectsTimestampBeyondInt64) {
  std::string text = envelopeJson("cs.other.v1", 1).dump();
  text.replace(text.find("\"ts_ms\":5"), 9, "\"ts_ms\":18446744073709551615");
  Error err = decodeError(text);
  EXPECT_EQ(err.code, ErrorCode::ValidationFailed);
  EXPECT_THAT(err.message, HasSubstr("ts_ms"));
}

TEST(EnvelopeTest, DecodeValidatesInvokeBody) {
  json body = invocationRequest();
  body["request_id"] = "short";
  Error err = decodeError(envelopeJson(std::string(kTypeInvoke), body).dump());
  EXPECT_EQ(err.code, ErrorCode::ValidationFailed);
  EXPECT_THAT(err.message, HasSubstr("body"));
  EXPECT_THAT(err.message, HasSubstr("/request_id"));

  body = invocationRequest();
  body["surprise"] = 1;
  EXPECT_THAT(decodeError(envelopeJson(std::string(kTypeInvoke), body).dump()).message,
              HasSubstr("surprise"));
}

TEST(EnvelopeTest, OnlyDecodeMarksAKnownBodyAsChecked) {
  auto decoded = decode(envelopeJson(std::string(kTypeInvoke), invocationRequest()).dump());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_TRUE(decoded->bodyChecked);
  EXPECT_FALSE(makeEnvelope("t_acme01", std::string(kTypeInvoke), invocationRequest()).bodyChecked);
  auto unknown = decode(envelopeJson("x.custom.v1", json{{"anything", 1}}).dump());
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->bodyChecked) << "an unknown type's body was not validated";
}

TEST(EnvelopeTest, DecodeValidatesResultBody) {
  json body = invocationResult();
  body["status"] = "maybe";
  EXPECT_THAT(decodeError(envelopeJson(std::string(kTypeResult), body).dump()).message,
              HasSubstr("/status"));
  body = invocationResult();
  body.erase("result");  // success requires result
  EXPECT_EQ(decodeError(envelopeJson(std::string(kTypeResult), body).dump()).code,
            ErrorCode::ValidationFailed);
}

TEST(EnvelopeTest, UnknownTypeKeepsBodyUnvalidated) {
  for (json body : {json(nullptr), json("text"), json::array({1, 2}), json{{"x", {{"y", 1}}}}}) {
    Result<Envelope> r = decode(envelopeJson("cs.future.v9", body).dump());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body, body);
  }
}

TEST(EnvelopeTest, ValidateChecksAnEnvelopeInHand) {
  Envelope e = makeEnvelope("t acme", "cs.other.v1", 1);
  EXPECT_THAT(validate(e).error().message, HasSubstr("/tenant"));
  e = makeEnvelope("t_acme", "Bad Type", 1);
  EXPECT_THAT(validate(e).error().message, HasSubstr("/type"));
  e = makeEnvelope("t_acme", std::string(kTypeResult), json{{"status", "success"}});
  EXPECT_EQ(validate(e).error().code, ErrorCode::ValidationFailed);
}

TEST(EnvelopeTest, EncodeNeverThrowsOnInvalidUtf8) {
  Envelope e = makeEnvelope("t_acme", "cs.other.v1", json{{"s", std::string("a\xff" "b")}});
  std::string bytes;
  EXPECT_NO_THROW(bytes = encode(e));
  Result<Envelope> back = decode(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_NE(back->body["s"].get<std::string>(), "a\xff" "b");
}

}  // namespace
}  // namespace cs::codeq
