#include "internal/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace cs::config {
namespace {

using ::testing::HasSubstr;

const Service kAllServices[] = {Service::Control,   Service::HttpGateway,
                                Service::InvokerPool, Service::Scheduler,
                                Service::CadencePoller, Service::Dev};

// The smallest config every non-dev service accepts.
const char* kMinimal = R"(
plugins:
  authn:
    driver: dev
  persistence:
    driver: kvrocks
    kvrocks:
      addr: 127.0.0.1:6379
  messaging:
    driver: streams
cs_cadence_poller:
  cadence:
    addr: 127.0.0.1:7833
)";

// Loads and returns the ConfigError message ("" when loading succeeded).
std::string errorOf(const std::string& yaml, Service service, const Env& env = {}) {
  try {
    loadConfigString(yaml, service, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigTest, ConfigErrorIsRuntimeError) {
  EXPECT_THROW(loadConfigString("", Service::Control), std::runtime_error);
}

TEST(ConfigTest, EnvVarNaming) {
  EXPECT_EQ(envVarName("plugins.persistence.kvrocks.addr"),
            "CS_PLUGINS__PERSISTENCE__KVROCKS__ADDR");
  EXPECT_EQ(envVarName("cs_invoker_pool.workers.threads"), "CS_CS_INVOKER_POOL__WORKERS__THREADS");
  EXPECT_EQ(envVarName("cluster_name"), "CS_CLUSTER_NAME");
}

TEST(ConfigTest, DevNeedsNothingAndGetsEmbeddedDefaults) {
  Config cfg = loadConfigString("", Service::Dev);
  EXPECT_EQ(cfg.service, Service::Dev);
  EXPECT_EQ(cfg.plugins.persistence.driver, PersistenceDriver::Embedded);
  EXPECT_EQ(cfg.plugins.messaging.driver, MessagingDriver::Embedded);
  ASSERT_TRUE(cfg.plugins.authn.driver.has_value());
  EXPECT_EQ(*cfg.plugins.authn.driver, AuthnDriver::Dev);
  EXPECT_FALSE(cfg.plugins.persistence.embedded.path.empty());
}

TEST(ConfigTest, DefaultsFollowSpec14) {
  Config cfg = loadConfigString(kMinimal, Service::InvokerPool);
  EXPECT_EQ(cfg.clusterName, "code-sous");
  EXPECT_EQ(cfg.logging.level, LogLevel::Info);
  const CodeqTopics& t = cfg.plugins.messaging.codeq.topics;
  EXPECT_EQ(t.invoke, "cs.invoke");
  EXPECT_EQ(t.results, "cs.results");
  EXPECT_EQ(t.dlqInvoke, "cs.dlq.invoke");
  EXPECT_EQ(t.dlqResults, "cs.dlq.results");
  EXPECT_EQ(cfg.plugins.authn.tikti.cacheTtlSeconds, 300);
  EXPECT_EQ(cfg.plugins.persistence.kvrocks.authMode, KvrocksAuthMode::None);

  EXPECT_EQ(cfg.csControl.http.addr, "0.0.0.0:8080");
  EXPECT_EQ(cfg.csControl.limits.maxBundleBytes, 16 * 1024 * 1024);
  EXPECT_EQ(cfg.csControl.limits.draftTtlSeconds, 86400);
  EXPECT_EQ(cfg.csControl.limits.activationTtlSeconds, 604800);

  EXPECT_EQ(cfg.csHttpGateway.http.addr, "0.0.0.0:8081");
  EXPECT_EQ(cfg.csHttpGateway.limits.maxBodyBytes, 6 * 1024 * 1024);
  EXPECT_EQ(cfg.csHttpGateway.limits.maxHeaderBytes, 64 * 1024);
  EXPECT_EQ(cfg.csHttpGateway.limits.maxQueryBytes, 16 * 1024);
  EXPECT_EQ(cfg.csHttpGateway.rateLimits.tenantRps, 200);
  EXPECT_EQ(cfg.csHttpGateway.rateLimits.functionRps, 20);
  EXPECT_GT(cfg.csHttpGateway.rateLimits.ipRps, 0);

  EXPECT_EQ(cfg.csInvokerPool.http.addr, "0.0.0.0:8082");
  EXPECT_EQ(cfg.csInvokerPool.workers.threads, 2);
  EXPECT_EQ(cfg.csInvokerPool.workers.maxInflight, 64);
  EXPECT_EQ(cfg.csInvokerPool.cache.bundlesMax, 1000);
  EXPECT_EQ(cfg.csInvokerPool.cache.bytesMax, 512LL * 1024 * 1024);
  EXPECT_EQ(cfg.csInvokerPool.limits.maxResultBytes, 256 * 1024);
  EXPECT_EQ(cfg.csInvokerPool.limits.maxErrorBytes, 64 * 1024);
  EXPECT_EQ(cfg.csInvokerPool.limits.maxLogBytes, 1024 * 1024);

  EXPECT_EQ(cfg.csScheduler.tickMs, 1000);
  EXPECT_EQ(cfg.csScheduler.maxCatchupTicks, 60);
  EXPECT_TRUE(cfg.csScheduler.leaderElection.enabled);
  EXPECT_EQ(cfg.csScheduler.leaderElection.leaseName, "cs-scheduler");

  EXPECT_EQ(cfg.csCadencePoller.refreshSeconds, 30);
  EXPECT_EQ(cfg.csCadencePoller.heartbeat.maxPerSecond, 2);
  // Streams falls back to the KVRocks address.
  EXPECT_EQ(cfg.plugins.messaging.streams.addr, "127.0.0.1:6379");
}

TEST(ConfigTest, YamlValuesOverrideDefaults) {
  Config cfg = loadConfigString(std::string(kMinimal) + R"(
cs_invoker_pool:
  workers:
    threads: 8
    max_inflight: 500
cs_scheduler:
  leader_election:
    enabled: false
)",
                                Service::InvokerPool);
  EXPECT_EQ(cfg.csInvokerPool.workers.threads, 8);
  EXPECT_EQ(cfg.csInvokerPool.workers.maxInflight, 500);
  EXPECT_FALSE(cfg.csScheduler.leaderElection.enabled);
}

// Gate: a missing required field is rejected with a message naming the field.
TEST(ConfigTest, MissingPersistenceDriverRejectedForEveryServiceButDev) {
  const std::string yaml = R"(
plugins:
  authn: {driver: dev}
  messaging: {driver: embedded}
cs_cadence_poller: {cadence: {addr: "h:1"}}
)";
  for (Service s : kAllServices) {
    const std::string err = errorOf(yaml, s);
    if (s == Service::Dev) {
      EXPECT_EQ(err, "");
    } else {
      EXPECT_THAT(err, HasSubstr("plugins.persistence.driver")) << serviceName(s);
      EXPECT_THAT(err, HasSubstr("required")) << serviceName(s);
    }
  }
}

