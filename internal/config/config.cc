#include "internal/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

extern char** environ;

namespace cs::config {
namespace {

// Top-level keys; also the prefixes of environment variables we own.
const std::vector<std::string> kTopLevelKeys = {
    "cluster_name", "environment", "logging", "plugins", "cs_control", "cs_http_gateway",
    "cs_invoker_pool", "cs_scheduler", "cs_cadence_poller"};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw ConfigError(path + ": " + what);
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += sep;
    out += items[i];
  }
  return out;
}

// State shared by all Section readers of one load: the env and which of its names were used.
struct LoadContext {
  const Env& env;
  std::set<std::string> consumedEnv;
};

// One scalar value with where it came from, for error messages.
struct RawValue {
  std::string text;
  std::string origin;  // "" for YAML, " (from env CS_...)" for env
};

// Reads one YAML mapping. Every accessor records its key as known; finish() rejects the rest.
class Section {
 public:
  Section(YAML::Node node, std::string path, LoadContext& ctx)
      // A missing key yields an invalid ("zombie") node on which most calls (even operator=)
      // throw, so it is replaced by a null node before anything else touches it.
      : node_(node.IsDefined() ? node : YAML::Node()), path_(std::move(path)), ctx_(ctx) {
    if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
      fail(path_.empty() ? "<root>" : path_, "expected a mapping");
    }
  }

  Section child(const std::string& key) {
    known_.insert(key);
    return Section(node_.IsMap() ? constNode()[key] : YAML::Node(), keyPath(key), ctx_);
  }

  std::optional<RawValue> raw(const std::string& key) {
    known_.insert(key);
    const std::string path = keyPath(key);
    const std::string envName = envVarName(path);
    if (auto it = ctx_.env.find(envName); it != ctx_.env.end()) {
      ctx_.consumedEnv.insert(envName);
      if (!it->second.empty()) return RawValue{it->second, " (from env " + envName + ")"};
    }
    if (!node_.IsMap()) return std::nullopt;
    const YAML::Node value = constNode()[key];
    if (!value.IsDefined() || value.IsNull()) return std::nullopt;
    if (!value.IsScalar()) fail(path, "expected a scalar value, got a mapping or a list");
    return RawValue{value.Scalar(), ""};
  }

  void str(const std::string& key, std::string& out) {
    if (auto v = raw(key)) out = v->text;
  }

  // Integer with an inclusive minimum (and optional maximum).
  void integer(const std::string& key, int64_t& out, int64_t min,
               int64_t max = INT64_MAX) {
    auto v = raw(key);
    if (!v) return;
    const std::string path = keyPath(key);
    int64_t parsed = 0;
    const char* begin = v->text.data();
    const char* end = begin + v->text.size();
    auto [ptr, ec] = std::from_chars(begin, end, parsed);
    if (ec != std::errc() || ptr != end || v->text.empty()) {
      fail(path, "expected an integer, got '" + v->text + "'" + v->origin);
    }
    if (parsed < min || parsed > max) {
      std::string range = max == INT64_MAX ? ">= " + std::to_string(min)
                                           : std::to_string(min) + ".." + std::to_string(max);
      fail(path, "must be " + range + ", got " + v->text + v->origin);
    }
    out = parsed;
  }

  void positive(const std::string& key, int64_t& out, int64_t max = INT64_MAX) {
    integer(key, out, 1, max);
  }

  void boolean(const std::string& key, bool& out) {
    auto v = raw(key);
    if (!v) return;
    static const std::set<std::string> kTrue = {"true", "True", "TRUE", "yes", "on", "1"};
    static const std::set<std::string> kFalse = {"false", "False", "FALSE", "no", "off", "0"};
    if (kTrue.count(v->text) != 0) {
      out = true;
    } else if (kFalse.count(v->text) != 0) {
      out = false;
    } else {
      fail(keyPath(key), "expected a boolean (true|false), got '" + v->text + "'" + v->origin);
    }
  }

  template <typename E>
  std::optional<E> enumeration(const std::string& key,
                               const std::vector<std::pair<std::string, E>>& table) {
    auto v = raw(key);
    if (!v) return std::nullopt;
    std::vector<std::string> names;
    for (const auto& [name, value] : table) {
      if (name == v->text) return value;
      names.push_back(name);
    }
    fail(keyPath(key), "must be one of " + join(names, "|") + ", got '" + v->text + "'" +
                           v->origin);
  }

  // Rejects keys no accessor asked for.
  void finish() const {
    if (!node_.IsMap()) return;
    for (const auto& entry : node_) {
      if (!entry.first.IsScalar()) fail(path_.empty() ? "<root>" : path_, "keys must be strings");
      const std::string key = entry.first.Scalar();
      if (known_.count(key) == 0) {
        std::vector<std::string> allowed(known_.begin(), known_.end());
        fail(keyPath(key), "unknown key (allowed here: " + join(allowed, ", ") + ")");
      }
    }
  }

  std::string keyPath(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

 private:
  // Lookups through a const node never insert the key (non-const operator[] may).
  const YAML::Node& constNode() const { return node_; }

  YAML::Node node_;
  std::string path_;
  LoadContext& ctx_;
  std::set<std::string> known_;
};

