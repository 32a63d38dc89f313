// Small pure helpers of the runtime (no V8): UTF-8, base64 for atob, bundle path resolution,
// redaction. Separate from v8_engine.cc so they are unit-tested directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cs::runtime {

// The longest prefix of `s` of at most `maxBytes` bytes that does not split a UTF-8 sequence.
std::string truncateUtf8(std::string_view s, size_t maxBytes);

bool isValidUtf8(std::string_view s);

// WHATWG forgiving-base64 decode (atob): ASCII whitespace ignored, padding optional.
std::optional<std::string> forgivingBase64Decode(std::string_view text);

// Resolves an import specifier against the importing file, inside the bundle: only "./",
// "../" and "/" specifiers; nullopt when it is a bare/URL specifier or escapes the bundle root.
std::optional<std::string> resolveBundlePath(std::string_view from, std::string_view specifier);

// Replaces every occurrence of `secret` in `s` by "[REDACTED]" (secrets shorter than 4 bytes
// are ignored: they would redact ordinary text).
void redact(std::string& s, std::string_view secret);

}  // namespace cs::runtime
