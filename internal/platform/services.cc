#include "internal/platform/services.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "internal/codeq/embedded_queue.h"
#include "internal/codeq/request_reply.h"
#include "internal/control/control_api.h"
#include "internal/crypto/crypto.h"
#include "internal/gateway/web_gateway.h"
#include "internal/http/http.h"
#include "internal/invoker/invoker.h"
#include "internal/kv/sqlite_store.h"
#include "internal/observability/handlers.h"
#include "internal/observability/http_observer.h"
#include "internal/observability/log.h"
#include "internal/observability/metrics.h"
#include "internal/platform/observers.h"
#include "internal/runtime/engine.h"

namespace cs::platform {
namespace {

Result<std::pair<std::string, uint16_t>> parseAddr(const std::string& addr, const char* field) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 >= addr.size()) {
    return Error{ErrorCode::ValidationFailed, std::string(field) + ": expected host:port"};
  }
  int port = std::atoi(addr.c_str() + colon + 1);
  if (port < 0 || port > 65535) {
    return Error{ErrorCode::ValidationFailed, std::string(field) + ": bad port"};
  }
  std::string host = addr.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  return std::make_pair(host, static_cast<uint16_t>(port));
}

observability::LogLevel logLevel(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::Trace:
      return observability::LogLevel::Trace;
    case config::LogLevel::Debug:
      return observability::LogLevel::Debug;
    case config::LogLevel::Info:
      return observability::LogLevel::Info;
    case config::LogLevel::Warn:
      return observability::LogLevel::Warn;
    case config::LogLevel::Error:
      return observability::LogLevel::Error;
  }
  return observability::LogLevel::Info;
}

std::string replicaName(std::string_view service) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string name = std::string(service) + "-";
  for (char* c = host; *c != '\0'; ++c) {
    bool ok = std::isalnum(static_cast<unsigned char>(*c)) || *c == '-';
    name.push_back(ok ? static_cast<char>(std::tolower(static_cast<unsigned char>(*c))) : '-');
  }
  return name + "-" + crypto::randomHex(3);
}

// What every service has: logs, metrics, store, queue, an HTTP server with the ops routes.
class ServiceBase : public Service {
 public:
  uint16_t port() const override { return server_ ? server_->port() : 0; }

 protected:
  Status initCommon(const config::Config& config, std::string_view serviceName,
                    const std::string& listenAddr, const char* listenField) {
    serviceName_ = std::string(serviceName);
    observability::LoggerOptions logOptions;
    logOptions.service = serviceName_;
    logOptions.level = logLevel(config.logging.level);
    logger_ = observability::makeJsonLogger(logOptions);
    metrics_ = std::make_shared<observability::Metrics>();
    auto store = makeStore(config);
    if (!store.ok()) return store.error();
    store_ = std::move(*store);
    auto queue = makeQueue(config);
    if (!queue.ok()) return queue.error();
    queue_ = std::move(*queue);
    auto addr = parseAddr(listenAddr, listenField);
    if (!addr.ok()) return addr.error();
    serverOptions_.host = addr->first;
    serverOptions_.port = addr->second;
    serverOptions_.serviceName = serviceName_;
    router_ = std::make_shared<http::Router>();
    observability::addOpsRoutes(*router_,
                                {{"storage", [this] { return store_->ping(); }},
                                 {"queue", [this] { return queue_->ping(); }}},
                                metrics_);
    return okStatus();
  }

  Status startCommon() {
    if (auto s = store_->start(); !s.ok()) return s;
    if (auto s = queue_->start(); !s.ok()) return s;
    return okStatus();
  }

  Status startServer() {
    server_ = http::makeServer(serverOptions_, router_,
                               std::make_shared<observability::ApiRequestObserver>(metrics_, logger_));
    if (auto s = server_->start(); !s.ok()) return s;
    logger_->info("started", {}, {{"port", server_->port()}});
    return okStatus();
  }

  void stopCommon() {
    if (queue_) queue_->stop();
    if (store_) store_->stop();
    logger_->info("stopped");
  }

  std::string serviceName_;
  kv::SystemClock clock_;
  std::shared_ptr<observability::Logger> logger_;
  std::shared_ptr<observability::Metrics> metrics_;
  std::unique_ptr<kv::Store> store_;
  std::unique_ptr<codeq::Queue> queue_;
  std::shared_ptr<http::Router> router_;
  http::ServerOptions serverOptions_;
  std::unique_ptr<http::Server> server_;
};

