#include "internal/authz/authz.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

namespace cs::authz {
namespace {

authn::Principal user(std::vector<std::string> roles, std::string tenant = "t_acme01") {
  return authn::Principal{"user-1", std::move(tenant), std::move(roles), {}, 0};
}

void expectCode(const Status& s, ErrorCode code) {
  ASSERT_FALSE(s.ok()) << "allowed, expected " << errorCodeName(code);
  EXPECT_EQ(s.error().code, code) << s.error().message;
}

TEST(Actions, NamesMatchSpecAndRoundTrip) {
  std::set<std::string_view> names;
  for (Action a : kAllActions) {
    auto name = actionName(a);
    EXPECT_EQ(name.rfind("cs:", 0), 0u) << name;
    EXPECT_EQ(actionFromName(name), a) << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kAllActions.size());
  EXPECT_EQ(actionName(Action::FunctionDraftUpload), "cs:function:draft:upload");
  EXPECT_EQ(actionName(Action::FunctionAliasSet), "cs:function:alias:set");
  EXPECT_EQ(actionName(Action::FunctionInvokeHttp), "cs:function:invoke:http");
  EXPECT_EQ(actionName(Action::CadenceWorkerCreate), "cs:cadence:worker:create");
  EXPECT_EQ(actionName(Action::ActivationRead), "cs:activation:read");
  EXPECT_EQ(actionFromName("cs:function:explode"), std::nullopt);
  EXPECT_EQ(actionFromName(""), std::nullopt);
}

TEST(Resources, Builders) {
  EXPECT_EQ(functionResource("t_acme01", "prod", "resize").name,
            "cs:t_acme01:prod:function/resize");
  EXPECT_EQ(functionVersionResource("t_acme01", "prod", "resize", 7).name,
            "cs:t_acme01:prod:function/resize:version/7");
  EXPECT_EQ(functionAliasResource("t_acme01", "prod", "resize", "live").name,
            "cs:t_acme01:prod:function/resize:alias/live");
  EXPECT_EQ(scheduleResource("t_acme01", "prod", "nightly").name,
            "cs:t_acme01:prod:schedule/nightly");
  EXPECT_EQ(cadenceWorkerResource("t_acme01", "prod", "w1").name,
            "cs:t_acme01:prod:cadence-worker/w1");
  auto act = activationResource("t_acme01", "0b7e…");
  EXPECT_EQ(act.name, "cs:t_acme01:activation/0b7e…");
  EXPECT_EQ(act.tenant, "t_acme01");
}

TEST(Authorize, TenantMismatchForEveryAction) {
  auto admin = user({"admin"});
  for (Action a : kAllActions) {
    expectCode(authorize(admin, a, functionResource("t_other01", "prod", "f")),
               ErrorCode::AuthzResourceMismatch);
  }
  expectCode(authorize(user({"admin"}, ""), Action::FunctionRead, Resource{"", "x"}),
             ErrorCode::AuthzResourceMismatch);
  expectCode(authorize(admin, Action::FunctionRead, Resource{"", "cs::prod:function/f"}),
             ErrorCode::AuthzResourceMismatch);
  expectCode(authorizeInvoke(admin, Action::FunctionInvokeHttp,
                             functionAliasResource("t_other01", "prod", "f", "live"), {"admin"}),
             ErrorCode::AuthzResourceMismatch);
}

// The documented default policy, restated independently of the code's table.
TEST(Authorize, DefaultRolePolicy) {
  using A = Action;
  const std::map<std::string, std::set<Action>> expected = {
      {"admin",
       {A::FunctionCreate, A::FunctionRead, A::FunctionDelete, A::FunctionDraftUpload,
        A::FunctionPublish, A::FunctionAliasSet, A::FunctionInvokeApi, A::ScheduleCreate,
        A::ScheduleDelete, A::ScheduleRead, A::CadenceWorkerCreate, A::CadenceWorkerDelete,
        A::CadenceWorkerRead, A::ActivationRead}},
      {"developer",
       {A::FunctionCreate, A::FunctionRead, A::FunctionDraftUpload, A::FunctionPublish,
        A::FunctionAliasSet, A::FunctionInvokeApi, A::ScheduleCreate, A::ScheduleDelete,
        A::ScheduleRead, A::CadenceWorkerCreate, A::CadenceWorkerDelete, A::CadenceWorkerRead,
        A::ActivationRead}},
      {"viewer", {A::FunctionRead, A::ScheduleRead, A::CadenceWorkerRead, A::ActivationRead}},
      {"invoker", {A::FunctionInvokeApi, A::ActivationRead}},
      {"billing", {}},
      {"sp:cs-scheduler", {}},
  };
  const Resource r = functionResource("t_acme01", "prod", "resize");
  for (const auto& [role, allowed] : expected) {
    for (Action a : kAllActions) {
      Status s = authorize(user({role}), a, r);
      if (allowed.count(a)) {
        EXPECT_TRUE(s.ok()) << role << " should be allowed " << actionName(a);
        EXPECT_TRUE(roleAllows(role, a));
      } else {
        ASSERT_FALSE(s.ok()) << role << " should be denied " << actionName(a);
        EXPECT_EQ(s.error().code, ErrorCode::AuthzDenied) << role << " " << actionName(a);
        EXPECT_FALSE(roleAllows(role, a));
      }
    }
  }
}

TEST(Authorize, NoRolesDeniedAndRolesCombine) {
  const Resource r = activationResource("t_acme01", "id");
  expectCode(authorize(user({}), Action::ActivationRead, r), ErrorCode::AuthzDenied);
  const Resource f = functionResource("t_acme01", "prod", "f");
  auto both = user({"viewer", "invoker"});
  EXPECT_TRUE(authorize(both, Action::FunctionRead, f).ok());
  EXPECT_TRUE(authorize(both, Action::FunctionInvokeApi, f).ok());
  expectCode(authorize(both, Action::FunctionPublish, f), ErrorCode::AuthzDenied);
  // Role names are exact: no case folding, no prefixes.
  expectCode(authorize(user({"Admin", "admins"}), Action::FunctionRead, f), ErrorCode::AuthzDenied);
}

TEST(Authorize, TriggerInvokesAreNotGrantedByThePolicy) {
  const Resource f = functionAliasResource("t_acme01", "prod", "f", "live");
  for (Action a : {Action::FunctionInvokeHttp, Action::FunctionInvokeSchedule,
                   Action::FunctionInvokeCadence}) {
    EXPECT_TRUE(isTriggerInvoke(a));
    expectCode(authorize(user({"admin"}), a, f), ErrorCode::AuthzDenied);
  }
  EXPECT_FALSE(isTriggerInvoke(Action::FunctionInvokeApi));
}

TEST(AuthorizeInvoke, EmptyAllowlistDeniesEveryone) {
  expectCode(authorizeInvoke(user({"admin"}), {}), ErrorCode::AuthzRoleMissing);
  expectCode(authorizeInvoke(servicePrincipal(kSpScheduler, "t_acme01"), {}),
             ErrorCode::AuthzRoleMissing);
}

TEST(AuthorizeInvoke, IntersectionAllows) {
  EXPECT_TRUE(authorizeInvoke(user({"viewer", "billing"}), {"ops", "billing"}).ok());
  EXPECT_TRUE(authorizeInvoke(user({"admin"}), {"admin"}).ok());
}

TEST(AuthorizeInvoke, MissingRole) {
  expectCode(authorizeInvoke(user({"viewer"}), {"billing"}), ErrorCode::AuthzRoleMissing);
  expectCode(authorizeInvoke(user({}), {"billing"}), ErrorCode::AuthzRoleMissing);
  // admin is not a wildcard for per-version allowlists.
  expectCode(authorizeInvoke(user({"admin"}), {"billing"}), ErrorCode::AuthzRoleMissing);
  // An empty role string never matches an empty allowlist entry.
  expectCode(authorizeInvoke(user({""}), {""}), ErrorCode::AuthzRoleMissing);
}

TEST(AuthorizeInvoke, ServicePrincipals) {
  auto sp = servicePrincipal(kSpScheduler, "t_acme01");
  EXPECT_EQ(sp.sub, "sp:cs-scheduler");
  EXPECT_EQ(sp.tenant, "t_acme01");
  const Resource f = functionVersionResource("t_acme01", "prod", "f", 3);
  EXPECT_TRUE(
      authorizeInvoke(sp, Action::FunctionInvokeSchedule, f, {"sp:cs-scheduler", "admin"}).ok());
  expectCode(authorizeInvoke(servicePrincipal(kSpCadencePoller, "t_acme01"),
                             Action::FunctionInvokeCadence, f, {"sp:cs-scheduler"}),
             ErrorCode::AuthzRoleMissing);
  expectCode(
      authorizeInvoke(sp, Action::FunctionInvokeSchedule,
                      functionVersionResource("t_other01", "prod", "f", 3), {"sp:cs-scheduler"}),
      ErrorCode::AuthzResourceMismatch);
  EXPECT_EQ(kSpHttpGateway, "sp:cs-http-gateway");
  EXPECT_EQ(kSpCadencePoller, "sp:cs-cadence-poller");
}

TEST(AuthorizeInvoke, OnlyInvokeActions) {
  const Resource f = functionResource("t_acme01", "prod", "f");
  EXPECT_TRUE(authorizeInvoke(user({"billing"}), Action::FunctionInvokeApi, f, {"billing"}).ok());
  EXPECT_TRUE(authorizeInvoke(user({"billing"}), Action::FunctionInvokeHttp, f, {"billing"}).ok());
  expectCode(authorizeInvoke(user({"billing"}), Action::FunctionDelete, f, {"billing"}),
             ErrorCode::AuthzDenied);
}

}  // namespace
}  // namespace cs::authz
