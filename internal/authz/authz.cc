#include "internal/authz/authz.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

namespace cs::authz {

namespace {

struct ActionRow {
  Action action;
  std::string_view name;
};

constexpr ActionRow kActionNames[] = {
    {Action::FunctionCreate, "cs:function:create"},
    {Action::FunctionRead, "cs:function:read"},
    {Action::FunctionDelete, "cs:function:delete"},
    {Action::FunctionDraftUpload, "cs:function:draft:upload"},
    {Action::FunctionPublish, "cs:function:publish"},
    {Action::FunctionAliasSet, "cs:function:alias:set"},
    {Action::FunctionInvokeHttp, "cs:function:invoke:http"},
    {Action::FunctionInvokeApi, "cs:function:invoke:api"},
    {Action::FunctionInvokeSchedule, "cs:function:invoke:schedule"},
    {Action::FunctionInvokeCadence, "cs:function:invoke:cadence"},
    {Action::ScheduleCreate, "cs:schedule:create"},
    {Action::ScheduleDelete, "cs:schedule:delete"},
    {Action::ScheduleRead, "cs:schedule:read"},
    {Action::CadenceWorkerCreate, "cs:cadence:worker:create"},
    {Action::CadenceWorkerDelete, "cs:cadence:worker:delete"},
    {Action::CadenceWorkerRead, "cs:cadence:worker:read"},
    {Action::ActivationRead, "cs:activation:read"},
};

// The default control-API policy (documented in README.md). Trigger invokes are granted to
// no role here: the version's allowlist decides them (authorizeInvoke).
struct PolicyRow {
  Action action;
  bool admin, developer, viewer, invoker;
};
constexpr bool Y = true, N = false;
// clang-format off
constexpr PolicyRow kDefaultPolicy[] = {
    //                                  admin developer viewer invoker
    {Action::FunctionCreate,              Y,    Y,        N,     N},
    {Action::FunctionRead,                Y,    Y,        Y,     N},
    {Action::FunctionDelete,              Y,    N,        N,     N},
    {Action::FunctionDraftUpload,         Y,    Y,        N,     N},
    {Action::FunctionPublish,             Y,    Y,        N,     N},
    {Action::FunctionAliasSet,            Y,    Y,        N,     N},
    {Action::FunctionInvokeHttp,          N,    N,        N,     N},
    {Action::FunctionInvokeApi,           Y,    Y,        N,     Y},
    {Action::FunctionInvokeSchedule,      N,    N,        N,     N},
    {Action::FunctionInvokeCadence,       N,    N,        N,     N},
    {Action::ScheduleCreate,              Y,    Y,        N,     N},
    {Action::ScheduleDelete,              Y,    Y,        N,     N},
    {Action::ScheduleRead,                Y,    Y,        Y,     N},
    {Action::CadenceWorkerCreate,         Y,    Y,        N,     N},
    {Action::CadenceWorkerDelete,         Y,    Y,        N,     N},
    {Action::CadenceWorkerRead,           Y,    Y,        Y,     N},
    {Action::ActivationRead,              Y,    Y,        Y,     Y},
};
// clang-format on

const PolicyRow* policyFor(Action action) {
  for (const auto& row : kDefaultPolicy) {
    if (row.action == action) return &row;
  }
  return nullptr;
}

Resource make(std::string_view tenant, std::string name) {
  return Resource{std::string(tenant), std::move(name)};
}

std::string prefix(std::string_view tenant, std::string_view ns) {
  std::string s = "cs:";
  s.append(tenant).append(":").append(ns).append(":");
  return s;
}

Status checkTenant(const authn::Principal& principal, const Resource& resource) {
  if (principal.tenant.empty() || resource.tenant.empty() || principal.tenant != resource.tenant) {
    return Error{ErrorCode::AuthzResourceMismatch, "principal of tenant \"" + principal.tenant +
                                                       "\" may not access tenant \"" +
                                                       resource.tenant + "\""};
  }
  return okStatus();
}

}  // namespace

std::string_view actionName(Action action) {
  for (const auto& row : kActionNames) {
    if (row.action == action) return row.name;
  }
  return "cs:unknown";
}

std::optional<Action> actionFromName(std::string_view name) {
  for (const auto& row : kActionNames) {
    if (row.name == name) return row.action;
  }
  return std::nullopt;
}

bool isTriggerInvoke(Action action) {
  return action == Action::FunctionInvokeHttp || action == Action::FunctionInvokeSchedule ||
         action == Action::FunctionInvokeCadence;
}

Resource functionResource(std::string_view tenant, std::string_view ns, std::string_view function) {
  std::string s = prefix(tenant, ns);
  s.append("function/").append(function);
  return make(tenant, std::move(s));
}

Resource functionVersionResource(std::string_view tenant, std::string_view ns,
                                 std::string_view function, int64_t version) {
  Resource r = functionResource(tenant, ns, function);
  r.name.append(":version/").append(std::to_string(version));
  return r;
}

Resource functionAliasResource(std::string_view tenant, std::string_view ns,
                               std::string_view function, std::string_view alias) {
  Resource r = functionResource(tenant, ns, function);
  r.name.append(":alias/").append(alias);
  return r;
}

Resource scheduleResource(std::string_view tenant, std::string_view ns, std::string_view name) {
  std::string s = prefix(tenant, ns);
  s.append("schedule/").append(name);
  return make(tenant, std::move(s));
}

Resource cadenceWorkerResource(std::string_view tenant, std::string_view ns,
                               std::string_view name) {
  std::string s = prefix(tenant, ns);
  s.append("cadence-worker/").append(name);
  return make(tenant, std::move(s));
}

Resource activationResource(std::string_view tenant, std::string_view activationId) {
  std::string s = "cs:";
  s.append(tenant).append(":activation/").append(activationId);
  return make(tenant, std::move(s));
}

authn::Principal servicePrincipal(std::string_view servicePrincipalName, std::string_view tenant) {
  authn::Principal p;
  p.sub = std::string(servicePrincipalName);
  p.tenant = std::string(tenant);
  p.roles = {std::string(servicePrincipalName)};
  p.expMs = std::numeric_limits<int64_t>::max();
  return p;
}

bool roleAllows(std::string_view role, Action action) {
  const PolicyRow* row = policyFor(action);
  if (!row) return false;
  if (role == kRoleAdmin) return row->admin;
  if (role == kRoleDeveloper) return row->developer;
  if (role == kRoleViewer) return row->viewer;
  if (role == kRoleInvoker) return row->invoker;
  return false;
}

Status authorize(const authn::Principal& principal, Action action, const Resource& resource) {
  if (auto s = checkTenant(principal, resource); !s) return s;
  if (isTriggerInvoke(action)) {
    return Error{ErrorCode::AuthzDenied,
                 std::string(actionName(action)) +
                     " is decided by the version's role allowlist, not the role policy"};
  }
  for (const auto& role : principal.roles) {
    if (roleAllows(role, action)) return okStatus();
  }
  return Error{ErrorCode::AuthzDenied, "no role of \"" + principal.sub + "\" grants " +
                                           std::string(actionName(action)) + " on " +
                                           resource.name};
}

Status authorizeInvoke(const authn::Principal& principal,
                       const std::vector<std::string>& allowedRoles) {
  if (allowedRoles.empty()) {
    return Error{ErrorCode::AuthzRoleMissing,
                 "the version allows no role to invoke it through this trigger"};
  }
  for (const auto& role : principal.roles) {
    if (role.empty()) continue;
    if (std::find(allowedRoles.begin(), allowedRoles.end(), role) != allowedRoles.end()) {
      return okStatus();
    }
  }
  std::string allowed;
  for (const auto& r : allowedRoles) {
    if (!allowed.empty()) allowed += ", ";
    allowed += r;
  }
  return Error{ErrorCode::AuthzRoleMissing,
               "\"" + principal.sub + "\" has none of the roles allowed to invoke: " + allowed};
}

Status authorizeInvoke(const authn::Principal& principal, Action action, const Resource& resource,
                       const std::vector<std::string>& allowedRoles) {
  if (auto s = checkTenant(principal, resource); !s) return s;
  if (!isTriggerInvoke(action) && action != Action::FunctionInvokeApi) {
    return Error{ErrorCode::AuthzDenied,
                 std::string(actionName(action)) + " is not an invoke action"};
  }
  return authorizeInvoke(principal, allowedRoles);
}

}  // namespace cs::authz
