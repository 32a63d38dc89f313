// Remote commands of SPEC §16: cs fn create|get|list|delete|draft upload|publish|alias set|
// invoke|logs, cs activation get, cs http invoke. They talk to the API named by
// `cs auth login` (or CS_API_URL/CS_TENANT/CS_TOKEN).
#include <fstream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "internal/api/names.h"
#include "internal/bundle/bundle.h"
#include "internal/cli/api_client.h"
#include "internal/cli/commands.h"
#include "internal/crypto/crypto.h"

namespace cs::cli {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

bool readAll(std::istream& in, std::string& out) {
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// Reads FILE, "-" (stdin) or, when allowInline, the text itself.
cs::Result<std::string> readInput(Io io, const std::string& spec, bool allowInline) {
  std::string text;
  if (spec == "-") {
    readAll(io.in, text);
    return text;
  }
  if (allowInline && !spec.starts_with("@")) return spec;
  std::string path = spec.starts_with("@") ? spec.substr(1) : spec;
  std::ifstream in(path, std::ios::binary);
  if (!in) return cs::Error{cs::ErrorCode::ValidationFailed, "cannot read " + path};
  readAll(in, text);
  return text;
}

cs::Result<ApiClient> client() {
  auto creds = loadCredentials();
  if (!creds.ok()) return creds.error();
  return ApiClient(*creds);
}

cs::Status checkNames(const std::string& ns, const std::string& fn) {
  if (auto s = api::validateName(api::NameKind::Namespace, ns); !s.ok()) return s;
  return api::validateName(api::NameKind::Function, fn);
}

void print(Io io, const json& j) { io.out << j.dump() << "\n"; }

// Runs `body` with a client; prints errors the SPEC way.
template <typename F>
int withClient(Io io, F&& body) {
  auto c = client();
  if (!c.ok()) return reportError(io, c.error());
  auto result = body(*c);
  if (!result.ok()) return reportError(io, result.error());
  print(io, *result);
  return kExitOk;
}

std::string fnPath(const ApiClient& c, const std::string& ns, const std::string& fn) {
  return c.tenantPath() + "/namespaces/" + ns + "/functions/" + fn;
}

// The shape `cs fn test` prints (runtime parity), from an API invoke response.
ojson invokeOutput(const json& r) {
  ojson out;
  out["activation_id"] = r.value("activation_id", "");
  out["status"] = r.value("status", "");
  out["result"] = r.contains("result") ? r["result"] : json(nullptr);
  out["error"] = r.contains("error") ? r["error"] : json(nullptr);
  out["logs"] = r.contains("logs") ? r["logs"] : json::array();
  out["duration_ms"] = r.value("duration_ms", 0);
  for (auto& [k, v] : r.items()) {
    if (!out.contains(k)) out[k] = v;
  }
  return out;
}

}  // namespace

void addRemoteCommands(CLI::App& app, CommandContext& ctx) {
  CLI::App* fn = app.get_subcommand("fn");

  // cs fn create --namespace NS NAME
  struct NameArgs {
    std::string ns = "default";
    std::string name;
  };
  auto createArgs = std::make_shared<NameArgs>();
  auto* create = fn->add_subcommand("create", "Create a function");
  create->add_option("--namespace", createArgs->ns, "Namespace")->capture_default_str();
  create->add_option("NAME", createArgs->name, "Function name")->required();
  create->callback([&ctx, a = createArgs] {
    ctx.action = [&ctx, a] {
      if (auto s = checkNames(a->ns, a->name); !s.ok()) return reportError(ctx.io, s.error());
      return withClient(ctx.io, [&](const ApiClient& c) {
        return c.json("POST", c.tenantPath() + "/namespaces/" + a->ns + "/functions",
                      json{{"name", a->name},
                           {"runtime", "cs-js"},
                           {"entry", "function.js"},
                           {"handler", "default"}});
      });
    };
  });

  auto getArgs = std::make_shared<NameArgs>();
  auto* get = fn->add_subcommand("get", "Show a function with its aliases and latest version");
  get->add_option("--namespace", getArgs->ns, "Namespace")->capture_default_str();
  get->add_option("NAME", getArgs->name, "Function name")->required();
  get->callback([&ctx, a = getArgs] {
    ctx.action = [&ctx, a] {
      if (auto s = checkNames(a->ns, a->name); !s.ok()) return reportError(ctx.io, s.error());
      return withClient(ctx.io, [&](const ApiClient& c) {
        return c.json("GET", fnPath(c, a->ns, a->name));
      });
    };
  });

  auto delArgs = std::make_shared<NameArgs>();
  auto* del = fn->add_subcommand("delete", "Delete a function (soft: versions are kept)");
  del->add_option("--namespace", delArgs->ns, "Namespace")->capture_default_str();
  del->add_option("NAME", delArgs->name, "Function name")->required();
  del->callback([&ctx, a = delArgs] {
    ctx.action = [&ctx, a] {
      if (auto s = checkNames(a->ns, a->name); !s.ok()) return reportError(ctx.io, s.error());
      return withClient(ctx.io, [&](const ApiClient& c) {
        return c.json("DELETE", fnPath(c, a->ns, a->name));
      });
    };
  });

  auto listNs = std::make_shared<std::string>("default");
  auto* list = fn->add_subcommand("list", "List functions of a namespace");
  list->add_option("--namespace", *listNs, "Namespace")->capture_default_str();
  list->callback([&ctx, listNs] {
    ctx.action = [&ctx, listNs] {
      if (auto s = api::validateName(api::NameKind::Namespace, *listNs); !s.ok()) {
        return reportError(ctx.io, s.error());
      }
      return withClient(ctx.io, [&](const ApiClient& c) {
        return c.json("GET", c.tenantPath() + "/namespaces/" + *listNs + "/functions");
      });
    };
  });

  // cs fn draft upload --namespace NS --path DIR NAME
  struct DraftArgs {
    std::string ns = "default";
    std::string path = ".";
    std::string name;
  };
  auto draftArgs = std::make_shared<DraftArgs>();
  auto* draft = fn->add_subcommand("draft", "Upload drafts");
  draft->require_subcommand(1);
  auto* upload = draft->add_subcommand("upload", "Upload a function directory as a draft");
  upload->add_option("--namespace", draftArgs->ns, "Namespace")->capture_default_str();
  upload->add_option("--path", draftArgs->path, "Function directory")->capture_default_str();
  upload->add_option("NAME", draftArgs->name, "Function name")->required();
  upload->callback([&ctx, a = draftArgs] {
    ctx.action = [&ctx, a] {
      if (auto s = checkNames(a->ns, a->name); !s.ok()) return reportError(ctx.io, s.error());
      auto files = bundle::readDirectory(a->path);
      if (!files.ok()) return reportError(ctx.io, files.error());
      json encoded = json::object();
      for (const auto& [path, bytes] : *files) encoded[path] = crypto::base64Encode(bytes);
      return withClient(ctx.io, [&](const ApiClient& c) {
        return c.json("PUT", fnPath(c, a->ns, a->name) + "/draft", json{{"files", encoded}});
      });
    };
  });

  // cs fn publish --namespace NS --draft D [--alias A] [limits] [roles] NAME
  struct PublishArgs {
    std::string ns = "default";
    std::string draft, alias, name;
    std::optional<int64_t> timeoutMs, memoryMb, maxConcurrency;
    std::optional<std::string> httpRoles, scheduleRoles, cadenceRoles;
  };
  auto pubArgs = std::make_shared<PublishArgs>();
  auto* publish = fn->add_subcommand("publish", "Publish a draft as a new immutable version");
  publish->add_option("--namespace", pubArgs->ns, "Namespace")->capture_default_str();
  publish->add_option("--draft", pubArgs->draft, "Draft id from `cs fn draft upload`")->required();
  publish->add_option("--alias", pubArgs->alias, "Point this alias at the new version");
  publish->add_option("--timeout-ms", pubArgs->timeoutMs, "Override limits.timeoutMs");
  publish->add_option("--memory-mb", pubArgs->memoryMb, "Override limits.memoryMb");
  publish->add_option("--max-concurrency", pubArgs->maxConcurrency, "Override limits.maxConcurrency");
  publish->add_option("--invoke-http-roles", pubArgs->httpRoles, "Roles allowed to invoke by HTTP/API (CSV)");
  publish->add_option("--invoke-schedule-roles", pubArgs->scheduleRoles, "Roles allowed for schedules (CSV)");
  publish->add_option("--invoke-cadence-roles", pubArgs->cadenceRoles, "Roles allowed for Cadence (CSV)");
  publish->add_option("NAME", pubArgs->name, "Function name")->required();
  publish->callback([&ctx, a = pubArgs] {
    ctx.action = [&ctx, a] {
      if (auto s = checkNames(a->ns, a->name); !s.ok()) return reportError(ctx.io, s.error());
      json config = json::object();
      if (a->timeoutMs) config["timeout_ms"] = *a->timeoutMs;
      if (a->memoryMb) config["memory_mb"] = *a->memoryMb;
      if (a->maxConcurrency) config["max_concurrency"] = *a->maxConcurrency;
      json authz = json::object();
      if (a->httpRoles) authz["invoke_http_roles"] = splitCsv(*a->httpRoles);
      if (a->scheduleRoles) authz["invoke_schedule_roles"] = splitCsv(*a->scheduleRoles);
      if (a->cadenceRoles) authz["invoke_cadence_roles"] = splitCsv(*a->cadenceRoles);
      if (!authz.empty()) config["authz"] = authz;
      json body = {{"draft_id", a->draft}, {"config", config}};
      if (!a->alias.empty()) body["alias"] = a->alias;
      return withClient(ctx.io, [&](const ApiClient& c) {
        return c.json("POST", fnPath(c, a->ns, a->name) + "/versions", body);
      });
    };
  });

  // cs fn alias set NAME ALIAS --version V
  struct AliasArgs {
    std::string ns = "default";
    std::string name, alias;
    int64_t version = 0;
  };
  auto aliasArgs = std::make_shared<AliasArgs>();
  auto* alias = fn->add_subcommand("alias", "Manage aliases");
  alias->require_subcommand(1);
  auto* aliasSet = alias->add_subcommand("set", "Point an alias at a version");
  aliasSet->add_option("--namespace", aliasArgs->ns, "Namespace")->capture_default_str();
  aliasSet->add_option("NAME", aliasArgs->name, "Function name")->required();
  aliasSet->add_option("ALIAS", aliasArgs->alias, "Alias")->required();
  aliasSet->add_option("--version", aliasArgs->version, "Version")->required();
  aliasSet->callback([&ctx, a = aliasArgs] {
    ctx.action = [&ctx, a] {
      if (auto s = checkNames(a->ns, a->name); !s.ok()) return reportError(ctx.io, s.error());
      if (auto s = api::validateName(api::NameKind::Alias, a->alias); !s.ok()) {
        return reportError(ctx.io, s.error());
      }
      return withClient(ctx.io, [&](const ApiClient& c) {
        return c.json("PUT", fnPath(c, a->ns, a->name) + "/aliases/" + a->alias,
                      json{{"version", a->version}});
      });
    };
  });

  // cs fn invoke --namespace NS [--event FILE] [--mode sync|async] NAME@REF
  struct InvokeArgs {
    std::string ns = "default";
    std::string event;
    std::string mode = "sync";
    std::string target;
  };
  auto invArgs = std::make_shared<InvokeArgs>();
  auto* invoke = fn->add_subcommand("invoke", "Invoke NAME@ALIAS or NAME@VERSION through the API");
  invoke->add_option("--namespace", invArgs->ns, "Namespace")->capture_default_str();
  invoke->add_option("--event", invArgs->event, "Event JSON file, or - for stdin (default: {})");
  invoke->add_option("--mode", invArgs->mode, "sync or async")
      ->check(CLI::IsMember({"sync", "async"}))
      ->capture_default_str();
  invoke->add_option("TARGET", invArgs->target, "NAME@ALIAS or NAME@VERSION")->required();
  invoke->callback([&ctx, a = invArgs] {
    ctx.action = [&ctx, a]() -> int {
      auto at = a->target.find('@');
      if (at == std::string::npos) {
        return reportError(ctx.io, {cs::ErrorCode::ValidationFailed,
                                    "TARGET must be NAME@ALIAS or NAME@VERSION"});
      }
      std::string name = a->target.substr(0, at), ref = a->target.substr(at + 1);
      if (auto s = checkNames(a->ns, name); !s.ok()) return reportError(ctx.io, s.error());
      json refJson;
      if (auto v = api::parseVersion(ref)) {
        refJson = {{"version", *v}};
      } else if (api::isValidName(api::NameKind::Alias, ref)) {
        refJson = {{"alias", ref}};
      } else {
        return reportError(ctx.io, {cs::ErrorCode::ValidationFailed,
                                    "ref \"" + ref + "\" is neither an alias nor a version"});
      }
      json event = json::object();
      if (!a->event.empty()) {
        auto text = readInput(ctx.io, a->event, false);
        if (!text.ok()) return reportError(ctx.io, text.error());
        event = json::parse(*text, nullptr, false);
        if (event.is_discarded()) {
          return reportError(ctx.io, {cs::ErrorCode::ValidationFailed, "event is not valid JSON"});
        }
      }
      auto c = client();
      if (!c.ok()) return reportError(ctx.io, c.error());
      auto r = c->json("POST", fnPath(*c, a->ns, name) + ":invoke",
                       json{{"ref", refJson}, {"mode", a->mode}, {"event", event}});
      if (!r.ok()) {
        print(ctx.io, json{{"error", {{"code", r.error().name()}, {"message", r.error().message}}}});
        return reportError(ctx.io, r.error());
      }
      ojson out = invokeOutput(*r);
      ctx.io.out << out.dump() << "\n";
      std::string status = r->value("status", "");
      return status == "success" || status == "queued" ? kExitOk : kExitRuntimeError;
    };
  });

  // cs fn logs ACTIVATION_ID
  auto logsId = std::make_shared<std::string>();
  auto* logs = fn->add_subcommand("logs", "Print the logs of an activation");
  logs->add_option("ACTIVATION_ID", *logsId, "Activation id")->required();
  logs->callback([&ctx, logsId] {
    ctx.action = [&ctx, logsId] {
      return withClient(ctx.io, [&](const ApiClient& c) -> cs::Result<json> {
        json all = json::array();
        std::string cursor;
        for (int page = 0; page < 10000; ++page) {
          std::string path = c.tenantPath() + "/activations/" + *logsId + "/logs";
          if (!cursor.empty()) path += "?cursor=" + cursor;
          auto r = c.json("GET", path);
          if (!r.ok()) return r.error();
          for (auto& entry : (*r)["logs"]) all.push_back(entry);
          if (!r->contains("next_cursor") || (*r)["next_cursor"].is_null()) break;
          cursor = (*r)["next_cursor"].is_string() ? (*r)["next_cursor"].get<std::string>()
                                                   : (*r)["next_cursor"].dump();
        }
        return json{{"activation_id", *logsId}, {"logs", all}};
      });
    };
  });

  // cs activation get ID
  auto* activation = app.add_subcommand("activation", "Activation records");
  activation->require_subcommand(1);
  auto actId = std::make_shared<std::string>();
  auto* actGet = activation->add_subcommand("get", "Print an activation record");
  actGet->add_option("ID", *actId, "Activation id")->required();
  actGet->callback([&ctx, actId] {
    ctx.action = [&ctx, actId] {
      return withClient(ctx.io, [&](const ApiClient& c) {
        return c.json("GET", c.tenantPath() + "/activations/" + *actId);
      });
    };
  });

  // cs http invoke [-X METHOD] [-d @FILE|DATA] [-H 'K: V'] PATH
  struct HttpArgs {
    std::string method = "GET";
    std::string data;
    std::vector<std::string> headers;
    std::string path;
  };
  auto httpArgs = std::make_shared<HttpArgs>();
  auto* http = app.add_subcommand("http", "Call functions through the /v1/web gateway");
  http->require_subcommand(1);
  auto* httpInvoke = http->add_subcommand("invoke", "Send one HTTP request; prints status=NNN, then the body");
  httpInvoke->add_option("-X,--method", httpArgs->method, "HTTP method")->capture_default_str();
  httpInvoke->add_option("-d,--data", httpArgs->data, "Body: DATA, @FILE or - for stdin");
  httpInvoke->add_option("-H,--header", httpArgs->headers, "Extra header 'Name: value'");
  httpInvoke->add_option("PATH", httpArgs->path, "e.g. /v1/web/t_x/default/hello/prod/greet")->required();
  httpInvoke->callback([&ctx, a = httpArgs] {
    ctx.action = [&ctx, a]() -> int {
      if (!a->path.starts_with("/")) {
        return reportError(ctx.io, {cs::ErrorCode::ValidationFailed, "PATH must start with /"});
      }
      std::string body;
      if (!a->data.empty()) {
        auto text = readInput(ctx.io, a->data, true);
        if (!text.ok()) return reportError(ctx.io, text.error());
        body = *text;
      }
      std::vector<std::pair<std::string, std::string>> headers;
      for (const auto& h : a->headers) {
        auto colon = h.find(':');
        if (colon == std::string::npos) {
          return reportError(ctx.io, {cs::ErrorCode::ValidationFailed, "bad header: " + h});
        }
        std::string value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        headers.emplace_back(h.substr(0, colon), value);
      }
      auto c = client();
      if (!c.ok()) return reportError(ctx.io, c.error());
      std::string method = a->method;
      for (auto& ch : method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      auto r = c->raw(method, a->path, body, headers, 120000, /*gateway=*/true);
      if (!r.ok()) return reportError(ctx.io, r.error());
      ctx.io.out << "status=" << r->status << "\n" << r->body;
      if (!r->body.empty() && r->body.back() != '\n') ctx.io.out << "\n";
      return r->status < 400 ? kExitOk : (r->status >= 500 ? kExitServerError : kExitClientError);
    };
  });
}

}  // namespace cs::cli