const std::vector<std::pair<std::string, AuthnDriver>> kAuthnDrivers = {
    {"tikti", AuthnDriver::Tikti}, {"dev", AuthnDriver::Dev}};
const std::vector<std::pair<std::string, PersistenceDriver>> kPersistenceDrivers = {
    {"kvrocks", PersistenceDriver::Kvrocks}, {"embedded", PersistenceDriver::Embedded}};
const std::vector<std::pair<std::string, MessagingDriver>> kMessagingDrivers = {
    {"streams", MessagingDriver::Streams},
    {"codeq", MessagingDriver::Codeq},
    {"embedded", MessagingDriver::Embedded}};
const std::vector<std::pair<std::string, KvrocksAuthMode>> kAuthModes = {
    {"none", KvrocksAuthMode::None}, {"password", KvrocksAuthMode::Password}};
const std::vector<std::pair<std::string, LeaderDriver>> kLeaderDrivers = {
    {"kvrocks", LeaderDriver::Kvrocks}, {"kubernetes", LeaderDriver::Kubernetes}};
const std::vector<std::pair<std::string, LogLevel>> kLogLevels = {
    {"trace", LogLevel::Trace}, {"debug", LogLevel::Debug}, {"info", LogLevel::Info},
    {"warn", LogLevel::Warn},   {"error", LogLevel::Error}};

// Values that only decoding knows (was a driver given at all?), used by validation.
struct Presence {
  std::optional<AuthnDriver> authn;
  std::optional<PersistenceDriver> persistence;
  std::optional<MessagingDriver> messaging;
};

void readHttp(Section section, HttpListenConfig& out) {
  section.str("addr", out.addr);
  section.finish();
}

Presence decodePlugins(Section plugins, PluginsConfig& out) {
  Presence presence;
  {
    Section authn = plugins.child("authn");
    presence.authn = authn.enumeration("driver", kAuthnDrivers);
    Section tikti = authn.child("tikti");
    TiktiConfig& t = out.authn.tikti;
    tikti.str("jwks_url", t.jwksUrl);
    tikti.str("jwks_file", t.jwksFile);
    tikti.str("introspection_url", t.introspectionUrl);
    tikti.str("issuer", t.issuer);
    tikti.str("audience", t.audience);
    tikti.positive("cache_ttl_seconds", t.cacheTtlSeconds);
    tikti.str("api_key", t.apiKey);
    tikti.finish();
    authn.finish();
  }
  {
    Section persistence = plugins.child("persistence");
    presence.persistence = persistence.enumeration("driver", kPersistenceDrivers);
    Section kvrocks = persistence.child("kvrocks");
    kvrocks.str("addr", out.persistence.kvrocks.addr);
    Section auth = kvrocks.child("auth");
    if (auto mode = auth.enumeration("mode", kAuthModes)) out.persistence.kvrocks.authMode = *mode;
    auth.str("password", out.persistence.kvrocks.password);
    auth.finish();
    kvrocks.finish();
    Section embedded = persistence.child("embedded");
    embedded.str("path", out.persistence.embedded.path);
    embedded.finish();
    persistence.finish();
  }
  {
    Section messaging = plugins.child("messaging");
    presence.messaging = messaging.enumeration("driver", kMessagingDrivers);
    Section streams = messaging.child("streams");
    streams.str("addr", out.messaging.streams.addr);
    streams.finish();
    Section codeq = messaging.child("codeq");
    CodeqConfig& c = out.messaging.codeq;
    codeq.str("base_url", c.baseUrl);
    codeq.str("producer_token", c.producerToken);
    codeq.str("worker_token", c.workerToken);
    Section topics = codeq.child("topics");
    topics.str("invoke", c.topics.invoke);
    topics.str("results", c.topics.results);
    topics.str("dlq_invoke", c.topics.dlqInvoke);
    topics.str("dlq_results", c.topics.dlqResults);
    topics.finish();
    codeq.finish();
    messaging.finish();
  }
  plugins.finish();
  return presence;
}

