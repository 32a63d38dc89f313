#include "internal/fetch/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace cs::fetch {
namespace {

struct RangeV4 {
  uint32_t base;
  int prefix;
  const char* name;
};

constexpr uint32_t ip4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

constexpr RangeV4 kBlockedV4[] = {
    {ip4(0, 0, 0, 0), 8, "0.0.0.0/8 (this network)"},
    {ip4(10, 0, 0, 0), 8, "10.0.0.0/8 (private)"},
    {ip4(100, 64, 0, 0), 10, "100.64.0.0/10 (carrier-grade NAT)"},
    {ip4(127, 0, 0, 0), 8, "127.0.0.0/8 (loopback)"},
    {ip4(169, 254, 0, 0), 16, "169.254.0.0/16 (link-local, cloud metadata)"},
    {ip4(172, 16, 0, 0), 12, "172.16.0.0/12 (private)"},
    {ip4(192, 0, 0, 0), 24, "192.0.0.0/24 (IETF protocol assignments)"},
    {ip4(192, 0, 2, 0), 24, "192.0.2.0/24 (TEST-NET-1)"},
    {ip4(192, 168, 0, 0), 16, "192.168.0.0/16 (private)"},
    {ip4(198, 18, 0, 0), 15, "198.18.0.0/15 (benchmarking)"},
    {ip4(198, 51, 100, 0), 24, "198.51.100.0/24 (TEST-NET-2)"},
    {ip4(203, 0, 113, 0), 24, "203.0.113.0/24 (TEST-NET-3)"},
    {ip4(224, 0, 0, 0), 4, "224.0.0.0/4 (multicast)"},
    {ip4(255, 255, 255, 255), 32, "255.255.255.255 (broadcast)"},
    {ip4(240, 0, 0, 0), 4, "240.0.0.0/4 (reserved)"},
};

struct RangeV6 {
  uint8_t base[16];
  int prefix;
  const char* name;
};

// Ranges blocked outright. The mapped/NAT64/6to4 forms are handled before this table.
const RangeV6 kBlockedV6[] = {
    {{0}, 128, ":: (unspecified)"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "::1 (loopback)"},
    {{0}, 96, "::/96 (IPv4-compatible, deprecated)"},
    {{0xfc}, 7, "fc00::/7 (unique local)"},
    {{0xfe, 0x80}, 10, "fe80::/10 (link-local)"},
    {{0xfe, 0xc0}, 10, "fec0::/10 (site-local, deprecated)"},
    {{0xff}, 8, "ff00::/8 (multicast)"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "2001:db8::/32 (documentation)"},
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "64:ff9b:1::/48 (local-use NAT64)"},
    {{0x01, 0x00, 0, 0, 0, 0, 0, 0}, 64, "100::/64 (discard)"},
    {{0x20, 0x01, 0x00, 0x00}, 32, "2001::/32 (Teredo)"},
    {{0x20, 0x01, 0x00, 0x10}, 28, "2001:10::/28 (ORCHID)"},
};

