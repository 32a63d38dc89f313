// cs auth login|whoami, cs keys gen, cs token mint.
#include <memory>

#include <nlohmann/json.hpp>

#include "internal/api/names.h"
#include "internal/authn/keys.h"
#include "internal/cli/commands.h"
#include "internal/cli/credentials.h"

namespace cs::cli {

void addAuthCommands(CLI::App& app, CommandContext& ctx) {
  auto* auth = app.add_subcommand("auth", "Log in to a code-sous API and show who you are");
  auth->require_subcommand(1);

  auto creds = std::make_shared<Credentials>();
  auto* login = auth->add_subcommand("login", "Store credentials for the remote commands");
  login->add_option("--tenant", creds->tenant, "Tenant id (t_…)")->required();
  login->add_option("--token", creds->token, "Bearer token")->required();
  login->add_option("--api-url", creds->apiUrl, "API base URL, e.g. http://127.0.0.1:8080")
      ->required();
  login->add_option("--gateway-url", creds->gatewayUrl,
                    "Base URL of the /v1/web gateway when it is not the API URL");
  login->callback([&ctx, creds] {
    ctx.action = [&ctx, creds] {
      if (auto s = api::validateName(api::NameKind::Tenant, creds->tenant); !s.ok()) {
        return reportError(ctx.io, s.error());
      }
      if (!creds->apiUrl.starts_with("http://") && !creds->apiUrl.starts_with("https://")) {
        return reportError(ctx.io, {cs::ErrorCode::ValidationFailed,
                                    "--api-url must start with http:// or https://"});
      }
      if (creds->token.empty() || creds->token.find(' ') != std::string::npos) {
        return reportError(ctx.io, {cs::ErrorCode::ValidationFailed, "--token is not a token"});
      }
      if (auto s = saveCredentials(*creds); !s.ok()) return reportError(ctx.io, s.error());
      ctx.io.out << nlohmann::ordered_json{{"tenant", creds->tenant},
                                           {"subject", tokenSubject(creds->token)},
                                           {"api_url", creds->apiUrl},
                                           {"saved_to", credentialsPath().string()}}
                        .dump()
                 << "\n";
      return kExitOk;
    };
  });

  auto* whoami = auth->add_subcommand("whoami", "Print tenant, subject and API URL");
  whoami->callback([&ctx] {
    ctx.action = [&ctx] {
      auto c = loadCredentials();
      if (!c.ok()) return reportError(ctx.io, c.error());
      ctx.io.out << nlohmann::ordered_json{{"tenant", c->tenant},
                                           {"subject", tokenSubject(c->token)},
                                           {"api_url", c->apiUrl}}
                        .dump()
                 << "\n";
      return kExitOk;
    };
  });
}

void addKeysCommands(CLI::App& app, CommandContext& ctx) {
  auto* keys = app.add_subcommand("keys", "RS256 signing keys for operators and tests");
  keys->require_subcommand(1);
  auto outDir = std::make_shared<std::string>();
  auto* gen = keys->add_subcommand("gen", "Write private.pem, public.pem and jwks.json");
  gen->add_option("--out", *outDir, "Directory")->required();
  gen->callback([&ctx, outDir] {
    ctx.action = [&ctx, outDir] {
      auto info = authn::generateKeyPair(*outDir);
      if (!info.ok()) return reportError(ctx.io, info.error());
      ctx.io.out << nlohmann::ordered_json{{"kid", info->kid},
                                           {"private_key", info->privateKeyPath},
                                           {"public_key", info->publicKeyPath},
                                           {"jwks", info->jwksPath}}
                        .dump()
                 << "\n";
      return kExitOk;
    };
  });

  auto* token = app.add_subcommand("token", "Mint tokens for operators and tests");
  token->require_subcommand(1);
  struct MintArgs {
    std::string key, tenant, sub, roles, iss, aud;
    int64_t ttl = 3600;
  };
  auto args = std::make_shared<MintArgs>();
  auto* mint = token->add_subcommand("mint", "Print a signed RS256 token on stdout");
  mint->add_option("--key", args->key, "Private key PEM file")->required();
  mint->add_option("--tenant", args->tenant, "Tenant (tid claim)")->required();
  mint->add_option("--sub", args->sub, "Subject")->required();
  mint->add_option("--roles", args->roles, "Comma-separated roles");
  mint->add_option("--ttl", args->ttl, "Lifetime in seconds")->capture_default_str();
  mint->add_option("--iss", args->iss, "Issuer claim");
  mint->add_option("--aud", args->aud, "Audience claim");
  mint->callback([&ctx, args] {
    ctx.action = [&ctx, args] {
      authn::MintOptions options;
      options.tenant = args->tenant;
      options.sub = args->sub;
      options.roles = splitCsv(args->roles);
      options.ttlSeconds = args->ttl;
      if (!args->iss.empty()) options.iss = args->iss;
      if (!args->aud.empty()) options.aud = args->aud;
      auto jwt = authn::mintToken(args->key, options);
      if (!jwt.ok()) return reportError(ctx.io, jwt.error());
      ctx.io.out << *jwt << "\n";
      return kExitOk;
    };
  });
}

}  // namespace cs::cli
