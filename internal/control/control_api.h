// cs-control's REST API (SPEC §4): function lifecycle (create/list/read/soft delete), drafts,
// publish, aliases, API invoke (sync and async) and activation/log reads, as handlers on an
// http::Router.
//
// Every route authenticates the `Authorization` header (401), validates the path names
// (400 CS_VALIDATION_NAME_INVALID), authorizes action + resource (403; the path tenant must be
// the token's tenant), validates the body against its schema (400) and answers errors with the
// SPEC §5 body carrying the request id. See README.md for the routes and response shapes.
//
// Threads: handlers run on the HTTP server's worker threads and may block on storage. A sync
// invoke does not block: it registers a callback with codeq::RequestReply and returns; the
// callback (on the queue's delivery or timeout thread) reads the activation's logs and sends
// the response. The object is immutable after construction, so all handlers may run at once.
//
// Lifetime: the store, authenticator, queue, request-reply and clock must outlive the object,
// and RequestReply::stop() must run before the ControlApi is destroyed (its callbacks use it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "internal/authn/authn.h"
#include "internal/authz/authz.h"
#include "internal/codeq/queue.h"
#include "internal/codeq/request_reply.h"
#include "internal/errors/errors.h"
#include "internal/http/http.h"
#include "internal/kv/clock.h"
#include "internal/kv/store.h"

namespace cs::control {

// SPEC §14 defaults; the same names as config's control.limits.
struct ControlLimits {
  int64_t maxBundleBytes = 16 * 1024 * 1024;  // sum of file content bytes of a draft
  int64_t draftTtlSeconds = 86400;
  int64_t activationTtlSeconds = 604800;  // TTL of the `queued` record of an async invoke
};

struct ControlOptions {
  ControlLimits limits;
  // A sync invoke waits for the function's timeout_ms plus this slack, then answers 504.
  int64_t invokeWaitSlackMs = 250;
  // Topic async invokes are published to (plugins.messaging.codeq.topics.invoke).
  std::string invokeTopic = std::string(codeq::kTopicInvoke);
};

// One authorization decision, for an audit trail.
struct AuditEvent {
  std::string requestId;
  std::string sub;
  std::string tenant;  // the principal's tenant
  authz::Action action = authz::Action::FunctionRead;
  std::string resource;  // authz::Resource::name
  bool allowed = false;
  std::string code;  // CS_* code when denied, empty when allowed
};

// Observes authorization decisions. The default sink does nothing (STYLE §12). Called on the
// handler's thread; implementations must be thread-safe.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual void onDecision(const AuditEvent& event) { (void)event; }
};

namespace detail {
class Impl;
}

class ControlApi final {
 public:
  // `audit` may be null (no-op).
  ControlApi(ControlOptions options, kv::Store& store, authn::Authenticator& authenticator,
             codeq::Queue& queue, codeq::RequestReply& requestReply, const kv::Clock& clock,
             std::shared_ptr<AuditSink> audit = nullptr);
  ~ControlApi();
  ControlApi(const ControlApi&) = delete;
  ControlApi& operator=(const ControlApi&) = delete;

  // Adds every /v1 route of cs-control to `router`. The router keeps references to this
  // object: it must outlive the server using the router.
  void registerRoutes(http::Router& router);

 private:
  std::unique_ptr<detail::Impl> impl_;
};

}  // namespace cs::control
