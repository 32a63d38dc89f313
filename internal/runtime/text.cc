#include "internal/runtime/text.h"

#include <vector>

#include "internal/crypto/crypto.h"

namespace cs::runtime {

std::string truncateUtf8(std::string_view s, size_t maxBytes) {
  if (s.size() <= maxBytes) return std::string(s);
  size_t end = maxBytes;
  // Step back over continuation bytes so that a multi-byte sequence is not split.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::optional<std::string> forgivingBase64Decode(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r') continue;
    s.push_back(c);
  }
  if (s.size() % 4 == 0 && !s.empty()) {
    if (s.back() == '=') s.pop_back();
    if (s.back() == '=') s.pop_back();
  }
  if (s.size() % 4 == 1) return std::nullopt;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  while (s.size() % 4 != 0) s.push_back('=');
  return cs::crypto::base64Decode(s);
}

std::optional<std::string> resolveBundlePath(std::string_view from, std::string_view specifier) {
  std::string base;
  if (specifier.starts_with("/")) {
    specifier.remove_prefix(1);
  } else if (specifier.starts_with("./") || specifier.starts_with("../")) {
    auto slash = from.rfind('/');
    if (slash != std::string_view::npos) base = std::string(from.substr(0, slash));
  } else {
    return std::nullopt;  // bare specifiers, node:, https:, data: …
  }
  if (specifier.find('\\') != std::string_view::npos ||
      specifier.find('\0') != std::string_view::npos || specifier.find('?') != std::string_view::npos ||
      specifier.find('#') != std::string_view::npos) {
    return std::nullopt;
  }
  std::vector<std::string> parts;
  auto push = [&](std::string_view path) -> bool {
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string_view::npos) end = path.size();
      std::string_view seg = path.substr(start, end - start);
      if (seg == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
      } else if (!seg.empty() && seg != ".") {
        parts.emplace_back(seg);
      }
      start = end + 1;
    }
    return true;
  };
  if (!push(base) || !push(specifier) || parts.empty()) return std::nullopt;
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out.push_back('/');
    out += p;
  }
  return out;
}

void redact(std::string& s, std::string_view secret) {
  if (secret.size() < 4) return;
  static constexpr std::string_view kMark = "[REDACTED]";
  size_t pos = 0;
  while ((pos = s.find(secret, pos)) != std::string::npos) {
    s.replace(pos, secret.size(), kMark);
    pos += kMark.size();
  }
}

}  // namespace cs::runtime
