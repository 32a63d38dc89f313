// `cs dev`: the whole platform in one process — cs-control API, /v1/web gateway and invoker
// (later the scheduler) on one port, with the embedded drivers (SQLite store, in-process
// queue) and the process's own RS256 key (dev authenticator, JWKS at /.well-known/jwks.json).
// The same modules as the service binaries; nothing in the request path knows it is dev mode.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "internal/errors/errors.h"

namespace cs::platform {

struct DevOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (tests)
  std::string dataDir = ".code-sous";
  std::string tenant = "t_dev0001";
  int invokerThreads = 2;
  int httpWorkerThreads = 8;
  int warmIsolates = 2;
  std::string logLevel = "info";
  // Gateway rate limits (SPEC §11 defaults); <= 0 disables a limit.
  double tenantRps = 200;
  double functionRps = 20;
  double ipRps = 100;
  // cs.http.fetch may reach loopback (tests against a local server only).
  bool allowLoopbackFetchForTests = false;
};

class DevPlatform {
 public:
  virtual ~DevPlatform() = default;
  virtual Status start() = 0;
  // Stops taking requests, finishes in-flight work, stops every component in reverse order.
  virtual void stop() = 0;
  virtual uint16_t port() const = 0;
  virtual std::string apiUrl() const = 0;
  // A token of the dev tenant with the admin, developer and invoker roles (also written to
  // <dataDir>/admin.token, mode 0600).
  virtual const std::string& adminToken() const = 0;
  virtual const std::string& tenant() const = 0;
};

Result<std::unique_ptr<DevPlatform>> makeDevPlatform(const DevOptions& options);

}  // namespace cs::platform
