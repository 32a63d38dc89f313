// The service binaries of SPEC §2 (cs-control, cs-http-gateway, cs-invoker-pool) as objects
// built from a Config: drivers are chosen by config (DESIGN "Seams"), every service serves
// /healthz, /readyz (storage + queue reachable) and /metrics, and stops gracefully.
#pragma once

#include <cstdint>
#include <memory>

#include "internal/authn/authn.h"
#include "internal/codeq/queue.h"
#include "internal/config/config.h"
#include "internal/errors/errors.h"
#include "internal/kv/store.h"

namespace cs::platform {

// Drivers of the seams, by config.
Result<std::unique_ptr<kv::Store>> makeStore(const config::Config& config);
Result<std::unique_ptr<codeq::Queue>> makeQueue(const config::Config& config);
Result<std::unique_ptr<authn::Authenticator>> makeAuthenticator(const config::Config& config);

class Service {
 public:
  virtual ~Service() = default;
  virtual Status start() = 0;
  // Stops taking work, finishes in-flight requests/activations, then stops the drivers.
  virtual void stop() = 0;
  virtual uint16_t port() const = 0;
};

Result<std::unique_ptr<Service>> makeControlService(const config::Config& config);
Result<std::unique_ptr<Service>> makeGatewayService(const config::Config& config);
Result<std::unique_ptr<Service>> makeInvokerService(const config::Config& config);
// The processes of cs-scheduler and cs-cadence-poller: config, store + queue, probes,
// graceful stop. The tick loop and the Cadence pollers are added by their own issues.
Result<std::unique_ptr<Service>> makeSchedulerService(const config::Config& config);
Result<std::unique_ptr<Service>> makeCadencePollerService(const config::Config& config);

// main() of a service binary: `--config FILE` (and `--help`), loads the config for `which`,
// builds the service with `make`, starts it, waits for SIGTERM/SIGINT, stops, returns 0.
// Config errors exit 1 with the message naming the field; start-up failures exit 2.
int serviceMain(int argc, char** argv, config::Service which,
                Result<std::unique_ptr<Service>> (*make)(const config::Config&));

}  // namespace cs::platform