TEST(ConfigTest, MissingMessagingDriverRejected) {
  const std::string err = errorOf(R"(
plugins:
  authn: {driver: dev}
  persistence: {driver: embedded}
)",
                                  Service::InvokerPool);
  EXPECT_THAT(err, HasSubstr("plugins.messaging.driver"));
}

TEST(ConfigTest, AuthnDriverRequiredOnlyWhereRequestsAreAuthenticated) {
  const std::string yaml = R"(
plugins:
  persistence: {driver: embedded}
  messaging: {driver: embedded}
)";
  EXPECT_THAT(errorOf(yaml, Service::Control), HasSubstr("plugins.authn.driver"));
  EXPECT_THAT(errorOf(yaml, Service::HttpGateway), HasSubstr("plugins.authn.driver"));
  EXPECT_EQ(errorOf(yaml, Service::InvokerPool), "");
  EXPECT_EQ(errorOf(yaml, Service::Scheduler), "");
}

TEST(ConfigTest, KvrocksAddrRequiredWhenDriverIsKvrocks) {
  const std::string err = errorOf(R"(
plugins:
  authn: {driver: dev}
  persistence: {driver: kvrocks}
  messaging: {driver: embedded}
)",
                                  Service::Control);
  EXPECT_THAT(err, HasSubstr("plugins.persistence.kvrocks.addr"));
  EXPECT_THAT(err, HasSubstr("required"));
}