// A service that authenticates callers and waits for invocation results on its own reply
// topic: cs-control and cs-http-gateway.
class FrontService : public ServiceBase {
 public:
  Status start() override {
    if (auto s = startCommon(); !s.ok()) return s;
    if (auto s = requestReply_->start(); !s.ok()) return s;
    return startServer();
  }
  void stop() override {
    if (server_) server_->stop();
    if (requestReply_) requestReply_->stop();  // before the handlers that use it go away
    stopCommon();
  }

 protected:
  Status initFront(const config::Config& config, std::string_view serviceName,
                   const std::string& listenAddr, const char* listenField,
                   std::string_view replicaPrefix) {
    if (auto s = initCommon(config, serviceName, listenAddr, listenField); !s.ok()) return s;
    auto authenticator = makeAuthenticator(config);
    if (!authenticator.ok()) return authenticator.error();
    authenticator_ = std::move(*authenticator);
    codeq::RequestReplyOptions rr;
    rr.replyTopic = "cs.reply." + replicaName(replicaPrefix);
    rr.consumer = rr.replyTopic;
    rr.invokeTopic = config.plugins.messaging.codeq.topics.invoke;
    rr.dlqResultsTopic = config.plugins.messaging.codeq.topics.dlqResults;
    requestReply_ = codeq::makeRequestReply(*queue_, rr);
    return okStatus();
  }

  std::unique_ptr<authn::Authenticator> authenticator_;
  std::unique_ptr<codeq::RequestReply> requestReply_;
};

class ControlService final : public FrontService {
 public:
  Status init(const config::Config& config) {
    if (auto s = initFront(config, "cs-control", config.csControl.http.addr,
                           "cs_control.http.addr", "control");
        !s.ok()) {
      return s;
    }
    control::ControlOptions options;
    options.limits.maxBundleBytes = config.csControl.limits.maxBundleBytes;
    options.limits.draftTtlSeconds = config.csControl.limits.draftTtlSeconds;
    options.limits.activationTtlSeconds = config.csControl.limits.activationTtlSeconds;
    options.invokeTopic = config.plugins.messaging.codeq.topics.invoke;
    control_ = std::make_unique<control::ControlApi>(options, *store_, *authenticator_, *queue_,
                                                     *requestReply_, clock_);
    control_->registerRoutes(*router_);
    // A bundle arrives base64-encoded inside JSON.
    serverOptions_.maxBodyBytes =
        static_cast<size_t>(config.csControl.limits.maxBundleBytes) * 4 / 3 + (1 << 20);
    return okStatus();
  }

 private:
  std::unique_ptr<control::ControlApi> control_;
};

class GatewayService final : public FrontService {
 public:
  Status init(const config::Config& config) {
    if (auto s = initFront(config, "cs-http-gateway", config.csHttpGateway.http.addr,
                           "cs_http_gateway.http.addr", "gateway");
        !s.ok()) {
      return s;
    }
    const auto& g = config.csHttpGateway;
    gateway::GatewayOptions options;
    options.limits.maxBodyBytes = static_cast<size_t>(g.limits.maxBodyBytes);
    options.limits.maxHeaderBytes = static_cast<size_t>(g.limits.maxHeaderBytes);
    options.limits.maxQueryBytes = static_cast<size_t>(g.limits.maxQueryBytes);
    options.rateLimits.tenantRps = static_cast<double>(g.rateLimits.tenantRps);
    options.rateLimits.functionRps = static_cast<double>(g.rateLimits.functionRps);
    options.rateLimits.ipRps = static_cast<double>(g.rateLimits.ipRps);
    gateway_ = std::make_unique<gateway::WebGateway>(options, *store_, *authenticator_,
                                                     *requestReply_, clock_);
    gateway_->registerRoutes(*router_);
    serverOptions_.maxBodyBytes = static_cast<size_t>(g.limits.maxBodyBytes);
    serverOptions_.maxHeaderBytes = static_cast<size_t>(g.limits.maxHeaderBytes);
    return okStatus();
  }

 private:
  std::unique_ptr<gateway::WebGateway> gateway_;
};

