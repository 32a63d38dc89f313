#include "internal/fetch/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

namespace cs::fetch {
namespace {

std::optional<std::string> blockedText(const std::string& ip) {
  if (ip.find(':') != std::string::npos) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, ip.c_str(), &sa.sin6_addr), 1) << ip;
    return blockedRange(reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  EXPECT_EQ(inet_pton(AF_INET, ip.c_str(), &sa.sin_addr), 1) << ip;
  return blockedRange(reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
}

TEST(FetchAddressTest, BlocksEveryPrivateAndReservedRange) {
  for (const char* ip :
       {"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255",
        "127.0.0.1", "127.255.0.1", "169.254.169.254", "172.16.0.1", "172.31.255.255",
        "192.0.0.8", "192.0.2.1", "192.168.1.1", "198.18.0.1", "198.19.255.255", "198.51.100.7",
        "203.0.113.9", "224.0.0.1", "239.255.255.255", "240.0.0.1", "255.255.255.255", "::",
        "::1", "fc00::1", "fdff::1", "fe80::1", "febf::1", "ff02::1", "::ffff:127.0.0.1",
        "::ffff:169.254.169.254", "::ffff:10.1.2.3", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
        "2001:db8::1", "::127.0.0.1", "2002:7f00:1::1", "fec0::1"}) {
    EXPECT_TRUE(blockedText(ip).has_value()) << ip << " should be blocked";
  }
}

TEST(FetchAddressTest, AllowsPublicAddresses) {
  for (const char* ip : {"1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.0",
                         "172.15.255.255", "172.32.0.0", "192.0.1.1", "192.169.0.1",
                         "198.17.255.255", "198.20.0.0", "223.255.255.255", "2606:4700::1111",
                         "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808",
                         "2002:808:808::1"}) {
    EXPECT_FALSE(blockedText(ip).has_value()) << ip << " should be allowed: " << *blockedText(ip);
  }
}

TEST(FetchAddressTest, EmbeddedIpv4IsNamedInTheReason) {
  auto r = blockedText("::ffff:127.0.0.1");
  ASSERT_TRUE(r);
  EXPECT_NE(r->find("127.0.0.0/8"), std::string::npos) << *r;
}

TEST(FetchAddressTest, NonIpFamiliesAreBlocked) {
  sockaddr sa{};
  sa.sa_family = AF_UNIX;
  EXPECT_TRUE(blockedRange(&sa, sizeof(sa)).has_value());
  EXPECT_TRUE(blockedRange(nullptr, 0).has_value());
  sockaddr_in in{};
  in.sin_family = AF_INET;
  EXPECT_TRUE(blockedRange(reinterpret_cast<sockaddr*>(&in), 4).has_value());  // short length
}

TEST(FetchAddressTest, ParsesEveryInetAtonSpelling) {
  const uint32_t loop = 0x7f000001;
  EXPECT_EQ(parseNumericIpv4("127.0.0.1"), loop);
  EXPECT_EQ(parseNumericIpv4("2130706433"), loop);
  EXPECT_EQ(parseNumericIpv4("0x7f000001"), loop);
  EXPECT_EQ(parseNumericIpv4("0X7F000001"), loop);
  EXPECT_EQ(parseNumericIpv4("0177.0.0.1"), loop);
  EXPECT_EQ(parseNumericIpv4("127.1"), loop);
  EXPECT_EQ(parseNumericIpv4("0x7f.1"), loop);
  EXPECT_EQ(parseNumericIpv4("127.0.1"), loop);
  EXPECT_EQ(parseNumericIpv4("127.0.0.1."), loop);
  EXPECT_EQ(parseNumericIpv4("017700000001"), loop);
  EXPECT_EQ(parseNumericIpv4("0xa9.0xfe.0xa9.0xfe"), 0xa9fea9feu);
  EXPECT_FALSE(parseNumericIpv4("example.com"));
  EXPECT_FALSE(parseNumericIpv4("1.2.3.4.5"));
  EXPECT_FALSE(parseNumericIpv4("256.1.1.1"));
  EXPECT_FALSE(parseNumericIpv4("1.2.3.256"));
  EXPECT_FALSE(parseNumericIpv4("4294967296"));
  EXPECT_FALSE(parseNumericIpv4("08.1.1.1"));
  EXPECT_FALSE(parseNumericIpv4(""));
  EXPECT_FALSE(parseNumericIpv4("1..2"));
  EXPECT_TRUE(looksNumericIpv4("999.1.1.1"));
  EXPECT_TRUE(looksNumericIpv4("a.0x1f"));
  EXPECT_FALSE(looksNumericIpv4("api.example.com"));
  EXPECT_FALSE(looksNumericIpv4("1.2.3.com"));
}

TEST(FetchAddressTest, CanonicalHost) {
  EXPECT_EQ(canonicalHost("API.Example.COM."), "api.example.com");
  EXPECT_EQ(canonicalHost("[::1]"), "::1");
  EXPECT_EQ(canonicalHost("[0:0:0:0:0:0:0:1]"), "::1");
  EXPECT_EQ(canonicalHost("0x7f000001"), "127.0.0.1");
  EXPECT_EQ(canonicalHost("[::FFFF:127.0.0.1]"), "::ffff:127.0.0.1");
}

TEST(FetchAddressTest, AllowHostsExactAndWildcard) {
  std::vector<std::string> allow = {"api.example.com", "*.svc.example.org", "2130706433"};
  EXPECT_TRUE(hostAllowed("api.example.com", allow));
  EXPECT_TRUE(hostAllowed("API.EXAMPLE.COM", allow));
  EXPECT_TRUE(hostAllowed("api.example.com.", allow));
  EXPECT_FALSE(hostAllowed("example.com", allow));
  EXPECT_FALSE(hostAllowed("evilapi.example.com", allow));
  EXPECT_FALSE(hostAllowed("api.example.com.evil.net", allow));
  EXPECT_TRUE(hostAllowed("a.svc.example.org", allow));
  EXPECT_TRUE(hostAllowed("a.b.svc.example.org", allow));
  EXPECT_FALSE(hostAllowed("svc.example.org", allow));
  EXPECT_FALSE(hostAllowed("xsvc.example.org", allow));
  EXPECT_TRUE(hostAllowed("127.0.0.1", allow));  // numeric spellings compare canonically
  EXPECT_FALSE(hostAllowed("anything", {}));
  EXPECT_FALSE(hostAllowed("", {"*."}));
  EXPECT_FALSE(hostAllowed("x.", {"*."}));
}

}  // namespace
}  // namespace cs::fetch