TEST(ConfigTest, KvrocksPasswordRequiredInPasswordMode) {
  const std::string err = errorOf(R"(
plugins:
  authn: {driver: dev}
  persistence: {driver: kvrocks, kvrocks: {addr: "h:1", auth: {mode: password}}}
  messaging: {driver: embedded}
)",
                                  Service::Control);
  EXPECT_THAT(err, HasSubstr("plugins.persistence.kvrocks.auth.password"));
}

TEST(ConfigTest, CodeqBaseUrlRequiredWhenDriverIsCodeq) {
  const std::string err = errorOf(R"(
plugins:
  authn: {driver: dev}
  persistence: {driver: embedded}
  messaging: {driver: codeq, codeq: {producer_token: p, worker_token: w}}
)",
                                  Service::Control);
  EXPECT_THAT(err, HasSubstr("plugins.messaging.codeq.base_url"));
}

TEST(ConfigTest, CodeqBaseUrlMustBeHttp) {
  const std::string err = errorOf(R"(
plugins:
  authn: {driver: dev}
  persistence: {driver: embedded}
  messaging: {driver: codeq, codeq: {base_url: "ftp://x", producer_token: p, worker_token: w}}
)",
                                  Service::Control);
  EXPECT_THAT(err, HasSubstr("plugins.messaging.codeq.base_url"));
  EXPECT_THAT(err, HasSubstr("http"));
}

TEST(ConfigTest, TiktiNeedsJwksUrlOrFile) {
  const std::string base = R"(
plugins:
  persistence: {driver: embedded}
  messaging: {driver: embedded}
  authn:
    driver: tikti
    tikti:
      issuer: https://tikti
      audience: cs
)";
  EXPECT_THAT(errorOf(base, Service::HttpGateway), HasSubstr("plugins.authn.tikti.jwks_url"));
  EXPECT_EQ(errorOf(base + "      jwks_file: /etc/jwks.json\n", Service::HttpGateway), "");
  EXPECT_EQ(errorOf(base + "      jwks_url: https://tikti/.well-known/jwks.json\n",
                    Service::HttpGateway),
            "");
}

TEST(ConfigTest, TiktiNeedsIssuer) {
  const std::string err = errorOf(R"(
plugins:
  persistence: {driver: embedded}
  messaging: {driver: embedded}
  authn: {driver: tikti, tikti: {jwks_file: /j, audience: cs}}
)",
                                  Service::Control);
  EXPECT_THAT(err, HasSubstr("plugins.authn.tikti.issuer"));
}

TEST(ConfigTest, CadenceAddrRequiredForPoller) {
  const std::string yaml = R"(
plugins:
  persistence: {driver: embedded}
  messaging: {driver: embedded}
)";
  EXPECT_THAT(errorOf(yaml, Service::CadencePoller), HasSubstr("cs_cadence_poller.cadence.addr"));
  EXPECT_EQ(errorOf(yaml, Service::Scheduler), "");
}

TEST(ConfigTest, StreamsWithoutAnyAddressRejected) {
  const std::string err = errorOf(R"(
plugins:
  persistence: {driver: embedded}
  messaging: {driver: streams}
)",
                                  Service::InvokerPool);
  EXPECT_THAT(err, HasSubstr("plugins.messaging.streams.addr"));
}

TEST(ConfigTest, WrongTypesRejectedNamingTheField) {
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cs_invoker_pool: {workers: {threads: many}}\n",
                      Service::InvokerPool),
              HasSubstr("cs_invoker_pool.workers.threads: expected an integer"));
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cs_invoker_pool: {workers: {threads: 1.5}}\n",
                      Service::InvokerPool),
              HasSubstr("cs_invoker_pool.workers.threads"));
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cs_scheduler: {leader_election: {enabled: maybe}}\n",
                      Service::Scheduler),
              HasSubstr("cs_scheduler.leader_election.enabled: expected a boolean"));
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cluster_name: [a, b]\n", Service::Control),
              HasSubstr("cluster_name: expected a scalar"));
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cs_control: 5\n", Service::Control),
              HasSubstr("cs_control: expected a mapping"));
}

