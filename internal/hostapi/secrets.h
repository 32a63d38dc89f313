// Secret references of a version's config (SPEC §9, docs/contracts.md):
// "secrets": {"NAME": "kv:tenant/payments/stripe_key"} → the values of cs:secret:{t}:{path}.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"
#include "internal/kv/store.h"

namespace cs::hostapi {

// The only accepted reference form: "kv:tenant/" + a kv::keys::isValidSecretPath path.
// "tenant" is a literal scope word meaning "the activation's own tenant"; a secret can never be
// addressed in another tenant, so any other scope (a tenant id included) is refused.
inline constexpr std::string_view kSecretRefPrefix = "kv:tenant/";
inline constexpr size_t kMaxSecrets = 64;

struct ResolvedSecret {
  std::string name;
  std::string value;
};

// secretsConfig: null/absent → no secrets; else an object of at most kMaxSecrets entries,
// names [A-Za-z_][A-Za-z0-9_]{0,127} (usable as env names), values reference strings.
// Errors: bad shape / name / path → CS_VALIDATION_FAILED; a reference outside
// "kv:tenant/…" → CS_AUTHZ_DENIED; a missing secret → CS_NOT_FOUND; an unreadable record →
// CS_KVROCKS_READ_FAILED; storage errors keep their codes. Messages name the secret and its
// reference, never a value. Results are in name order.
Result<std::vector<ResolvedSecret>> resolveSecrets(kv::Store& store, std::string_view tenant,
                                                   const nlohmann::json& secretsConfig);

// {NAME: value…}: what the invoker hands the function (e.g. as ctx.env).
nlohmann::json secretEnv(const std::vector<ResolvedSecret>& secrets);

// The strings to put into runtime::Invocation::redact: every value, plus its JSON-escaped form
// when that differs (a value with '"', '\\' or control bytes shows up escaped in
// JSON-serialised logs and results). Note: the runtime ignores values shorter than 4 bytes.
std::vector<std::string> redactionValues(const std::vector<ResolvedSecret>& secrets);

}  // namespace cs::hostapi
