// Authorization (SPEC §12): actions, resource names, the default role policy of the control
// API, and per-version invoke allowlists. Pure functions over an authenticated Principal;
// thread-safe, no state.
//
// Two decisions, used together by callers:
//   authorize()       — control API: the resource's tenant must be the principal's, then the
//                       default role table (kDefaultPolicy in authz.cc, README.md) decides.
//   authorizeInvoke() — an invocation: the principal's roles must intersect the version's
//                       allowlist for that trigger (invoke_http_roles, invoke_schedule_roles,
//                       invoke_cadence_roles); an empty list denies everyone.
// Trigger invocations (invoke:http|schedule|cadence) are decided by the allowlist alone, so
// authorize() refuses them (fail closed) — call authorizeInvoke(p, action, resource, roles).
// The API invoke path calls both: authorize(p, FunctionInvokeApi, r) and then
// authorizeInvoke(p, version.invoke_http_roles) (SPEC §4).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "internal/authn/authn.h"
#include "internal/errors/errors.h"

namespace cs::authz {

enum class Action {
  FunctionCreate,
  FunctionRead,
  FunctionDelete,
  FunctionDraftUpload,
  FunctionPublish,
  FunctionAliasSet,
  FunctionInvokeHttp,
  FunctionInvokeApi,
  FunctionInvokeSchedule,
  FunctionInvokeCadence,
  ScheduleCreate,
  ScheduleDelete,
  ScheduleRead,
  CadenceWorkerCreate,
  CadenceWorkerDelete,
  CadenceWorkerRead,
  ActivationRead,
};

inline constexpr std::array<Action, 17> kAllActions = {
    Action::FunctionCreate,        Action::FunctionRead,        Action::FunctionDelete,
    Action::FunctionDraftUpload,   Action::FunctionPublish,     Action::FunctionAliasSet,
    Action::FunctionInvokeHttp,    Action::FunctionInvokeApi,   Action::FunctionInvokeSchedule,
    Action::FunctionInvokeCadence, Action::ScheduleCreate,      Action::ScheduleDelete,
    Action::ScheduleRead,          Action::CadenceWorkerCreate, Action::CadenceWorkerDelete,
    Action::CadenceWorkerRead,     Action::ActivationRead,
};

// "cs:function:create", …, "cs:activation:read".
std::string_view actionName(Action action);
std::optional<Action> actionFromName(std::string_view name);
// invoke:http, invoke:schedule, invoke:cadence — decided by per-version allowlists only.
bool isTriggerInvoke(Action action);

// A resource name plus the tenant that owns it (the authorization decision never parses
// `name`; it is for logs and audit).
struct Resource {
  std::string tenant;
  std::string name;  // e.g. "cs:t_acme01:prod:function/resize:alias/live"
};

Resource functionResource(std::string_view tenant, std::string_view ns, std::string_view function);
Resource functionVersionResource(std::string_view tenant, std::string_view ns,
                                 std::string_view function, int64_t version);
Resource functionAliasResource(std::string_view tenant, std::string_view ns,
                               std::string_view function, std::string_view alias);
Resource scheduleResource(std::string_view tenant, std::string_view ns, std::string_view name);
Resource cadenceWorkerResource(std::string_view tenant, std::string_view ns, std::string_view name);
Resource activationResource(std::string_view tenant, std::string_view activationId);

// Roles of the default control-API policy.
inline constexpr std::string_view kRoleAdmin = "admin";
inline constexpr std::string_view kRoleDeveloper = "developer";
inline constexpr std::string_view kRoleViewer = "viewer";
inline constexpr std::string_view kRoleInvoker = "invoker";

// Service principals (SPEC §12). A function opts in to a trigger by listing the service
// principal in that trigger's allowlist, e.g. invoke_schedule_roles: ["sp:cs-scheduler"].
inline constexpr std::string_view kSpHttpGateway = "sp:cs-http-gateway";
inline constexpr std::string_view kSpScheduler = "sp:cs-scheduler";
inline constexpr std::string_view kSpCadencePoller = "sp:cs-cadence-poller";

// The principal a platform service acts as inside one tenant: sub and the only role are the
// service principal's name; it never expires (it is not a token).
authn::Principal servicePrincipal(std::string_view servicePrincipalName, std::string_view tenant);

// Whether the default policy grants `action` to `role`.
bool roleAllows(std::string_view role, Action action);

// Control API. CS_AUTHZ_RESOURCE_MISMATCH when tenants differ (or either is empty);
// CS_AUTHZ_DENIED when no role of the principal grants the action (always for trigger invokes).
Status authorize(const authn::Principal& principal, Action action, const Resource& resource);

// Allowlist only: CS_AUTHZ_ROLE_MISSING when the principal has none of `allowedRoles`
// (an empty allowlist denies everyone, with the same code).
Status authorizeInvoke(const authn::Principal& principal,
                       const std::vector<std::string>& allowedRoles);

// Tenant check, then the allowlist. `action` must be one of the invoke actions
// (CS_AUTHZ_DENIED otherwise, fail closed).
Status authorizeInvoke(const authn::Principal& principal, Action action, const Resource& resource,
                       const std::vector<std::string>& allowedRoles);

}  // namespace cs::authz
