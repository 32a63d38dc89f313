// The drivers of each seam, chosen by config (DESIGN "Seams").
#include <filesystem>

#include "internal/codeq/codeq_http_queue.h"
#include "internal/codeq/embedded_queue.h"
#include "internal/codeq/streams_queue.h"
#include "internal/kv/kvrocks_store.h"
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
    case config::PersistenceDriver::Kvrocks: {
      kv::KvrocksOptions options;
      options.addr = p.kvrocks.addr;
      if (p.kvrocks.authMode == config::KvrocksAuthMode::Password) {
        options.password = p.kvrocks.password;
      }
      return kv::makeKvrocksStore(options);
    }
  }
  return Error{ErrorCode::Internal, "plugins.persistence.driver: unknown driver"};
}

Result<std::unique_ptr<codeq::Queue>> makeQueue(const config::Config& config) {
  const auto& m = config.plugins.messaging;
  switch (m.driver) {
    case config::MessagingDriver::Embedded:
      // In-process only: every component of the deployment must live in this process.
      return std::unique_ptr<codeq::Queue>(codeq::makeEmbeddedQueue());
    case config::MessagingDriver::Streams: {
      // plugins.messaging.streams.addr defaults to the KVRocks address (config loader).
      const std::string& addr = m.streams.addr;
      auto colon = addr.rfind(':');
      if (colon == std::string::npos) {
        return Error{ErrorCode::ValidationFailed,
                     "plugins.messaging.streams.addr: expected host:port, got \"" + addr + "\""};
      }
      codeq::StreamsQueueOptions options;
      options.host = addr.substr(0, colon);
      options.port = std::atoi(addr.c_str() + colon + 1);
      const auto& kvrocks = config.plugins.persistence.kvrocks;
      if (kvrocks.authMode == config::KvrocksAuthMode::Password) options.password = kvrocks.password;
      return std::unique_ptr<codeq::Queue>(codeq::makeStreamsQueue(options));
    }
    case config::MessagingDriver::Codeq: {
      codeq::CodeqHttpOptions options;
      options.baseUrl = m.codeq.baseUrl;
      options.producerToken = m.codeq.producerToken;
      options.workerToken = m.codeq.workerToken;
      return std::unique_ptr<codeq::Queue>(codeq::makeCodeqHttpQueue(options));
    }
  }
  return Error{ErrorCode::CodeqUnavailable,
               "plugins.messaging.driver: unknown driver"};
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
