// Small wrappers over OpenSSL and libuuid: digests, base64, random bytes and UUIDs.
// Thread-safe; no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cs::crypto {

// Lower-case hex SHA-256 of the bytes.
std::string sha256Hex(std::string_view data);
// Raw 32-byte SHA-256.
std::string sha256(std::string_view data);
std::string hmacSha256(std::string_view key, std::string_view data);

std::string base64Encode(std::string_view data);
// Strict standard base64 (padding required, no whitespace); nullopt on any bad input.
std::optional<std::string> base64Decode(std::string_view text);
// RFC 4648 §5, no padding (JWT).
std::string base64UrlEncode(std::string_view data);
std::optional<std::string> base64UrlDecode(std::string_view text);

std::string randomBytes(size_t n);
// Lower-case hex of n random bytes.
std::string randomHex(size_t n);

// RFC 4122 UUIDs in canonical lower-case form.
std::string uuidV4();
std::string uuidV5(std::string_view namespaceUuid, std::string_view name);
bool isUuid(std::string_view text);

}  // namespace cs::crypto