void decodeControl(Section s, ControlConfig& out) {
  readHttp(s.child("http"), out.http);
  Section limits = s.child("limits");
  limits.positive("max_bundle_bytes", out.limits.maxBundleBytes);
  limits.positive("draft_ttl_seconds", out.limits.draftTtlSeconds);
  limits.positive("activation_ttl_seconds", out.limits.activationTtlSeconds);
  limits.finish();
  s.finish();
}

void decodeGateway(Section s, HttpGatewayConfig& out) {
  readHttp(s.child("http"), out.http);
  Section limits = s.child("limits");
  limits.positive("max_body_bytes", out.limits.maxBodyBytes);
  limits.positive("max_header_bytes", out.limits.maxHeaderBytes);
  limits.positive("max_query_bytes", out.limits.maxQueryBytes);
  limits.finish();
  Section rate = s.child("rate_limits");
  rate.positive("tenant_rps", out.rateLimits.tenantRps);
  rate.positive("function_rps", out.rateLimits.functionRps);
  rate.positive("ip_rps", out.rateLimits.ipRps);
  rate.finish();
  s.finish();
}

void decodeInvoker(Section s, InvokerPoolConfig& out) {
  readHttp(s.child("http"), out.http);
  Section workers = s.child("workers");
  workers.positive("threads", out.workers.threads, 1024);
  workers.positive("max_inflight", out.workers.maxInflight);
  workers.finish();
  Section cache = s.child("cache");
  cache.positive("bundles_max", out.cache.bundlesMax);
  cache.positive("bytes_max", out.cache.bytesMax);
  cache.finish();
  Section limits = s.child("limits");
  limits.positive("max_result_bytes", out.limits.maxResultBytes);
  limits.positive("max_error_bytes", out.limits.maxErrorBytes);
  limits.positive("max_log_bytes", out.limits.maxLogBytes);
  limits.finish();
  s.positive("activation_ttl_seconds", out.activationTtlSeconds);
  s.positive("ack_timeout_ms", out.ackTimeoutMs);
  Section fetch = s.child("http_fetch");
  fetch.boolean("allow_loopback_for_tests", out.httpFetch.allowLoopbackForTests);
  fetch.finish();
  s.finish();
}

void decodeScheduler(Section s, SchedulerConfig& out) {
  readHttp(s.child("http"), out.http);
  s.positive("tick_ms", out.tickMs);
  s.integer("max_catchup_ticks", out.maxCatchupTicks, 0);
  Section le = s.child("leader_election");
  le.boolean("enabled", out.leaderElection.enabled);
  if (auto d = le.enumeration("driver", kLeaderDrivers)) out.leaderElection.driver = *d;
  le.str("lease_name", out.leaderElection.leaseName);
  le.positive("lease_seconds", out.leaderElection.leaseSeconds);
  le.finish();
  s.finish();
}

void decodePoller(Section s, CadencePollerConfig& out) {
  readHttp(s.child("http"), out.http);
  Section cadence = s.child("cadence");
  cadence.str("addr", out.cadence.addr);
  cadence.finish();
  s.positive("refresh_seconds", out.refreshSeconds);
  Section hb = s.child("heartbeat");
  hb.positive("max_per_second", out.heartbeat.maxPerSecond);
  hb.finish();
  Section limits = s.child("limits");
  limits.positive("max_inflight_tasks_default", out.limits.maxInflightTasksDefault, 100000);
  limits.finish();
  s.finish();
}

// "host:port", "[v6]:port"; unix sockets ("unix:/path") only where allowUnix.
void checkAddr(const std::string& path, const std::string& value, bool allowPortZero,
               bool allowUnix) {
  if (allowUnix && value.rfind("unix:", 0) == 0) {
    if (value.size() <= 5) fail(path, "unix socket address needs a path, got '" + value + "'");
    return;
  }
  const auto colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) {
    fail(path, "expected host:port, got '" + value + "'");
  }
  const std::string port = value.substr(colon + 1);
  int number = -1;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  const int minPort = allowPortZero ? 0 : 1;
  if (ec != std::errc() || ptr != port.data() + port.size() || number < minPort ||
      number > 65535) {
    fail(path, "invalid port in '" + value + "'");
  }
}

