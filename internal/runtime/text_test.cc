#include "internal/runtime/text.h"

#include <gtest/gtest.h>

namespace cs::runtime {
namespace {

TEST(Text, TruncateUtf8NeverSplitsASequence) {
  EXPECT_EQ(truncateUtf8("abc", 10), "abc");
  EXPECT_EQ(truncateUtf8("abc", 2), "ab");
  EXPECT_EQ(truncateUtf8("a€", 3), "a");  // € is 3 bytes
  EXPECT_EQ(truncateUtf8("a€", 4), "a€");
}

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(isValidUtf8("héllo €𝄞"));
  EXPECT_FALSE(isValidUtf8("\xff"));
  EXPECT_FALSE(isValidUtf8("\xc3"));          // truncated
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));  // surrogate
}

TEST(Text, ForgivingBase64) {
  EXPECT_EQ(*forgivingBase64Decode("aGVsbG8="), "hello");
  EXPECT_EQ(*forgivingBase64Decode("aGVsbG8"), "hello");
  EXPECT_EQ(*forgivingBase64Decode(" aGVs\nbG8= "), "hello");
  EXPECT_FALSE(forgivingBase64Decode("a"));
  EXPECT_FALSE(forgivingBase64Decode("aGVs*G8="));
}

TEST(Text, BundlePathResolution) {
  EXPECT_EQ(*resolveBundlePath("function.js", "./lib/a.js"), "lib/a.js");
  EXPECT_EQ(*resolveBundlePath("lib/a.js", "../b.js"), "b.js");
  EXPECT_EQ(*resolveBundlePath("lib/a.js", "/c.js"), "c.js");
  EXPECT_FALSE(resolveBundlePath("function.js", "../x.js"));
  EXPECT_FALSE(resolveBundlePath("function.js", "fs"));
  EXPECT_FALSE(resolveBundlePath("function.js", "node:fs"));
  EXPECT_FALSE(resolveBundlePath("function.js", "https://x/y.js"));
  EXPECT_FALSE(resolveBundlePath("function.js", "./a.js?x"));
}

TEST(Text, Redaction) {
  std::string s = "token=abcd1234 and abcd1234";
  redact(s, "abcd1234");
  EXPECT_EQ(s, "token=[REDACTED] and [REDACTED]");
  std::string short_ = "abc";
  redact(short_, "ab");
  EXPECT_EQ(short_, "abc");
}

}  // namespace
}  // namespace cs::runtime
