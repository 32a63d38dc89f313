#include "internal/api/names.h"

#include <string>

namespace cs::api {
namespace {

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isIdChar(char c) {
  return isLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}
bool isHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// [a-z][a-z0-9_-]{minRest,maxRest}
bool slug(std::string_view v, size_t minRest, size_t maxRest) {
  if (v.size() < 1 + minRest || v.size() > 1 + maxRest) return false;
  if (v[0] < 'a' || v[0] > 'z') return false;
  for (char c : v.substr(1)) {
    if (!isLowerAlnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool prefixed(std::string_view v, std::string_view prefix, size_t minRest, size_t maxRest) {
  if (v.substr(0, prefix.size()) != prefix) return false;
  std::string_view rest = v.substr(prefix.size());
  if (rest.size() < minRest || rest.size() > maxRest) return false;
  for (char c : rest) {
    if (!isIdChar(c)) return false;
  }
  return true;
}

bool uuid(std::string_view v) {
  if (v.size() != 36) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (v[i] != '-') return false;
    } else if (!isHex(v[i])) {
      return false;
    }
  }
  const char version = v[14];
  const char variant = v[19];
  return version >= '1' && version <= '8' &&
         (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
}

std::string_view ruleOf(NameKind kind) {
  switch (kind) {
    case NameKind::Tenant: return "t_[a-z0-9]{6,32}";
    case NameKind::Namespace:
    case NameKind::Function:
    case NameKind::Schedule:
    case NameKind::WorkerBinding: return "[a-z][a-z0-9_-]{2,63}";
    case NameKind::Alias: return "[a-z][a-z0-9_-]{1,31}";
    case NameKind::RequestId: return "req_[A-Za-z0-9_-]{4,60}";
    case NameKind::DraftId: return "drf_[A-Za-z0-9_-]{8,60}";
    case NameKind::ActivationId: return "lower-case UUID";
  }
  return "";
}

// The value as it appears in a message: bounded, printable ASCII, quotes escaped.
std::string quote(std::string_view value) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  for (size_t i = 0; i < value.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > kMaxShown) out += "...";
  out += "\"";
  return out;
}

}  // namespace

std::string_view nameKindLabel(NameKind kind) {
  switch (kind) {
    case NameKind::Tenant: return "tenant";
    case NameKind::Namespace: return "namespace";
    case NameKind::Function: return "function";
    case NameKind::Alias: return "alias";
    case NameKind::RequestId: return "request_id";
    case NameKind::DraftId: return "draft_id";
    case NameKind::Schedule: return "schedule";
    case NameKind::WorkerBinding: return "worker binding";
    case NameKind::ActivationId: return "activation_id";
  }
  return "name";
}

bool isValidName(NameKind kind, std::string_view v) {
  switch (kind) {
    case NameKind::Tenant: {
      if (v.substr(0, 2) != "t_") return false;
      std::string_view rest = v.substr(2);
      if (rest.size() < 6 || rest.size() > 32) return false;
      for (char c : rest) {
        if (!isLowerAlnum(c)) return false;
      }
      return true;
    }
    case NameKind::Namespace:
    case NameKind::Function:
    case NameKind::Schedule:
    case NameKind::WorkerBinding: return slug(v, 2, 63);
    case NameKind::Alias: return slug(v, 1, 31);
    case NameKind::RequestId: return prefixed(v, "req_", 4, 60);
    case NameKind::DraftId: return prefixed(v, "drf_", 8, 60);
    case NameKind::ActivationId: return uuid(v);
  }
  return false;
}

Status validateName(NameKind kind, std::string_view value) {
  if (isValidName(kind, value)) return okStatus();
  return Error{ErrorCode::ValidationNameInvalid,
               "invalid " + std::string(nameKindLabel(kind)) + " " + quote(value) +
                   ": must match " + std::string(ruleOf(kind))};
}

std::optional<int64_t> parseVersion(std::string_view text) {
  constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;
  if (text.empty() || text.size() > 16 || text[0] == '0') return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > kMaxSafe) return std::nullopt;
  return value;
}

}  // namespace cs::api