bool prefixMatches(const uint8_t* addr, const uint8_t* base, int prefix) {
  int full = prefix / 8;
  if (std::memcmp(addr, base, static_cast<size_t>(full)) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (addr[full] & mask) == (base[full] & mask);
}

uint32_t v4At(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::optional<std::string> embedded(const char* what, uint32_t v4) {
  auto inner = blockedRangeV4(v4);
  if (!inner) return std::nullopt;
  return std::string(what) + " of " + formatIpv4(v4) + " in " + *inner;
}

// One inet_aton part: decimal, 0x-hex or 0-octal. nullopt on anything else or overflow.
std::optional<uint64_t> parsePart(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int base = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
    if (s.empty()) return uint64_t{0};  // "0x" is 0 in WHATWG and curl
  } else if (s.size() >= 2 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  uint64_t value = 0;
  for (char c : s) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (base == 16 && std::isxdigit(static_cast<unsigned char>(c))) {
      digit = std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    } else {
      return std::nullopt;
    }
    if (digit >= base) return std::nullopt;
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(digit);
    if (value > 0xffffffffULL) return std::nullopt;
  }
  return value;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<std::string> blockedRangeV4(uint32_t hostOrder) {
  for (const auto& r : kBlockedV4) {
    uint32_t mask = r.prefix == 0 ? 0 : ~uint32_t{0} << (32 - r.prefix);
    if ((hostOrder & mask) == (r.base & mask)) return std::string(r.name);
  }
  return std::nullopt;
}

std::optional<std::string> blockedRangeV6(const uint8_t (&b)[16]) {
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, kMapped, 12) == 0) return embedded("IPv4-mapped address", v4At(b + 12));
  if (std::memcmp(b, kNat64, 12) == 0) return embedded("NAT64 address", v4At(b + 12));
  if (b[0] == 0x20 && b[1] == 0x02) return embedded("6to4 address", v4At(b + 2));
  for (const auto& r : kBlockedV6) {
    if (prefixMatches(b, r.base, r.prefix)) return std::string(r.name);
  }
  return std::nullopt;
}

std::optional<std::string> blockedRange(const sockaddr* address, socklen_t length) {
  if (address == nullptr) return std::string("no address");
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return blockedRangeV4(ntohl(in->sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    uint8_t bytes[16];
    std::memcpy(bytes, in6->sin6_addr.s6_addr, 16);
    return blockedRangeV6(bytes);
  }
  return std::string("address family ") + std::to_string(address->sa_family) + " (not IP)";
}

bool isLoopback(const sockaddr* address, socklen_t length) {
  if (address == nullptr) return false;
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

std::optional<uint32_t> parseNumericIpv4(std::string_view host) {
  if (host.empty() || host.size() > 64) return std::nullopt;
  if (host.back() == '.') host.remove_suffix(1);
  std::vector<uint64_t> parts;
  while (true) {
    size_t dot = host.find('.');
    auto part = parsePart(host.substr(0, dot));
    if (!part) return std::nullopt;
    parts.push_back(*part);
    if (parts.size() > 4) return std::nullopt;
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  uint64_t value = 0;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i] > 255) return std::nullopt;
    value |= parts[i] << (8 * (3 - i));
  }
  uint64_t last = parts.back();
  size_t lastBytes = 4 - (parts.size() - 1);
  if (lastBytes < 4 && last >= (uint64_t{1} << (8 * lastBytes))) return std::nullopt;
  return static_cast<uint32_t>(value | last);
}

bool looksNumericIpv4(std::string_view host) {
  if (host.empty()) return false;
  if (host.back() == '.') host.remove_suffix(1);
  size_t dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
    return std::all_of(last.begin() + 2, last.end(),
                       [](unsigned char c) { return std::isxdigit(c) != 0; });
  }
  return std::all_of(last.begin(), last.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string formatIpv4(uint32_t v) {
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." +
         std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}

std::string canonicalHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string out = lower(host);
  if (out.find(':') != std::string::npos) {
    in6_addr a6{};
    char buf[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET6, out.c_str(), &a6) == 1 &&
        inet_ntop(AF_INET6, &a6, buf, sizeof(buf)) != nullptr) {
      return buf;
    }
    return out;
  }
  if (auto v4 = parseNumericIpv4(out)) return formatIpv4(*v4);
  return out;
}

bool hostAllowed(std::string_view host, const std::vector<std::string>& allowHosts) {
  std::string h = canonicalHost(host);
  if (h.empty()) return false;
  for (const auto& entry : allowHosts) {
    std::string_view e = entry;
    if (e.starts_with("*.")) {
      std::string suffix = "." + canonicalHost(e.substr(2));
      if (suffix.size() > 1 && h.size() > suffix.size() && h.ends_with(suffix)) return true;
    } else if (canonicalHost(e) == h) {
      return true;
    }
  }
  return false;
}

}  // namespace cs::fetch
