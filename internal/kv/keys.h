// The SPEC §6 key schema, in one place, shared by every kv::Store driver.
//
// Every builder validates each component against its name rule (SPEC §3, or the rule written
// here for names SPEC leaves open) and returns CS_VALIDATION_NAME_INVALID otherwise, so no
// component can carry a ':' and reach into another tenant's key space. The only free-form
// component, the cs.kv user key, is percent-encoded (see userKv).
//
// Keys added beyond the SPEC §6 table (documented in README.md):
//   cs:fn:{t}:{ns}:index                  set of function names of a namespace (listing)
//   cs:act:{t}:byfn:{ns}:{fn}             sorted set activation_id scored by created_at_ms
//                                         ("list recent activations"; "byfn" is never a UUID,
//                                         so it cannot collide with cs:act:{t}:{id}:meta)
//   cs:ukv:{t}:{ns}:{encodedUserKey}      cs.kv user data, tenant- and namespace-scoped
//   cs:secret:{t}:{path}                  a tenant secret (SecretRecord JSON)
//   cs:lease:{name}                       leader lease (value = owner token, with TTL)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "internal/errors/errors.h"

namespace cs::kv::keys {

// --- name rules -------------------------------------------------------------------------------
bool isValidTenant(std::string_view s);        // t_[a-z0-9]{6,32}
bool isValidNamespace(std::string_view s);     // [a-z][a-z0-9_-]{2,63}
bool isValidFunctionName(std::string_view s);  // [a-z][a-z0-9_-]{2,63}
// Schedules and worker bindings follow the function rule (SPEC §3 leaves them open).
bool isValidScheduleName(std::string_view s);
bool isValidWorkerName(std::string_view s);
bool isValidAlias(std::string_view s);          // [a-z][a-z0-9_-]{1,31}
bool isValidVersion(int64_t v);                 // >= 1
bool isValidDraftId(std::string_view s);        // drf_[A-Za-z0-9_-]{1,64}
bool isValidActivationId(std::string_view s);   // canonical lower-case UUID
bool isValidTaskTokenHash(std::string_view s);  // lower-case hex sha256 (64 chars)
// Secret path: '/'-separated segments of [A-Za-z0-9_.-]{1,128}, no "." or ".." segment,
// at most 512 bytes. E.g. "payments/stripe_key" (the invoker maps a version's secret ref
// "kv:tenant/payments/stripe_key" to secret(t, "payments/stripe_key")).
bool isValidSecretPath(std::string_view s);
bool isValidLeaseName(std::string_view s);  // [a-z][a-z0-9_.-]{0,63}

// cs.kv user keys: 1..kMaxUserKeyBytes arbitrary bytes.
inline constexpr size_t kMaxUserKeyBytes = 1024;

// --- functions --------------------------------------------------------------------------------
Result<std::string> functionMeta(std::string_view t, std::string_view ns, std::string_view fn);
Result<std::string> versionSeq(std::string_view t, std::string_view ns, std::string_view fn);
Result<std::string> draft(std::string_view t, std::string_view ns, std::string_view fn,
                          std::string_view draftId);
Result<std::string> versionMeta(std::string_view t, std::string_view ns, std::string_view fn,
                                int64_t version);
Result<std::string> versionBundle(std::string_view t, std::string_view ns, std::string_view fn,
                                  int64_t version);
Result<std::string> alias(std::string_view t, std::string_view ns, std::string_view fn,
                          std::string_view alias);
// "cs:fn:{t}:{ns}:{fn}:alias:" — scanPrefix() it to list a function's aliases.
Result<std::string> aliasPrefix(std::string_view t, std::string_view ns, std::string_view fn);
// "cs:fn:{t}:{ns}:{fn}:ver:" — scanPrefix() it to list versions (meta and bundle keys).
Result<std::string> versionPrefix(std::string_view t, std::string_view ns, std::string_view fn);
// Set of function names in a namespace; cs-control adds on create (soft delete keeps it).
Result<std::string> functionIndex(std::string_view t, std::string_view ns);

// --- schedules --------------------------------------------------------------------------------
Result<std::string> scheduleMeta(std::string_view t, std::string_view ns, std::string_view name);
Result<std::string> scheduleState(std::string_view t, std::string_view ns, std::string_view name);
// Overlap-policy "skip" marker: value = activation_id, with a TTL as a safety net.
Result<std::string> scheduleInflight(std::string_view t, std::string_view ns,
                                     std::string_view name);
Result<std::string> scheduleIndex(std::string_view t, std::string_view ns);

// --- cadence ----------------------------------------------------------------------------------
Result<std::string> cadenceWorkerMeta(std::string_view t, std::string_view ns,
                                      std::string_view name);
Result<std::string> cadenceWorkersIndex(std::string_view t, std::string_view ns);
// taskTokenHash = crypto::sha256Hex(taskToken).
Result<std::string> cadenceTask(std::string_view t, std::string_view ns,
                                std::string_view taskTokenHash);
// Same key from the raw task token (hashes it).
Result<std::string> cadenceTaskForToken(std::string_view t, std::string_view ns,
                                        std::string_view taskToken);

// --- activations and logs ---------------------------------------------------------------------
Result<std::string> activation(std::string_view t, std::string_view activationId);
Result<std::string> activationsByFunction(std::string_view t, std::string_view ns,
                                          std::string_view fn);
// chunk >= 0; the chunk number is also its score in logChunks().
Result<std::string> logChunk(std::string_view t, std::string_view activationId, int64_t chunk);
Result<std::string> logChunks(std::string_view t, std::string_view activationId);

// --- user data and secrets --------------------------------------------------------------------
// cs:ukv:{t}:{ns}:{encoded}. The user key is percent-encoded: bytes outside
// [A-Za-z0-9._~/-] become %XX (upper-case hex), so ':' is "%3A" and '%' is "%25". The encoding
// is injective and prefix-preserving: encode(p) is a prefix of encode(k) iff p is a prefix of
// k, so userKvPrefix() + scanPrefix() lists by user prefix.
Result<std::string> userKv(std::string_view t, std::string_view ns, std::string_view userKey);
// Like userKv but for a (possibly empty) user-key prefix; for listing.
Result<std::string> userKvPrefix(std::string_view t, std::string_view ns,
                                 std::string_view userKeyPrefix);
std::string encodeUserKey(std::string_view userKey);
// Inverse of encodeUserKey; nullopt unless `encoded` is exactly what encodeUserKey produces.
std::optional<std::string> decodeUserKey(std::string_view encoded);

Result<std::string> secret(std::string_view t, std::string_view path);

// --- system -----------------------------------------------------------------------------------
Result<std::string> lease(std::string_view name);

}  // namespace cs::kv::keys
