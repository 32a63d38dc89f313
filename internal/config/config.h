// Process configuration (SPEC §15): one YAML file plus CS_* environment overrides, decoded into
// a plain struct tree with the SPEC §14 defaults, validated once at start-up.
//
// Loading is start-up code: every problem throws ConfigError whose message starts with the full
// dotted key path (e.g. "plugins.persistence.kvrocks.addr: required ..."). Unknown keys are
// rejected at every level so typos never pass silently. The result is a value type; share it
// by const reference, it is never mutated after loading.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cs::config {

// Which binary is loading the config; decides which fields are required.
enum class Service { Control, HttpGateway, InvokerPool, Scheduler, CadencePoller, Dev };

// "cs-control", "cs-http-gateway", "cs-invoker-pool", "cs-scheduler", "cs-cadence-poller", "cs-dev".
std::string_view serviceName(Service service);

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class AuthnDriver { Tikti, Dev };
enum class PersistenceDriver { Kvrocks, Embedded };
enum class MessagingDriver { Streams, Codeq, Embedded };
enum class KvrocksAuthMode { None, Password };
enum class LeaderDriver { Kvrocks, Kubernetes };
enum class LogLevel { Trace, Debug, Info, Warn, Error };

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;

struct TiktiConfig {
  std::string jwksUrl;           // http(s) URL of /.well-known/jwks.json
  std::string jwksFile;          // local JWKS file (alternative to jwksUrl, e.g. mounted secret)
  std::string introspectionUrl;  // optional fallback for tokens that fail offline checks
  std::string issuer;
  std::string audience;
  int64_t cacheTtlSeconds = 300;  // how long fetched keys are trusted
  std::string apiKey;             // sent to the introspection endpoint
};

struct AuthnConfig {
  std::optional<AuthnDriver> driver;  // unset only for services that authenticate nobody
  TiktiConfig tikti;
};

struct KvrocksConfig {
  std::string addr;  // "host:port" or "unix:/path/to.sock"
  KvrocksAuthMode authMode = KvrocksAuthMode::None;
  std::string password;
};

struct EmbeddedStoreConfig {
  std::string path = ".code-sous/cs.sqlite3";
};

struct PersistenceConfig {
  PersistenceDriver driver = PersistenceDriver::Embedded;
  KvrocksConfig kvrocks;
  EmbeddedStoreConfig embedded;
};

struct StreamsConfig {
  // Redis Streams server; when unset in YAML/env, plugins.persistence.kvrocks.addr is used.
  std::string addr;
};

struct CodeqTopics {
  std::string invoke = "cs.invoke";
  std::string results = "cs.results";
  std::string dlqInvoke = "cs.dlq.invoke";
  std::string dlqResults = "cs.dlq.results";
};

struct CodeqConfig {
  std::string baseUrl;
  std::string producerToken;
  std::string workerToken;
  CodeqTopics topics;  // topic names are shared by every messaging driver
};

struct MessagingConfig {
  MessagingDriver driver = MessagingDriver::Embedded;
  StreamsConfig streams;
  CodeqConfig codeq;
};

struct PluginsConfig {
  AuthnConfig authn;
  PersistenceConfig persistence;
  MessagingConfig messaging;
};

struct HttpListenConfig {
  std::string addr;  // "host:port"
};

struct ControlConfig {
  HttpListenConfig http{"0.0.0.0:8080"};
  struct Limits {
    int64_t maxBundleBytes = 16 * kMiB;
    int64_t draftTtlSeconds = 86400;
    int64_t activationTtlSeconds = 604800;
  } limits;
};

struct HttpGatewayConfig {
  HttpListenConfig http{"0.0.0.0:8081"};
  struct Limits {
    int64_t maxBodyBytes = 6 * kMiB;
    int64_t maxHeaderBytes = 64 * kKiB;
    int64_t maxQueryBytes = 16 * kKiB;
  } limits;
  struct RateLimits {
    int64_t tenantRps = 200;
    int64_t functionRps = 20;
    int64_t ipRps = 100;
  } rateLimits;
};

struct InvokerPoolConfig {
  HttpListenConfig http{"0.0.0.0:8082"};
  struct Workers {
    int64_t threads = 2;
    int64_t maxInflight = 64;
  } workers;
  struct Cache {
    int64_t bundlesMax = 1000;
    int64_t bytesMax = 512 * kMiB;
  } cache;
  struct Limits {
    int64_t maxResultBytes = 256 * kKiB;
    int64_t maxErrorBytes = 64 * kKiB;
    int64_t maxLogBytes = 1 * kMiB;
  } limits;
  int64_t activationTtlSeconds = 604800;  // TTL of activation + log records the invoker writes
  // A delivery not acked within this time (e.g. its invoker crashed) is redelivered to another
  // invoker. Must exceed the longest function timeout (900 s) plus queueing slack.
  int64_t ackTimeoutMs = 960000;
  struct HttpFetch {
    // cs.http.fetch may reach 127.0.0.0/8 and ::1. Tests only; never in production.
    bool allowLoopbackForTests = false;
  } httpFetch;
};

struct SchedulerConfig {
  HttpListenConfig http{"0.0.0.0:8083"};  // health/metrics only
  int64_t tickMs = 1000;
  int64_t maxCatchupTicks = 60;
  struct LeaderElection {
    bool enabled = true;  // false: this replica always leads (single-replica deployments)
    LeaderDriver driver = LeaderDriver::Kvrocks;
    std::string leaseName = "cs-scheduler";
    int64_t leaseSeconds = 15;
  } leaderElection;
};

struct CadencePollerConfig {
  HttpListenConfig http{"0.0.0.0:8084"};  // health/metrics only
  struct Cadence {
    std::string addr;  // Cadence frontend gRPC "host:port"
  } cadence;
  int64_t refreshSeconds = 30;
  struct Heartbeat {
    int64_t maxPerSecond = 2;
  } heartbeat;
  struct Limits {
    int64_t maxInflightTasksDefault = 100;
  } limits;
};

struct LoggingConfig {
  LogLevel level = LogLevel::Info;
};

struct Config {
  Service service = Service::Dev;
  std::string clusterName = "code-sous";
  std::string environment = "development";
  LoggingConfig logging;
  PluginsConfig plugins;
  ControlConfig csControl;
  HttpGatewayConfig csHttpGateway;
  InvokerPoolConfig csInvokerPool;
  SchedulerConfig csScheduler;
  CadencePollerConfig csCadencePoller;
};

// Environment variables by name; injected so tests never touch the process environment.
using Env = std::map<std::string, std::string, std::less<>>;

// Snapshot of the process environment (`environ`).
Env processEnv();

// "plugins.persistence.kvrocks.addr" -> "CS_PLUGINS__PERSISTENCE__KVROCKS__ADDR".
std::string envVarName(std::string_view dottedPath);

// Parses YAML text, applies overrides from env, fills defaults, validates for service.
// Throws ConfigError naming the offending key.
Config loadConfigString(std::string_view yaml, Service service, const Env& env = {});

// Reads path, then loadConfigString with the process environment (or the given one).
Config loadConfigFile(const std::string& path, Service service);
Config loadConfigFile(const std::string& path, Service service, const Env& env);

}  // namespace cs::config
