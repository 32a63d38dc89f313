// Private to internal/control: the handler implementation behind ControlApi. Handlers are
// split over control_api.cc (plumbing, shared loaders), functions.cc (lifecycle, drafts,
// versions, aliases) and invoke.cc (invoke, activations, logs).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/authn/authn.h"
#include "internal/authz/authz.h"
#include "internal/control/control_api.h"
#include "internal/http/http.h"
#include "internal/kv/records.h"

// Early return of the error of a Status / Result expression.
#define CTL_TRY(expr)                                 \
  do {                                                \
    auto ctlTryResult_ = (expr);                      \
    if (!ctlTryResult_) return ctlTryResult_.error(); \
  } while (0)

namespace cs::control::detail {

// One authenticated request being handled. Handlers send success through `responder` and
// return the error otherwise (the wrapper sends it with the SPEC §5 body).
struct Call {
  http::Request& request;
  http::Responder responder;
  authn::Principal principal;

  const std::string& tenant() const { return request.params.at("t"); }
  std::string param(const std::string& name) const { return request.param(name); }
  void send(int status, const nlohmann::json& body) const {
    responder.send(http::Response::json(status, body));
  }
};

class Impl {
 public:
  Impl(ControlOptions options, kv::Store& store, authn::Authenticator& authenticator,
       codeq::Queue& queue, codeq::RequestReply& requestReply, const kv::Clock& clock,
       std::shared_ptr<AuditSink> audit);

  void registerRoutes(http::Router& router);

  // --- functions.cc -----------------------------------------------------------------------
  Status createFunction(Call& call);
  Status listFunctions(Call& call);
  Status getFunction(Call& call);
  Status deleteFunction(Call& call);
  Status uploadDraft(Call& call);
  Status publishVersion(Call& call);
  Status listVersions(Call& call);
  Status getVersion(Call& call);
  Status setAlias(Call& call);
  Status listAliases(Call& call);

  // --- invoke.cc --------------------------------------------------------------------------
  Status invoke(Call& call);
  Status getActivation(Call& call);
  Status getActivationLogs(Call& call);
  Status listFunctionActivations(Call& call);

 private:
  using Method = Status (Impl::*)(Call&);
  void add(http::Router& router, const char* method, const std::string& pattern, Method fn);
  void run(Method fn, http::Request& request, http::Responder responder);

  // authz::authorize plus the audit event.
  Status authorize(const Call& call, authz::Action action, const authz::Resource& resource);
  Status authorizeInvokeRoles(const Call& call, const authz::Resource& resource,
                              const std::vector<std::string>& roles);

  // The function record, or CS_NOT_FOUND when missing or soft-deleted.
  Result<kv::FunctionRecord> loadLiveFunction(const std::string& t, const std::string& ns,
                                              const std::string& fn);
  // The version record, or CS_NOT_FOUND.
  Result<kv::VersionRecord> loadVersion(const std::string& t, const std::string& ns,
                                        const std::string& fn, int64_t version);
  Result<std::vector<kv::AliasRecord>> loadAliases(const std::string& t, const std::string& ns,
                                                   const std::string& fn);
  // Every log entry of chunks with seq >= fromSeq, at most maxChunks chunks; nextSeq is set
  // when more chunks remain.
  Result<std::vector<kv::LogEntry>> loadLogs(const std::string& t, const std::string& id,
                                             int64_t fromSeq, size_t maxChunks,
                                             std::optional<int64_t>& nextSeq);
  // Sends the 200/504/… answer of a sync invoke (on the RequestReply callback thread).
  void finishSyncInvoke(const http::Responder& responder, const std::string& requestId,
                        const std::string& tenant, const std::string& activationId,
                        const Result<nlohmann::json>& reply);

  int64_t nowMs() const { return clock_.nowMs(); }

  ControlOptions options_;
  kv::Store& store_;
  authn::Authenticator& authenticator_;
  codeq::Queue& queue_;
  codeq::RequestReply& requestReply_;
  const kv::Clock& clock_;
  std::shared_ptr<AuditSink> audit_;
};

// --- helpers shared by the handler files ----------------------------------------------------

// Strict JSON body (CS_VALIDATION_FAILED on bad JSON or an empty body).
Result<nlohmann::json> parseBody(const http::Request& request);
// Optional integer query parameter in [min, max]; absent → fallback; else CS_VALIDATION_FAILED.
Result<int64_t> intQueryParam(const http::Request& request, std::string_view name, int64_t fallback,
                              int64_t min, int64_t max);
// A stored record as the API shows it: without the internal "schema" field.
nlohmann::json present(nlohmann::json record);
nlohmann::json presentFunction(const kv::FunctionRecord& record);
nlohmann::json presentVersion(const kv::VersionRecord& record);
nlohmann::json presentActivation(const kv::ActivationRecord& record);
Error notFound(std::string message);

}  // namespace cs::control::detail
