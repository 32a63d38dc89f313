// cs dev: the whole platform in one process (internal/platform), until SIGINT/SIGTERM.
#include <csignal>
#include <memory>

#include "internal/cli/commands.h"
#include "internal/cli/credentials.h"
#include "internal/platform/dev_platform.h"

namespace cs::cli {

void addDevCommand(CLI::App& app, CommandContext& ctx) {
  struct DevArgs {
    platform::DevOptions options;
    bool noLogin = false;
  };
  auto a = std::make_shared<DevArgs>();
  auto* dev = app.add_subcommand(
      "dev", "Run the whole platform in one process on embedded storage and queue");
  dev->add_option("--port", a->options.port, "HTTP port (0: any free port)")->capture_default_str();
  dev->add_option("--host", a->options.host, "Address to listen on")->capture_default_str();
  dev->add_option("--data-dir", a->options.dataDir, "Data directory")->capture_default_str();
  dev->add_option("--tenant", a->options.tenant, "The dev tenant")->capture_default_str();
  dev->add_option("--invoker-threads", a->options.invokerThreads, "Invoker worker threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  dev->add_option("--log-level", a->options.logLevel, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  dev->add_option("--tenant-rps", a->options.tenantRps, "Gateway rate limit per tenant (<= 0: off)")
      ->capture_default_str();
  dev->add_option("--function-rps", a->options.functionRps,
                  "Gateway rate limit per function ref (<= 0: off)")
      ->capture_default_str();
  dev->add_option("--ip-rps", a->options.ipRps, "Gateway rate limit per client IP (<= 0: off)")
      ->capture_default_str();
  dev->add_flag("--allow-loopback-fetch-for-tests", a->options.allowLoopbackFetchForTests,
                "Let cs.http.fetch reach 127.0.0.0/8 and ::1 (local test servers only)");
  dev->add_flag("--no-login", a->noLogin, "Do not store CLI credentials for this instance");
  dev->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> int {
      // Block the stop signals before any thread starts; sigwait below receives them.
      sigset_t signals;
      sigemptyset(&signals);
      sigaddset(&signals, SIGINT);
      sigaddset(&signals, SIGTERM);
      pthread_sigmask(SIG_BLOCK, &signals, nullptr);

      auto platform = platform::makeDevPlatform(a->options);
      if (!platform.ok()) return reportError(ctx.io, platform.error());
      if (auto s = (*platform)->start(); !s.ok()) return reportError(ctx.io, s.error());
      auto& p = **platform;
      if (!a->noLogin) {
        if (auto s = saveCredentials({p.apiUrl(), p.tenant(), p.adminToken(), ""}); !s.ok()) {
          return reportError(ctx.io, s.error());
        }
      }
      ctx.io.out << "cs dev: listening on " << p.apiUrl() << " (tenant " << p.tenant()
                 << ", data in " << a->options.dataDir << ")\n"
                 << "admin token: " << a->options.dataDir << "/admin.token"
                 << (a->noLogin ? "" : "; the CLI is logged in (cs auth whoami)") << "\n"
                 << "try:\n"
                 << "  cs fn create hello\n"
                 << "  cs fn draft upload --path examples/hello hello      # prints draft_id\n"
                 << "  cs fn publish --draft DRAFT_ID --alias prod --invoke-http-roles developer hello\n"
                 << "  cs fn invoke hello@prod --event examples/hello/event.json\n"
                 << "  cs http invoke /v1/web/" << p.tenant() << "/default/hello/prod/greet?name=you\n"
                 << std::flush;
      int received = 0;
      sigwait(&signals, &received);
      ctx.io.out << "cs dev: stopping (signal " << received << ")\n" << std::flush;
      p.stop();
      return kExitOk;
    };
  });
}

}  // namespace cs::cli
