// The drivers of each seam, chosen by config (DESIGN "Seams").
#include <filesystem>

#include "internal/codeq/embedded_queue.h"
#include "internal/kv/sqlite_store.h"
#include "internal/platform/services.h"

namespace cs::platform {

Result<std::unique_ptr<kv::Store>> makeStore(const config::Config& config) {
  const auto& p = config.plugins.persistence;
  switch (p.driver) {
    case config::PersistenceDriver::Embedded: {
      std::error_code ec;
      auto dir = std::filesystem::path(p.embedded.path).parent_path();
      if (!dir.empty()) std::filesystem::create_directories(dir, ec);
      kv::SqliteOptions options;
      options.path = p.embedded.path;
      return kv::makeSqliteStore(options);
    }
    case config::PersistenceDriver::Kvrocks:
      break;
  }
  return Error{ErrorCode::KvrocksUnavailable,
               "plugins.persistence.driver: kvrocks is not available in this build"};
}

Result<std::unique_ptr<codeq::Queue>> makeQueue(const config::Config& config) {
  const auto& m = config.plugins.messaging;
  switch (m.driver) {
    case config::MessagingDriver::Embedded:
      // In-process only: every component of the deployment must live in this process.
      return std::unique_ptr<codeq::Queue>(codeq::makeEmbeddedQueue());
    case config::MessagingDriver::Streams:
    case config::MessagingDriver::Codeq:
      break;
  }
  return Error{ErrorCode::CodeqUnavailable,
               "plugins.messaging.driver: this driver is not available in this build"};
}

Result<std::unique_ptr<authn::Authenticator>> makeAuthenticator(const config::Config& config) {
  const auto& a = config.plugins.authn;
  if (!a.driver) {
    return Error{ErrorCode::ValidationFailed, "plugins.authn.driver is required"};
  }
  if (*a.driver == config::AuthnDriver::Dev) {
    authn::DevOptions options;
    options.keyDir =
        (std::filesystem::path(config.plugins.persistence.embedded.path).parent_path() / "keys")
            .string();
    return authn::makeDevAuthenticator(options);
  }
  authn::TiktiOptions options;
  options.jwksUrl = a.tikti.jwksUrl;
  options.jwksFile = a.tikti.jwksFile;
  options.issuer = a.tikti.issuer;
  options.audience = a.tikti.audience;
  options.cacheTtlSeconds = a.tikti.cacheTtlSeconds;
  return authn::makeTiktiAuthenticator(options);
}

}  // namespace cs::platform
