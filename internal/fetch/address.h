// Address and host rules of cs.http.fetch: the private/reserved ranges a function may never
// reach, inet_aton-style IPv4 spellings, and allowHosts patterns.
//
// Pure functions (no I/O), shared by the parse-time check (clear messages) and the
// connect-time check in CURLOPT_OPENSOCKETFUNCTION (the real guard against DNS tricks).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs::fetch {

// Name of the blocked range holding the address ("127.0.0.0/8 loopback", …), or nullopt when
// it is a public address. IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4
// (2002::/16) addresses are judged by their embedded IPv4 address.
std::optional<std::string> blockedRangeV4(uint32_t hostOrder);
std::optional<std::string> blockedRangeV6(const uint8_t (&bytes)[16]);
// For AF_INET / AF_INET6 socket addresses; any other family (or a short length) is blocked.
std::optional<std::string> blockedRange(const sockaddr* address, socklen_t length);

// True for 127.0.0.0/8 and ::1 (the only addresses the test-only loopback setting may open).
bool isLoopback(const sockaddr* address, socklen_t length);

// An IPv4 host in any inet_aton spelling ("2130706433", "0x7f000001", "0177.0.0.1", "127.1")
// → its address in host byte order. nullopt when `host` is not a numeric IPv4 spelling.
std::optional<uint32_t> parseNumericIpv4(std::string_view host);
// True when the last label is numeric (decimal or 0x-hex), i.e. the host must be an IPv4
// address (WHATWG URL rule); "1.2.3.4.5" and "999.1.1.1" are such hosts that fail to parse.
bool looksNumericIpv4(std::string_view host);

std::string formatIpv4(uint32_t hostOrder);

// Canonical form of a host or an allowHosts entry: lower-case, without [] around IPv6,
// without one trailing dot, numeric IPv4 spellings as dotted quads ("0x7f000001" → 127.0.0.1).
std::string canonicalHost(std::string_view host);

// Exact (case-insensitive) match, or "*.example.com" matching any subdomain of example.com at
// any depth (but not example.com itself). Both sides are canonicalised.
bool hostAllowed(std::string_view host, const std::vector<std::string>& allowHosts);

}  // namespace cs::fetch
