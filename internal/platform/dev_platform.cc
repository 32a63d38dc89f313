#include "internal/platform/dev_platform.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "internal/authn/authn.h"
#include "internal/authn/keys.h"
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

namespace fs = std::filesystem;

cs::Result<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return cs::Error{cs::ErrorCode::Internal, "cannot read " + path.string()};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Dev final : public DevPlatform {
 public:
  explicit Dev(DevOptions options) : options_(std::move(options)) {}
  ~Dev() override { stop(); }

  Status init() {
    std::error_code ec;
    fs::create_directories(options_.dataDir, ec);
    if (ec) {
      return cs::Error{cs::ErrorCode::Internal,
                       "cannot create data dir " + options_.dataDir + ": " + ec.message()};
    }
    auto level = observability::parseLogLevel(options_.logLevel);
    if (!level.ok()) return level.error();
    observability::LoggerOptions logOptions;
    logOptions.service = "cs-dev";
    logOptions.level = *level;
    logger_ = observability::makeJsonLogger(logOptions);
    metrics_ = std::make_shared<observability::Metrics>();

    kv::SqliteOptions storeOptions;
    storeOptions.path = kv::sqlitePathInDataDir(options_.dataDir);
    auto store = kv::makeSqliteStore(storeOptions);
    if (!store.ok()) return store.error();
    store_ = std::move(*store);

    queue_ = codeq::makeEmbeddedQueue();

    std::string keyDir = (fs::path(options_.dataDir) / "keys").string();
    auto keys = authn::ensureKeyPair(keyDir);
    if (!keys.ok()) return keys.error();
    auto jwks = readFile(keys->jwksPath);
    if (!jwks.ok()) return jwks.error();
    jwks_ = *jwks;
    authn::DevOptions authOptions;
    authOptions.keyDir = keyDir;
    auto authenticator = authn::makeDevAuthenticator(authOptions);
    if (!authenticator.ok()) return authenticator.error();
    authenticator_ = std::move(*authenticator);

    authn::MintOptions mint;
    mint.tenant = options_.tenant;
    mint.sub = "dev-admin";
    mint.roles = {"admin", "developer", "invoker"};
    mint.ttlSeconds = 30 * 24 * 3600;
    mint.iss = std::string(authn::kDevIssuer);
    mint.aud = std::string(authn::kDevAudience);
    auto token = authn::mintToken(keys->privateKeyPath, mint);
    if (!token.ok()) return token.error();
    adminToken_ = *token;
    fs::path tokenPath = fs::path(options_.dataDir) / "admin.token";
    {
      std::ofstream out(tokenPath, std::ios::trunc);
      out << adminToken_ << "\n";
      if (!out) return cs::Error{cs::ErrorCode::Internal, "cannot write " + tokenPath.string()};
    }
    ::chmod(tokenPath.c_str(), 0600);

    engine_ = runtime::makeV8Engine({.warmIsolates = static_cast<size_t>(options_.warmIsolates)});
    invokerObserver_ = makeInvokerMetricsObserver(metrics_);
    addRuntimeMetrics(*metrics_);

    invoker::InvokerOptions invokerOptions;
    invokerOptions.workers.threads = options_.invokerThreads;
    invokerOptions.consumer = "cs-dev-invoker";
    invoker::InvokerDeps deps{*store_, *queue_, *engine_, clock_, invokerObserver_.get(), {}, {}};
    wireHostApi(deps, options_.allowLoopbackFetchForTests);
    invoker_ = std::make_unique<invoker::Invoker>(invokerOptions, std::move(deps));

    codeq::RequestReplyOptions rr;
    rr.replyTopic = "cs.reply.dev-" + crypto::randomHex(4);
    rr.consumer = "cs-dev";
    requestReply_ = codeq::makeRequestReply(*queue_, rr);

    control_ = std::make_unique<control::ControlApi>(control::ControlOptions{}, *store_,
                                                     *authenticator_, *queue_, *requestReply_,
                                                     clock_);
    gateway::GatewayOptions gatewayOptions;
    gatewayOptions.rateLimits.tenantRps = options_.tenantRps;
    gatewayOptions.rateLimits.functionRps = options_.functionRps;
    gatewayOptions.rateLimits.ipRps = options_.ipRps;
    gateway_ = std::make_unique<gateway::WebGateway>(gatewayOptions, *store_,
                                                     *authenticator_, *requestReply_, clock_);

    auto router = std::make_shared<http::Router>();
    control_->registerRoutes(*router);
    gateway_->registerRoutes(*router);
    router->add("GET", "/.well-known/jwks.json", [this](http::Request&, http::Responder r) {
      r.send(http::Response::text(200, jwks_, "application/json"));
    });
    observability::addOpsRoutes(
        *router,
        {{"storage", [this] { return store_->ping(); }},
         {"queue", [this] { return queue_->ping(); }}},
        metrics_);

    http::ServerOptions serverOptions;
    serverOptions.host = options_.host;
    serverOptions.port = options_.port;
    serverOptions.workerThreads = options_.httpWorkerThreads;
    serverOptions.serviceName = "cs-dev";
    // One port serves the control API too: a 16 MiB bundle arrives base64-encoded in JSON.
    // The gateway enforces its own 6 MiB body limit on /v1/web.
    serverOptions.maxBodyBytes = 24 * 1024 * 1024;
    server_ = http::makeServer(serverOptions, router,
                               std::make_shared<observability::ApiRequestObserver>(metrics_, logger_));
    return cs::okStatus();
  }

  Status start() override {
    if (auto s = store_->start(); !s.ok()) return s;
    if (auto s = queue_->start(); !s.ok()) return s;
    if (auto s = invoker_->start(); !s.ok()) return s;
    if (auto s = requestReply_->start(); !s.ok()) return s;
    if (auto s = server_->start(); !s.ok()) return s;
    started_ = true;
    logger_->info("cs dev started", {}, {{"api_url", apiUrl()}, {"tenant", options_.tenant},
                                         {"data_dir", options_.dataDir}});
    return cs::okStatus();
  }

  void stop() override {
    if (!started_) return;
    started_ = false;
    server_->stop();
    requestReply_->stop();
    invoker_->stop();
    queue_->stop();
    store_->stop();
  }

  uint16_t port() const override { return server_->port(); }
  std::string apiUrl() const override {
    return "http://" + options_.host + ":" + std::to_string(port());
  }
  const std::string& adminToken() const override { return adminToken_; }
  const std::string& tenant() const override { return options_.tenant; }

 private:
  DevOptions options_;
  kv::SystemClock clock_;
  std::shared_ptr<observability::Logger> logger_;
  std::shared_ptr<observability::Metrics> metrics_;
  std::unique_ptr<kv::Store> store_;
  std::unique_ptr<codeq::EmbeddedQueue> queue_;
  std::unique_ptr<authn::Authenticator> authenticator_;
  std::string jwks_;
  std::string adminToken_;
  std::unique_ptr<runtime::Engine> engine_;
  std::unique_ptr<invoker::InvocationObserver> invokerObserver_;
  std::unique_ptr<invoker::Invoker> invoker_;
  std::unique_ptr<codeq::RequestReply> requestReply_;
  std::unique_ptr<control::ControlApi> control_;
  std::unique_ptr<gateway::WebGateway> gateway_;
  std::unique_ptr<http::Server> server_;
  bool started_ = false;
};

}  // namespace

Result<std::unique_ptr<DevPlatform>> makeDevPlatform(const DevOptions& options) {
  auto dev = std::make_unique<Dev>(options);
  if (auto s = dev->init(); !s.ok()) return s.error();
  return std::unique_ptr<DevPlatform>(std::move(dev));
}

}  // namespace cs::platform