TEST(ConfigTest, NonPositiveNumbersRejected) {
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cs_invoker_pool: {workers: {threads: 0}}\n",
                      Service::InvokerPool),
              HasSubstr("cs_invoker_pool.workers.threads: must be"));
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cs_http_gateway: {rate_limits: {tenant_rps: -5}}\n",
                      Service::HttpGateway),
              HasSubstr("cs_http_gateway.rate_limits.tenant_rps"));
  EXPECT_THAT(
      errorOf(std::string(kMinimal) + "cs_control: {limits: {max_bundle_bytes: 0}}\n",
              Service::Control),
      HasSubstr("cs_control.limits.max_bundle_bytes"));
}

TEST(ConfigTest, BadEnumRejectedNamingFieldAndChoices) {
  const std::string err = errorOf(R"(
plugins:
  persistence: {driver: postgres}
)",
                                  Service::Control);
  EXPECT_THAT(err, HasSubstr("plugins.persistence.driver"));
  EXPECT_THAT(err, HasSubstr("kvrocks|embedded"));
  EXPECT_THAT(err, HasSubstr("postgres"));
}

TEST(ConfigTest, UnknownKeysRejected) {
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cs_frobnicator: {}\n", Service::Control),
              HasSubstr("cs_frobnicator: unknown key"));
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cs_invoker_pool: {workers: {thread: 4}}\n",
                      Service::InvokerPool),
              HasSubstr("cs_invoker_pool.workers.thread: unknown key"));
}

TEST(ConfigTest, BadAddressesRejected) {
  const std::string kv = R"(
plugins:
  authn: {driver: dev}
  persistence: {driver: kvrocks, kvrocks: {addr: "no-port"}}
  messaging: {driver: embedded}
)";
  EXPECT_THAT(errorOf(kv, Service::Control), HasSubstr("plugins.persistence.kvrocks.addr"));
  EXPECT_THAT(errorOf(std::string(kMinimal) + "cs_control: {http: {addr: \"0.0.0.0:99999\"}}\n",
                      Service::Control),
              HasSubstr("cs_control.http.addr"));
  // Port 0 is a valid listen address (tests bind ephemeral ports).
  EXPECT_EQ(errorOf(std::string(kMinimal) + "cs_control: {http: {addr: \"127.0.0.1:0\"}}\n",
                    Service::Control),
            "");
}

TEST(ConfigTest, InvalidYamlRejected) {
  EXPECT_THAT(errorOf("plugins: [unclosed", Service::Control), HasSubstr("cannot parse"));
  EXPECT_THAT(errorOf("just a string", Service::Control), HasSubstr("expected a mapping"));
}

TEST(ConfigTest, EnvOverrideTakesPrecedenceOverYaml) {
  Env env = {{"CS_PLUGINS__PERSISTENCE__KVROCKS__ADDR", "10.0.0.7:6666"},
             {"CS_CS_INVOKER_POOL__WORKERS__THREADS", "12"},
             {"CS_CLUSTER_NAME", "prod-eu"},
             {"CS_CS_SCHEDULER__LEADER_ELECTION__ENABLED", "false"}};
  Config cfg = loadConfigString(std::string(kMinimal) +
                                    "cluster_name: from-yaml\n"
                                    "cs_invoker_pool: {workers: {threads: 3}}\n",
                                Service::InvokerPool, env);
  EXPECT_EQ(cfg.plugins.persistence.kvrocks.addr, "10.0.0.7:6666");
  EXPECT_EQ(cfg.plugins.messaging.streams.addr, "10.0.0.7:6666");
  EXPECT_EQ(cfg.csInvokerPool.workers.threads, 12);
  EXPECT_EQ(cfg.clusterName, "prod-eu");
  EXPECT_FALSE(cfg.csScheduler.leaderElection.enabled);
}

