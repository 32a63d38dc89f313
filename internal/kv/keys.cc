#include "internal/kv/keys.h"

#include <string>

#include "internal/crypto/crypto.h"

namespace cs::kv::keys {
namespace {

bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isLowerHex(char c) { return isDigit(c) || (c >= 'a' && c <= 'f'); }

// [a-z][a-z0-9_-]{minRest,maxRest}
bool isSlug(std::string_view s, size_t minRest, size_t maxRest) {
  if (s.size() < 1 + minRest || s.size() > 1 + maxRest || !isLower(s[0])) return false;
  for (char c : s.substr(1)) {
    if (!isLower(c) && !isDigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

Error invalid(std::string_view what, std::string_view value) {
  // Never echo more than a little of a hostile value into messages and logs.
  std::string shown(value.substr(0, 64));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return Error{ErrorCode::ValidationNameInvalid,
               "invalid " + std::string(what) + ": \"" + shown + "\""};
}

// Validates tenant/namespace/function and returns "cs:fn:{t}:{ns}:{fn}:".
Result<std::string> fnBase(std::string_view t, std::string_view ns, std::string_view fn) {
  if (!isValidTenant(t)) return invalid("tenant", t);
  if (!isValidNamespace(ns)) return invalid("namespace", ns);
  if (!isValidFunctionName(fn)) return invalid("function name", fn);
  std::string k = "cs:fn:";
  k.append(t).append(":").append(ns).append(":").append(fn).append(":");
  return k;
}

Result<std::string> tenantNs(std::string_view t, std::string_view ns) {
  if (!isValidTenant(t)) return invalid("tenant", t);
  if (!isValidNamespace(ns)) return invalid("namespace", ns);
  std::string k(t);
  k.append(":").append(ns);
  return k;
}

Result<std::string> scheduleBase(std::string_view t, std::string_view ns, std::string_view name) {
  auto tn = tenantNs(t, ns);
  if (!tn) return tn.error();
  if (!isValidScheduleName(name)) return invalid("schedule name", name);
  return "cs:schedule:" + *tn + ":" + std::string(name) + ":";
}

Result<std::string> activationBase(std::string_view t, std::string_view id) {
  if (!isValidTenant(t)) return invalid("tenant", t);
  if (!isValidActivationId(id)) return invalid("activation id", id);
  return std::string(t) + ":" + std::string(id);
}

bool isUserKeyPlain(unsigned char c) {
  return isLower(static_cast<char>(c)) || isUpper(static_cast<char>(c)) ||
         isDigit(static_cast<char>(c)) || c == '.' || c == '_' || c == '~' || c == '/' || c == '-';
}

int hexValue(char c) {
  if (isDigit(c)) return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower-case hex is not canonical, reject it
}

}  // namespace

bool isValidTenant(std::string_view s) {
  if (s.size() < 8 || s.size() > 34 || s.substr(0, 2) != "t_") return false;
  for (char c : s.substr(2)) {
    if (!isLower(c) && !isDigit(c)) return false;
  }
  return true;
}
bool isValidNamespace(std::string_view s) { return isSlug(s, 2, 63); }
bool isValidFunctionName(std::string_view s) { return isSlug(s, 2, 63); }
bool isValidScheduleName(std::string_view s) { return isSlug(s, 2, 63); }
bool isValidWorkerName(std::string_view s) { return isSlug(s, 2, 63); }
bool isValidAlias(std::string_view s) { return isSlug(s, 1, 31); }
bool isValidVersion(int64_t v) { return v >= 1; }

bool isValidDraftId(std::string_view s) {
  if (s.size() < 5 || s.size() > 68 || s.substr(0, 4) != "drf_") return false;
  for (char c : s.substr(4)) {
    if (!isLower(c) && !isUpper(c) && !isDigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool isValidActivationId(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !isLowerHex(s[i])) return false;
  }
  return crypto::isUuid(s);
}

bool isValidTaskTokenHash(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!isLowerHex(c)) return false;
  }
  return true;
}

bool isValidSecretPath(std::string_view s) {
  if (s.empty() || s.size() > 512) return false;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    std::string_view seg =
        s.substr(start, slash == std::string_view::npos ? s.npos : slash - start);
    if (seg.empty() || seg.size() > 128 || seg == "." || seg == "..") return false;
    for (char c : seg) {
      if (!isLower(c) && !isUpper(c) && !isDigit(c) && c != '_' && c != '.' && c != '-') {
        return false;
      }
    }
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool isValidLeaseName(std::string_view s) {
  if (s.empty() || s.size() > 64 || !isLower(s[0])) return false;
  for (char c : s) {
    if (!isLower(c) && !isDigit(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

Result<std::string> functionMeta(std::string_view t, std::string_view ns, std::string_view fn) {
  auto b = fnBase(t, ns, fn);
  if (!b) return b;
  return *b + "meta";
}

Result<std::string> versionSeq(std::string_view t, std::string_view ns, std::string_view fn) {
  auto b = fnBase(t, ns, fn);
  if (!b) return b;
  return *b + "version_seq";
}

Result<std::string> draft(std::string_view t, std::string_view ns, std::string_view fn,
                          std::string_view draftId) {
  auto b = fnBase(t, ns, fn);
  if (!b) return b;
  if (!isValidDraftId(draftId)) return invalid("draft id", draftId);
  return *b + "draft:" + std::string(draftId);
}

Result<std::string> versionMeta(std::string_view t, std::string_view ns, std::string_view fn,
                                int64_t version) {
  auto b = fnBase(t, ns, fn);
  if (!b) return b;
  if (!isValidVersion(version)) return invalid("version", std::to_string(version));
  return *b + "ver:" + std::to_string(version) + ":meta";
}

Result<std::string> versionBundle(std::string_view t, std::string_view ns, std::string_view fn,
                                  int64_t version) {
  auto b = fnBase(t, ns, fn);
  if (!b) return b;
  if (!isValidVersion(version)) return invalid("version", std::to_string(version));
  return *b + "ver:" + std::to_string(version) + ":bundle";
}

Result<std::string> alias(std::string_view t, std::string_view ns, std::string_view fn,
                          std::string_view aliasName) {
  auto b = fnBase(t, ns, fn);
  if (!b) return b;
  if (!isValidAlias(aliasName)) return invalid("alias", aliasName);
  return *b + "alias:" + std::string(aliasName);
}

Result<std::string> aliasPrefix(std::string_view t, std::string_view ns, std::string_view fn) {
  auto b = fnBase(t, ns, fn);
  if (!b) return b;
  return *b + "alias:";
}

Result<std::string> versionPrefix(std::string_view t, std::string_view ns, std::string_view fn) {
  auto b = fnBase(t, ns, fn);
  if (!b) return b;
  return *b + "ver:";
}

Result<std::string> functionIndex(std::string_view t, std::string_view ns) {
  auto tn = tenantNs(t, ns);
  if (!tn) return tn;
  return "cs:fn:" + *tn + ":index";
}

Result<std::string> scheduleMeta(std::string_view t, std::string_view ns, std::string_view name) {
  auto b = scheduleBase(t, ns, name);
  if (!b) return b;
  return *b + "meta";
}

Result<std::string> scheduleState(std::string_view t, std::string_view ns, std::string_view name) {
  auto b = scheduleBase(t, ns, name);
  if (!b) return b;
  return *b + "state";
}

Result<std::string> scheduleInflight(std::string_view t, std::string_view ns,
                                     std::string_view name) {
  auto b = scheduleBase(t, ns, name);
  if (!b) return b;
  return *b + "inflight";
}

Result<std::string> scheduleIndex(std::string_view t, std::string_view ns) {
  auto tn = tenantNs(t, ns);
  if (!tn) return tn;
  return "cs:schedule:" + *tn + ":index";
}

Result<std::string> cadenceWorkerMeta(std::string_view t, std::string_view ns,
                                      std::string_view name) {
  auto tn = tenantNs(t, ns);
  if (!tn) return tn;
  if (!isValidWorkerName(name)) return invalid("worker binding name", name);
  return "cs:cadence:" + *tn + ":worker:" + std::string(name) + ":meta";
}

Result<std::string> cadenceWorkersIndex(std::string_view t, std::string_view ns) {
  auto tn = tenantNs(t, ns);
  if (!tn) return tn;
  return "cs:cadence:" + *tn + ":workers:index";
}

Result<std::string> cadenceTask(std::string_view t, std::string_view ns,
                                std::string_view taskTokenHash) {
  auto tn = tenantNs(t, ns);
  if (!tn) return tn;
  if (!isValidTaskTokenHash(taskTokenHash)) return invalid("task token hash", taskTokenHash);
  return "cs:cadence:" + *tn + ":task:" + std::string(taskTokenHash);
}

Result<std::string> cadenceTaskForToken(std::string_view t, std::string_view ns,
                                        std::string_view taskToken) {
  if (taskToken.empty()) return invalid("task token", taskToken);
  return cadenceTask(t, ns, crypto::sha256Hex(taskToken));
}

Result<std::string> activation(std::string_view t, std::string_view activationId) {
  auto b = activationBase(t, activationId);
  if (!b) return b;
  return "cs:act:" + *b + ":meta";
}

Result<std::string> activationsByFunction(std::string_view t, std::string_view ns,
                                          std::string_view fn) {
  if (!isValidTenant(t)) return invalid("tenant", t);
  if (!isValidNamespace(ns)) return invalid("namespace", ns);
  if (!isValidFunctionName(fn)) return invalid("function name", fn);
  std::string k = "cs:act:";
  k.append(t).append(":byfn:").append(ns).append(":").append(fn);
  return k;
}

Result<std::string> logChunk(std::string_view t, std::string_view activationId, int64_t chunk) {
  auto b = activationBase(t, activationId);
  if (!b) return b;
  if (chunk < 0) return invalid("log chunk", std::to_string(chunk));
  return "cs:log:" + *b + ":" + std::to_string(chunk);
}

Result<std::string> logChunks(std::string_view t, std::string_view activationId) {
  auto b = activationBase(t, activationId);
  if (!b) return b;
  return "cs:log:" + *b + ":chunks";
}

std::string encodeUserKey(std::string_view userKey) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(userKey.size());
  for (char ch : userKey) {
    auto c = static_cast<unsigned char>(ch);
    if (isUserKeyPlain(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::optional<std::string> decodeUserKey(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    auto c = static_cast<unsigned char>(encoded[i]);
    if (c == '%') {
      if (i + 2 >= encoded.size()) return std::nullopt;
      int hi = hexValue(encoded[i + 1]);
      int lo = hexValue(encoded[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      auto byte = static_cast<unsigned char>(hi * 16 + lo);
      if (isUserKeyPlain(byte)) return std::nullopt;  // not canonical: would not round-trip
      out.push_back(static_cast<char>(byte));
      i += 2;
    } else if (isUserKeyPlain(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      return std::nullopt;
    }
  }
  return out;
}

Result<std::string> userKv(std::string_view t, std::string_view ns, std::string_view userKey) {
  auto tn = tenantNs(t, ns);
  if (!tn) return tn;
  if (userKey.empty() || userKey.size() > kMaxUserKeyBytes) {
    return Error{ErrorCode::ValidationFailed,
                 "kv key must be 1.." + std::to_string(kMaxUserKeyBytes) + " bytes"};
  }
  return "cs:ukv:" + *tn + ":" + encodeUserKey(userKey);
}

Result<std::string> userKvPrefix(std::string_view t, std::string_view ns,
                                 std::string_view userKeyPrefix) {
  auto tn = tenantNs(t, ns);
  if (!tn) return tn;
  if (userKeyPrefix.size() > kMaxUserKeyBytes) {
    return Error{ErrorCode::ValidationFailed,
                 "kv key prefix must be at most " + std::to_string(kMaxUserKeyBytes) + " bytes"};
  }
  return "cs:ukv:" + *tn + ":" + encodeUserKey(userKeyPrefix);
}

Result<std::string> secret(std::string_view t, std::string_view path) {
  if (!isValidTenant(t)) return invalid("tenant", t);
  if (!isValidSecretPath(path)) return invalid("secret path", path);
  return "cs:secret:" + std::string(t) + ":" + std::string(path);
}

Result<std::string> lease(std::string_view name) {
  if (!isValidLeaseName(name)) return invalid("lease name", name);
  return "cs:lease:" + std::string(name);
}

}  // namespace cs::kv::keys