void checkUrl(const std::string& path, const std::string& value) {
  if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) {
    fail(path, "expected an http:// or https:// URL, got '" + value + "'");
  }
  if (value.find_first_of(" \t\r\n") != std::string::npos) {
    fail(path, "URL must not contain whitespace");
  }
}

void require(const std::string& path, const std::string& value, const std::string& why) {
  if (value.empty()) fail(path, "required " + why);
}

void checkTopic(const std::string& path, const std::string& value) {
  require(path, value, "(topic name)");
  if (value.size() > 256 || value.find_first_of(" \t\r\n") != std::string::npos) {
    fail(path, "invalid topic name '" + value + "'");
  }
}

void validate(Config& cfg, Service service, const Presence& presence) {
  const bool dev = service == Service::Dev;
  const std::string forService = std::string("for ") + std::string(serviceName(service));
  PluginsConfig& p = cfg.plugins;

  // Drivers: `cs dev` defaults to everything in-process; real services must say.
  if (presence.persistence) {
    p.persistence.driver = *presence.persistence;
  } else if (!dev) {
    fail("plugins.persistence.driver", "required " + forService + " (one of kvrocks|embedded)");
  }
  if (presence.messaging) {
    p.messaging.driver = *presence.messaging;
  } else if (!dev) {
    fail("plugins.messaging.driver",
         "required " + forService + " (one of streams|codeq|embedded)");
  }
  p.authn.driver = presence.authn;
  if (!p.authn.driver) {
    if (dev) {
      p.authn.driver = AuthnDriver::Dev;
    } else if (service == Service::Control || service == Service::HttpGateway) {
      fail("plugins.authn.driver", "required " + forService + " (one of tikti|dev)");
    }
  }

  if (p.authn.driver == AuthnDriver::Tikti) {
    const TiktiConfig& t = p.authn.tikti;
    if (t.jwksUrl.empty() && t.jwksFile.empty()) {
      fail("plugins.authn.tikti.jwks_url",
           "required when plugins.authn.driver is tikti (or set plugins.authn.tikti.jwks_file)");
    }
    if (!t.jwksUrl.empty()) checkUrl("plugins.authn.tikti.jwks_url", t.jwksUrl);
    if (!t.introspectionUrl.empty()) {
      checkUrl("plugins.authn.tikti.introspection_url", t.introspectionUrl);
    }
    require("plugins.authn.tikti.issuer", t.issuer, "when plugins.authn.driver is tikti");
    require("plugins.authn.tikti.audience", t.audience, "when plugins.authn.driver is tikti");
  }

  if (p.persistence.driver == PersistenceDriver::Kvrocks) {
    const KvrocksConfig& k = p.persistence.kvrocks;
    require("plugins.persistence.kvrocks.addr", k.addr,
            "when plugins.persistence.driver is kvrocks");
    checkAddr("plugins.persistence.kvrocks.addr", k.addr, false, true);
    if (k.authMode == KvrocksAuthMode::Password) {
      require("plugins.persistence.kvrocks.auth.password", k.password,
              "when plugins.persistence.kvrocks.auth.mode is password");
    }
  } else {
    require("plugins.persistence.embedded.path", p.persistence.embedded.path,
            "when plugins.persistence.driver is embedded");
  }

  if (p.messaging.driver == MessagingDriver::Streams) {
    if (p.messaging.streams.addr.empty()) p.messaging.streams.addr = p.persistence.kvrocks.addr;
    require("plugins.messaging.streams.addr", p.messaging.streams.addr,
            "when plugins.messaging.driver is streams (defaults to "
            "plugins.persistence.kvrocks.addr, which is empty)");
    checkAddr("plugins.messaging.streams.addr", p.messaging.streams.addr, false, true);
  } else if (p.messaging.driver == MessagingDriver::Codeq) {
    const CodeqConfig& c = p.messaging.codeq;
    const std::string why = "when plugins.messaging.driver is codeq";
    require("plugins.messaging.codeq.base_url", c.baseUrl, why);
    checkUrl("plugins.messaging.codeq.base_url", c.baseUrl);
    require("plugins.messaging.codeq.producer_token", c.producerToken, why);
    require("plugins.messaging.codeq.worker_token", c.workerToken, why);
  }
  const CodeqTopics& topics = p.messaging.codeq.topics;
  checkTopic("plugins.messaging.codeq.topics.invoke", topics.invoke);
  checkTopic("plugins.messaging.codeq.topics.results", topics.results);
  checkTopic("plugins.messaging.codeq.topics.dlq_invoke", topics.dlqInvoke);
  checkTopic("plugins.messaging.codeq.topics.dlq_results", topics.dlqResults);

  // Listen addresses: port 0 is allowed so tests can bind an ephemeral port.
  const std::pair<const char*, const std::string*> listens[] = {
      {"cs_control.http.addr", &cfg.csControl.http.addr},
      {"cs_http_gateway.http.addr", &cfg.csHttpGateway.http.addr},
      {"cs_invoker_pool.http.addr", &cfg.csInvokerPool.http.addr},
      {"cs_scheduler.http.addr", &cfg.csScheduler.http.addr},
      {"cs_cadence_poller.http.addr", &cfg.csCadencePoller.http.addr}};
  for (const auto& [path, value] : listens) {
    require(path, *value, "(listen address host:port)");
    checkAddr(path, *value, true, false);
  }

  if (cfg.csScheduler.leaderElection.enabled) {
    require("cs_scheduler.leader_election.lease_name", cfg.csScheduler.leaderElection.leaseName,
            "when cs_scheduler.leader_election.enabled is true");
  }

  if (service == Service::CadencePoller) {
    require("cs_cadence_poller.cadence.addr", cfg.csCadencePoller.cadence.addr, forService);
  }
  if (!cfg.csCadencePoller.cadence.addr.empty()) {
    checkAddr("cs_cadence_poller.cadence.addr", cfg.csCadencePoller.cadence.addr, false, false);
  }
}