TEST(ConfigTest, EnvCanSupplyARequiredField) {
  const std::string yaml = R"(
plugins:
  authn: {driver: dev}
  persistence: {driver: kvrocks}
  messaging: {driver: embedded}
)";
  EXPECT_THAT(errorOf(yaml, Service::Control), HasSubstr("plugins.persistence.kvrocks.addr"));
  Config cfg = loadConfigString(yaml, Service::Control,
                                {{"CS_PLUGINS__PERSISTENCE__KVROCKS__ADDR", "kv:6666"}});
  EXPECT_EQ(cfg.plugins.persistence.kvrocks.addr, "kv:6666");
  // Even the drivers can come from the environment alone.
  Config fromEnv = loadConfigString("", Service::InvokerPool,
                                    {{"CS_PLUGINS__PERSISTENCE__DRIVER", "embedded"},
                                     {"CS_PLUGINS__MESSAGING__DRIVER", "embedded"}});
  EXPECT_EQ(fromEnv.plugins.messaging.driver, MessagingDriver::Embedded);
}

TEST(ConfigTest, EnvValuesAreTypeCheckedAndNamed) {
  const std::string err = errorOf(kMinimal, Service::InvokerPool,
                                  {{"CS_CS_INVOKER_POOL__WORKERS__THREADS", "lots"}});
  EXPECT_THAT(err, HasSubstr("cs_invoker_pool.workers.threads"));
  EXPECT_THAT(err, HasSubstr("CS_CS_INVOKER_POOL__WORKERS__THREADS"));
}

TEST(ConfigTest, MistypedEnvVarInOurNamespaceRejected) {
  const std::string err = errorOf(kMinimal, Service::InvokerPool,
                                  {{"CS_CS_INVOKER_POOL__WORKERS__THREAD", "4"}});
  EXPECT_THAT(err, HasSubstr("CS_CS_INVOKER_POOL__WORKERS__THREAD"));
  // Unrelated CS_* variables are left alone.
  EXPECT_EQ(errorOf(kMinimal, Service::InvokerPool, {{"CS_SOMETHING_ELSE", "x"}}), "");
}

TEST(ConfigTest, ExampleFileLoadsForEveryService) {
  const std::string path = std::string(CS_SOURCE_DIR) + "/config.example.yaml";
  for (Service s : kAllServices) {
    Config cfg = loadConfigFile(path, s, Env{});
    EXPECT_EQ(cfg.plugins.persistence.driver, PersistenceDriver::Kvrocks) << serviceName(s);
    EXPECT_EQ(cfg.csCadencePoller.cadence.addr, "cadence-frontend:7833");
  }
}

TEST(ConfigTest, MissingFileRejected) {
  EXPECT_THROW(loadConfigFile("/nonexistent/cs.yaml", Service::Control, Env{}), ConfigError);
}

TEST(ConfigTest, ProcessEnvReadsEnviron) {
  ASSERT_EQ(setenv("CS_CONFIG_TEST_PROBE", "probe-value", 1), 0);
  Env env = processEnv();
  unsetenv("CS_CONFIG_TEST_PROBE");
  ASSERT_EQ(env.count("CS_CONFIG_TEST_PROBE"), 1u);
  EXPECT_EQ(env.at("CS_CONFIG_TEST_PROBE"), "probe-value");
}

}  // namespace
}  // namespace cs::config

namespace cs::config {
namespace {

TEST(ConfigTest, InvokerAckTimeoutDefaultsAndOverrides) {
  EXPECT_EQ(loadConfigString(kMinimal, Service::InvokerPool).csInvokerPool.ackTimeoutMs, 960000);
  Config cfg = loadConfigString(std::string(kMinimal) + "cs_invoker_pool:\n  ack_timeout_ms: 1500\n",
                                Service::InvokerPool);
  EXPECT_EQ(cfg.csInvokerPool.ackTimeoutMs, 1500);
  EXPECT_THROW(loadConfigString(std::string(kMinimal) + "cs_invoker_pool:\n  ack_timeout_ms: 0\n",
                                Service::InvokerPool),
               ConfigError);
}

}  // namespace
}  // namespace cs::config
