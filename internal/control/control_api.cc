#include "internal/control/control_api.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <utility>

#include "internal/api/names.h"
#include "internal/api/validate.h"
#include "internal/control/control_impl.h"
#include "internal/kv/keys.h"

namespace cs::control {

ControlApi::ControlApi(ControlOptions options, kv::Store& store,
                       authn::Authenticator& authenticator, codeq::Queue& queue,
                       codeq::RequestReply& requestReply, const kv::Clock& clock,
                       std::shared_ptr<AuditSink> audit)
    : impl_(std::make_unique<detail::Impl>(std::move(options), store, authenticator, queue,
                                           requestReply, clock, std::move(audit))) {}

ControlApi::~ControlApi() = default;

void ControlApi::registerRoutes(http::Router& router) { impl_->registerRoutes(router); }

namespace detail {

using nlohmann::json;

namespace {

const std::string kNs = "/v1/tenants/{t}/namespaces/{ns}";
const std::string kFn = kNs + "/functions/{fn}";
const std::string kAct = "/v1/tenants/{t}/activations/{id}";

// Route parameters are named after what they hold, so every route validates its path names
// the same way (SPEC §3 → 400 CS_VALIDATION_NAME_INVALID).
Status validatePathParams(const http::Request& request) {
  for (const auto& [name, value] : request.params) {
    if (name == "t") {
      CTL_TRY(api::validateName(api::NameKind::Tenant, value));
    } else if (name == "ns") {
      CTL_TRY(api::validateName(api::NameKind::Namespace, value));
    } else if (name == "fn") {
      CTL_TRY(api::validateName(api::NameKind::Function, value));
    } else if (name == "alias") {
      CTL_TRY(api::validateName(api::NameKind::Alias, value));
    } else if (name == "id") {
      CTL_TRY(api::validateName(api::NameKind::ActivationId, value));
    } else if (name == "v") {
      if (!api::parseVersion(value)) {
        return Error{ErrorCode::ValidationNameInvalid,
                     "version must be a positive integer, got '" + value.substr(0, 32) + "'"};
      }
    }
  }
  return okStatus();
}

}  // namespace

Impl::Impl(ControlOptions options, kv::Store& store, authn::Authenticator& authenticator,
           codeq::Queue& queue, codeq::RequestReply& requestReply, const kv::Clock& clock,
           std::shared_ptr<AuditSink> audit)
    : options_(std::move(options)),
      store_(store),
      authenticator_(authenticator),
      queue_(queue),
      requestReply_(requestReply),
      clock_(clock),
      audit_(audit ? std::move(audit) : std::make_shared<AuditSink>()) {}

void Impl::registerRoutes(http::Router& router) {
  add(router, "POST", kNs + "/functions", &Impl::createFunction);
  add(router, "GET", kNs + "/functions", &Impl::listFunctions);
  add(router, "GET", kFn, &Impl::getFunction);
  add(router, "DELETE", kFn, &Impl::deleteFunction);
  add(router, "PUT", kFn + "/draft", &Impl::uploadDraft);
  add(router, "POST", kFn + "/versions", &Impl::publishVersion);
  add(router, "GET", kFn + "/versions", &Impl::listVersions);
  add(router, "GET", kFn + "/versions/{v}", &Impl::getVersion);
  add(router, "PUT", kFn + "/aliases/{alias}", &Impl::setAlias);
  add(router, "GET", kFn + "/aliases", &Impl::listAliases);
  add(router, "GET", kFn + "/activations", &Impl::listFunctionActivations);
  add(router, "POST", kFn + ":invoke", &Impl::invoke);
  add(router, "GET", kAct, &Impl::getActivation);
  add(router, "GET", kAct + "/logs", &Impl::getActivationLogs);
}

void Impl::add(http::Router& router, const char* method, const std::string& pattern, Method fn) {
  router.add(method, pattern, [this, fn](http::Request& request, http::Responder responder) {
    run(fn, request, std::move(responder));
  });
}

void Impl::run(Method fn, http::Request& request, http::Responder responder) {
  const std::string requestId = request.requestId;
  try {
    auto header = request.header("authorization");
    auto principal = authenticator_.authenticate(header.value_or(std::string_view{}));
    if (!principal) {
      responder.send(http::Response::error(principal.error(), requestId));
      return;
    }
    if (auto st = validatePathParams(request); !st) {
      responder.send(http::Response::error(st.error(), requestId));
      return;
    }
    Call call{request, responder, std::move(*principal)};
    Status st = (this->*fn)(call);
    if (!st) responder.send(http::Response::error(st.error(), requestId));
  } catch (const std::exception& e) {
    // Our own bug (e.g. a JSON type error we did not foresee); never crash the worker.
    responder.send(http::Response::error(
        Error{ErrorCode::Internal, std::string("internal error: ") + e.what()}, requestId));
  }
}

Status Impl::authorize(const Call& call, authz::Action action, const authz::Resource& resource) {
  Status st = authz::authorize(call.principal, action, resource);
  audit_->onDecision(AuditEvent{call.request.requestId, call.principal.sub, call.principal.tenant,
                                action, resource.name, st.ok(),
                                st.ok() ? std::string() : std::string(st.error().name())});
  return st;
}

Status Impl::authorizeInvokeRoles(const Call& call, const authz::Resource& resource,
                                  const std::vector<std::string>& roles) {
  Status st = authz::authorizeInvoke(call.principal, roles);
  audit_->onDecision(AuditEvent{call.request.requestId, call.principal.sub, call.principal.tenant,
                                authz::Action::FunctionInvokeApi, resource.name, st.ok(),
                                st.ok() ? std::string() : std::string(st.error().name())});
  return st;
}

Result<kv::FunctionRecord> Impl::loadLiveFunction(const std::string& t, const std::string& ns,
                                                  const std::string& fn) {
  auto key = kv::keys::functionMeta(t, ns, fn);
  if (!key) return key.error();
  auto raw = store_.get(*key);
  if (!raw) return raw.error();
  if (!*raw) return notFound("function " + ns + "/" + fn + " not found");
  auto record = kv::decode<kv::FunctionRecord>(**raw);
  if (!record) return record.error();
  if (record->deletedAtMs) return notFound("function " + ns + "/" + fn + " not found");
  return record;
}

Result<kv::VersionRecord> Impl::loadVersion(const std::string& t, const std::string& ns,
                                            const std::string& fn, int64_t version) {
  auto key = kv::keys::versionMeta(t, ns, fn, version);
  if (!key) return key.error();
  auto raw = store_.get(*key);
  if (!raw) return raw.error();
  if (!*raw) {
    return notFound("version " + std::to_string(version) + " of function " + ns + "/" + fn +
                    " not found");
  }
  return kv::decode<kv::VersionRecord>(**raw);
}

Result<std::vector<kv::AliasRecord>> Impl::loadAliases(const std::string& t, const std::string& ns,
                                                       const std::string& fn) {
  auto prefix = kv::keys::aliasPrefix(t, ns, fn);
  if (!prefix) return prefix.error();
  std::vector<kv::AliasRecord> aliases;
  std::string cursor;
  do {
    auto page = store_.scanPrefix(*prefix, cursor, 1000);
    if (!page) return page.error();
    for (const auto& key : page->keys) {
      auto raw = store_.get(key);
      if (!raw) return raw.error();
      if (!*raw) continue;  // removed since the scan
      auto record = kv::decode<kv::AliasRecord>(**raw);
      if (!record) return record.error();
      aliases.push_back(std::move(*record));
    }
    cursor = page->cursor;
  } while (!cursor.empty());
  std::sort(aliases.begin(), aliases.end(),
            [](const auto& a, const auto& b) { return a.alias < b.alias; });
  return aliases;
}

// --- helpers ---------------------------------------------------------------------------------

Result<json> parseBody(const http::Request& request) {
  if (request.body.empty()) return Error{ErrorCode::ValidationFailed, "request body is empty"};
  auto doc = api::parseJson(request.body);
  if (!doc) return Error{ErrorCode::ValidationFailed, "body: " + doc.error().message};
  return doc;
}

Result<int64_t> intQueryParam(const http::Request& request, std::string_view name, int64_t fallback,
                              int64_t min, int64_t max) {
  auto text = request.queryParam(name);
  if (!text) return fallback;
  int64_t value = 0;
  const char* begin = text->data();
  const char* end = begin + text->size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (text->empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return Error{ErrorCode::ValidationFailed, "query parameter " + std::string(name) +
                                                  " must be an integer in [" + std::to_string(min) +
                                                  ", " + std::to_string(max) + "]"};
  }
  return value;
}

json present(json record) {
  if (record.is_object()) record.erase("schema");
  return record;
}

json presentFunction(const kv::FunctionRecord& record) {
  json j = present(kv::toJson(record));
  if (!record.deletedAtMs) j.erase("deleted_at_ms");
  return j;
}

json presentVersion(const kv::VersionRecord& record) { return present(kv::toJson(record)); }

json presentActivation(const kv::ActivationRecord& record) {
  json j = present(kv::toJson(record));
  // The reference as the caller gave it plus the resolved version (SPEC §4).
  json ref = {{"function", record.function}};
  if (record.alias) ref["alias"] = *record.alias;
  if (record.version) ref["version"] = *record.version;
  j["ref"] = std::move(ref);
  return j;
}

Error notFound(std::string message) { return Error{ErrorCode::NotFound, std::move(message)}; }

}  // namespace detail
}  // namespace cs::control