// A CS_* variable aimed at one of our sections but matching no key is a typo: reject it.
void rejectUnusedEnv(const LoadContext& ctx) {
  for (const auto& [name, value] : ctx.env) {
    if (ctx.consumedEnv.count(name) != 0) continue;
    for (const std::string& key : kTopLevelKeys) {
      const std::string exact = envVarName(key);
      if (name == exact || name.rfind(exact + "__", 0) == 0) {
        throw ConfigError(name + ": environment variable matches no configuration key");
      }
    }
  }
}

}  // namespace

std::string_view serviceName(Service service) {
  switch (service) {
    case Service::Control: return "cs-control";
    case Service::HttpGateway: return "cs-http-gateway";
    case Service::InvokerPool: return "cs-invoker-pool";
    case Service::Scheduler: return "cs-scheduler";
    case Service::CadencePoller: return "cs-cadence-poller";
    case Service::Dev: return "cs-dev";
  }
  return "unknown";
}

std::string envVarName(std::string_view dottedPath) {
  std::string out = "CS_";
  for (char c : dottedPath) {
    if (c == '.') {
      out += "__";
    } else {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

Env processEnv() {
  Env env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view item(*entry);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  return env;
}

namespace {
Config decodeAndValidate(const YAML::Node& root, Service service, const Env& env);
}  // namespace

Config loadConfigString(std::string_view yaml, Service service, const Env& env) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw ConfigError(std::string("<yaml>: cannot parse config: ") + e.what());
  }

  try {
    return decodeAndValidate(root, service, env);
  } catch (const YAML::Exception& e) {
    // Defensive: every expected shape problem is reported by Section, this is a last resort.
    throw ConfigError(std::string("<yaml>: ") + e.what());
  }
}

namespace {
Config decodeAndValidate(const YAML::Node& root, Service service, const Env& env) {
  LoadContext ctx{env, {}};
  Config cfg;
  cfg.service = service;
  Section top(root, "", ctx);
  top.str("cluster_name", cfg.clusterName);
  top.str("environment", cfg.environment);
  {
    Section logging = top.child("logging");
    if (auto level = logging.enumeration("level", kLogLevels)) cfg.logging.level = *level;
    logging.finish();
  }
  const Presence presence = decodePlugins(top.child("plugins"), cfg.plugins);
  decodeControl(top.child("cs_control"), cfg.csControl);
  decodeGateway(top.child("cs_http_gateway"), cfg.csHttpGateway);
  decodeInvoker(top.child("cs_invoker_pool"), cfg.csInvokerPool);
  decodeScheduler(top.child("cs_scheduler"), cfg.csScheduler);
  decodePoller(top.child("cs_cadence_poller"), cfg.csCadencePoller);
  top.finish();
  rejectUnusedEnv(ctx);

  require("cluster_name", cfg.clusterName, "(non-empty string)");
  validate(cfg, service, presence);
  return cfg;
}
}  // namespace

Config loadConfigFile(const std::string& path, Service service) {
  return loadConfigFile(path, service, processEnv());
}

Config loadConfigFile(const std::string& path, Service service, const Env& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot read config file");
  return loadConfigString(text.str(), service, env);
}

}  // namespace cs::config
