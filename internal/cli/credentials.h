// Stored CLI credentials (SPEC §16): $XDG_CONFIG_HOME/code-sous/auth.json, else
// ~/.config/code-sous/auth.json, mode 0600. The environment overrides the file:
// CS_API_URL, CS_TOKEN, CS_TENANT, CS_GATEWAY_URL.
#pragma once

#include <filesystem>
#include <string>

#include "internal/errors/errors.h"

namespace cs::cli {

struct Credentials {
  std::string apiUrl;
  std::string tenant;
  std::string token;
  // Where `cs http invoke` sends /v1/web requests; empty = apiUrl (cs dev serves both).
  std::string gatewayUrl;
};

std::filesystem::path credentialsPath();
cs::Status saveCredentials(const Credentials& credentials);
// The stored credentials with environment overrides applied; CS_AUTHN_MISSING_TOKEN when
// nothing is configured (with a hint to run `cs auth login`).
cs::Result<Credentials> loadCredentials();

// The subject of a JWT, read without verification (for display only).
std::string tokenSubject(const std::string& token);

}  // namespace cs::cli