class InvokerService final : public ServiceBase {
 public:
  Status init(const config::Config& config) {
    if (auto s = initCommon(config, "cs-invoker-pool", config.csInvokerPool.http.addr,
                            "cs_invoker_pool.http.addr");
        !s.ok()) {
      return s;
    }
    const auto& c = config.csInvokerPool;
    engine_ = runtime::makeV8Engine({.warmIsolates = 2});
    observer_ = makeInvokerMetricsObserver(metrics_);
    addRuntimeMetrics(*metrics_);
    invoker::InvokerOptions options;
    options.workers.threads = static_cast<int>(c.workers.threads);
    options.workers.maxInflight = static_cast<int>(c.workers.maxInflight);
    options.cache.bundlesMax = static_cast<size_t>(c.cache.bundlesMax);
    options.cache.bytesMax = static_cast<size_t>(c.cache.bytesMax);
    options.limits.maxResultBytes = static_cast<size_t>(c.limits.maxResultBytes);
    options.limits.maxErrorBytes = static_cast<size_t>(c.limits.maxErrorBytes);
    options.limits.maxLogBytes = static_cast<size_t>(c.limits.maxLogBytes);
    options.activationTtlSeconds = c.activationTtlSeconds;
    options.ackTimeoutMs = c.ackTimeoutMs;
    options.topics.invoke = config.plugins.messaging.codeq.topics.invoke;
    options.topics.results = config.plugins.messaging.codeq.topics.results;
    options.topics.dlqInvoke = config.plugins.messaging.codeq.topics.dlqInvoke;
    options.consumer = replicaName("invoker");
    invoker::InvokerDeps deps{*store_, *queue_, *engine_, clock_, observer_.get(), {}, {}};
    wireHostApi(deps, c.httpFetch.allowLoopbackForTests);
    invoker_ = std::make_unique<invoker::Invoker>(options, std::move(deps));
    return okStatus();
  }
  Status start() override {
    if (auto s = startCommon(); !s.ok()) return s;
    if (auto s = invoker_->start(); !s.ok()) return s;
    return startServer();
  }
  void stop() override {
    if (invoker_) invoker_->stop();  // finishes in-flight activations
    if (server_) server_->stop();
    stopCommon();
  }

 private:
  std::unique_ptr<runtime::Engine> engine_;
  std::unique_ptr<invoker::InvocationObserver> observer_;
  std::unique_ptr<invoker::Invoker> invoker_;
};

// cs-scheduler and cs-cadence-poller (SPEC §2): configuration, storage and queue connections,
// /healthz, /readyz and /metrics, graceful stop. Their tick loop and Cadence pollers are the
// scheduler and Cadence issues; the process, its config and its probes are shared with them.
class ProbeService final : public ServiceBase {
 public:
  Status init(const config::Config& config) {
    if (config.service == config::Service::Scheduler) {
      return initCommon(config, "cs-scheduler", config.csScheduler.http.addr,
                        "cs_scheduler.http.addr");
    }
    return initCommon(config, "cs-cadence-poller", config.csCadencePoller.http.addr,
                      "cs_cadence_poller.http.addr");
  }
  Status start() override {
    if (auto s = startCommon(); !s.ok()) return s;
    return startServer();
  }
  void stop() override {
    if (server_) server_->stop();
    stopCommon();
  }
};

template <typename T>
Result<std::unique_ptr<Service>> build(const config::Config& config) {
  auto service = std::make_unique<T>();
  if (auto s = service->init(config); !s.ok()) return s.error();
  return std::unique_ptr<Service>(std::move(service));
}

}  // namespace

Result<std::unique_ptr<Service>> makeControlService(const config::Config& config) {
  return build<ControlService>(config);
}
Result<std::unique_ptr<Service>> makeGatewayService(const config::Config& config) {
  return build<GatewayService>(config);
}
Result<std::unique_ptr<Service>> makeInvokerService(const config::Config& config) {
  return build<InvokerService>(config);
}
Result<std::unique_ptr<Service>> makeSchedulerService(const config::Config& config) {
  return build<ProbeService>(config);
}
Result<std::unique_ptr<Service>> makeCadencePollerService(const config::Config& config) {
  return build<ProbeService>(config);
}

int serviceMain(int argc, char** argv, config::Service which,
                Result<std::unique_ptr<Service>> (*make)(const config::Config&)) {
  std::string name(config::serviceName(which));
  CLI::App app{name + " — a code-sous service (SPEC §2)"};
  std::string configPath;
  app.add_option("--config", configPath, "YAML config file (SPEC §15; env overrides CS_*)")
      ->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  config::Config config;
  try {
    config = config::loadConfigFile(configPath, which);
  } catch (const config::ConfigError& e) {
    std::cerr << "CS_VALIDATION_FAILED: config: " << e.what() << "\n";
    return 1;
  }
  // Block the stop signals before any thread starts; sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto service = make(config);
  if (!service.ok()) {
    std::cerr << service.error().name() << ": " << service.error().message << "\n";
    return 2;
  }
  if (auto s = (*service)->start(); !s.ok()) {
    std::cerr << s.error().name() << ": " << s.error().message << "\n";
    (*service)->stop();
    return 2;
  }
  int received = 0;
  sigwait(&signals, &received);
  (*service)->stop();
  return 0;
}

}  // namespace cs::platform
