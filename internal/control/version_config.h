// The RESOLVED version config cs-control writes at publish (docs/contracts.md "Version
// config"), so the gateway and the invoker never re-merge manifest and publish body.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/api/manifest.h"
#include "internal/errors/errors.h"

namespace cs::control {

// `publishConfig` is the publish body's `config` object (already schema-validated; null or
// absent = {}). timeout_ms / memory_mb / max_concurrency: body value, else the manifest's
// limits; capabilities: body value, else the manifest's; env and secrets: body value, else {};
// authz: every role list present (missing = empty = deny).
nlohmann::json resolveVersionConfig(const api::Manifest& manifest,
                                    const nlohmann::json& publishConfig);

// Reads a stored config's `timeout_ms` (fallback: SPEC §14 worker timeout, 30000) and a role
// list of `authz` (missing or malformed = empty, which denies).
int64_t configTimeoutMs(const nlohmann::json& config);
std::vector<std::string> configRoles(const nlohmann::json& config, const std::string& listName);

}  // namespace cs::control
