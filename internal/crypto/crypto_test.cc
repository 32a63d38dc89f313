#include "internal/crypto/crypto.h"

#include <gtest/gtest.h>

#include <vector>

namespace cs::crypto {
namespace {

TEST(Crypto, Sha256KnownVector) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, HmacKnownVector) {
  // RFC 4231 test case 2.
  EXPECT_EQ(base64Encode(hmacSha256("Jefe", "what do ya want for nothing?")),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
}

TEST(Crypto, Base64RoundTripAndStrictness) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)}) {
    auto d = base64Decode(base64Encode(s));
    ASSERT_TRUE(d) << s;
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(base64Decode("Zm9vYmF"));    // bad length
  EXPECT_FALSE(base64Decode("Zm9v YmFy"));  // whitespace
  EXPECT_FALSE(base64Decode("Zm=vYmFy"));   // '=' inside
  EXPECT_FALSE(base64Decode("Zm9v$mFy"));
}

TEST(Crypto, Base64Url) {
  std::string s("\xfb\xff\xfe", 3);
  EXPECT_EQ(base64UrlEncode(s), "-__-");
  EXPECT_EQ(*base64UrlDecode("-__-"), s);
  EXPECT_EQ(*base64UrlDecode("Zm8"), "fo");
  EXPECT_FALSE(base64UrlDecode("Zm8="));
}

TEST(Crypto, Uuids) {
  auto a = uuidV4();
  EXPECT_TRUE(isUuid(a));
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(a, uuidV4());
  // RFC 4122 appendix-style vector: DNS namespace, "python.org".
  EXPECT_EQ(uuidV5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  EXPECT_FALSE(isUuid("not-a-uuid"));
  EXPECT_EQ(randomHex(8).size(), 16u);
}

}  // namespace
}  // namespace cs::crypto
