#include "internal/api/names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cs::api {
namespace {

using ::testing::HasSubstr;

struct NameCase {
  NameKind kind;
  std::vector<std::string> good;
  std::vector<std::string> bad;
};

const std::vector<NameCase>& cases() {
  static const std::vector<NameCase> kCases = {
      {NameKind::Tenant,
       {"t_abc123", "t_000000", "t_" + std::string(32, 'z')},
       {"", "t_abc12", "t_" + std::string(33, 'a'), "t_ABC123", "T_abc123", "x_abc123",
        "t-abc123", "t_abc-123", "t_abc123 "}},
      {NameKind::Namespace,
       {"abc", "payments", "a-b_c9", "a" + std::string(63, 'b')},
       {"", "ab", "1abc", "_abc", "-abc", "Abc", "ab c", "a" + std::string(64, 'b'), "abc.d"}},
      {NameKind::Function,
       {"fnx", "send-email", "charge_v2"},
       {"fn", "Fn1", "fn/x", "fn:x", "f\xc3\xa9x"}},
      {NameKind::Alias,
       {"pr", "prod", "v2-canary", "a" + std::string(31, 'b')},
       {"", "p", "1prod", "Prod", "a" + std::string(32, 'b'), "pr od"}},
      {NameKind::RequestId,
       {"req_abcd", "req_01HZX9ABCDEF", "req_" + std::string(60, 'x'), "req_a-b_C"},
       {"", "req_abc", "req_" + std::string(61, 'x'), "abcdefgh", "REQ_abcd", "req_ab.cd",
        "req_ab cd"}},
      {NameKind::DraftId,
       {"drf_abcdefgh", "drf_5f1c9a7e-2b4d", "drf_" + std::string(60, '0')},
       {"", "drf_abcdefg", "draft_abcdefgh", "drf_abc/defgh", "drf_" + std::string(61, '0')}},
      {NameKind::Schedule, {"nightly-report"}, {"Nightly"}},
      {NameKind::WorkerBinding, {"orders-worker"}, {"o"}},
      {NameKind::ActivationId,
       {"3f2b8c1e-9a4d-4e21-8b7a-0c5d6e7f8a9b", "3f2b8c1e-9a4d-5e21-9b7a-0c5d6e7f8a9b"},
       {"", "3F2B8C1E-9A4D-4E21-8B7A-0C5D6E7F8A9B", "3f2b8c1e9a4d4e218b7a0c5d6e7f8a9b",
        "3f2b8c1e-9a4d-0e21-8b7a-0c5d6e7f8a9b", "3f2b8c1e-9a4d-4e21-cb7a-0c5d6e7f8a9b",
        "3f2b8c1e-9a4d-4e21-8b7a-0c5d6e7f8a9"}},
  };
  return kCases;
}

TEST(NamesTest, GoodNamesPass) {
  for (const NameCase& c : cases()) {
    for (const std::string& name : c.good) {
      Status s = validateName(c.kind, name);
      EXPECT_TRUE(s.ok()) << nameKindLabel(c.kind) << " '" << name << "'";
      EXPECT_TRUE(isValidName(c.kind, name));
    }
  }
}

TEST(NamesTest, BadNamesFailNamingKindAndValue) {
  for (const NameCase& c : cases()) {
    for (const std::string& name : c.bad) {
      Status s = validateName(c.kind, name);
      ASSERT_FALSE(s.ok()) << nameKindLabel(c.kind) << " '" << name << "'";
      EXPECT_EQ(s.error().code, ErrorCode::ValidationNameInvalid);
      EXPECT_EQ(s.error().name(), "CS_VALIDATION_NAME_INVALID");
      EXPECT_THAT(s.error().message, HasSubstr(std::string(nameKindLabel(c.kind))));
      if (!name.empty() && name.size() <= 80 && name.find('\xc3') == std::string::npos) {
        EXPECT_THAT(s.error().message, HasSubstr(name));
      }
      EXPECT_FALSE(isValidName(c.kind, name));
    }
  }
}

TEST(NamesTest, MessageIsBoundedAndEscaped) {
  const std::string hostile = std::string(10000, 'A') + "\"\n";
  Status s = validateName(NameKind::Tenant, hostile);
  ASSERT_FALSE(s.ok());
  EXPECT_LT(s.error().message.size(), 300u);
  EXPECT_EQ(s.error().message.find('\n'), std::string::npos);
  Status ctl = validateName(NameKind::Alias, std::string("a\x01\"b"));
  ASSERT_FALSE(ctl.ok());
  EXPECT_THAT(ctl.error().message, HasSubstr("a\\x01\\\"b"));
}

TEST(NamesTest, LabelsMatchSpecVocabulary) {
  EXPECT_EQ(nameKindLabel(NameKind::Tenant), "tenant");
  EXPECT_EQ(nameKindLabel(NameKind::Namespace), "namespace");
  EXPECT_EQ(nameKindLabel(NameKind::Function), "function");
  EXPECT_EQ(nameKindLabel(NameKind::Alias), "alias");
  EXPECT_EQ(nameKindLabel(NameKind::RequestId), "request_id");
  EXPECT_EQ(nameKindLabel(NameKind::DraftId), "draft_id");
}

TEST(NamesTest, ParseVersion) {
  EXPECT_EQ(parseVersion("1"), 1);
  EXPECT_EQ(parseVersion("42"), 42);
  EXPECT_EQ(parseVersion("9007199254740991"), 9007199254740991);
  for (const char* bad : {"", "0", "01", "-1", "+1", "1.0", "1e3", "prod", "9007199254740992",
                          "99999999999999999999", " 1"}) {
    EXPECT_FALSE(parseVersion(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace cs::api
