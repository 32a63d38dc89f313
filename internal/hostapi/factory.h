// The invoker's ProviderFactory: builds the cs.* host providers one activation's capabilities
// allow. An absent capability means no provider, so `typeof cs.kv === "undefined"`.
#pragma once

#include <functional>
#include <memory>

#include "internal/api/manifest.h"
#include "internal/codeq/queue.h"
#include "internal/errors/errors.h"
#include "internal/hostapi/codeq_provider.h"
#include "internal/hostapi/kv_provider.h"
#include "internal/invoker/invoker.h"
#include "internal/kv/store.h"
#include "internal/runtime/engine.h"

namespace cs::hostapi {

// Builds cs.http for an activation whose capabilities include http (internal/fetch owns it).
using HttpProviderFactory = std::function<Result<std::unique_ptr<runtime::HostProvider>>(
    const invoker::ActivationInfo&, const api::HttpCapability&)>;

struct HostDeps {
  kv::Store& store;
  codeq::Queue& queue;
  HttpProviderFactory http = {};  // empty: never a cs.http provider
  Recorder* recorder = nullptr;  // set: cs.codeq publishes are recorded, `queue` is unused
  KvLimits kvLimits = {};
  CodeqLimits codeqLimits = {};
};

// The activation's capabilities: the resolved config's "capabilities" when present (checked
// against the SPEC §8 capability schema: CS_VALIDATION_MANIFEST_INVALID), else the manifest's
// (docs/contracts.md).
Result<api::Capabilities> effectiveCapabilities(const invoker::ActivationInfo& info);

// Dependencies must outlive the factory. The factory is thread-safe (it keeps no state);
// kv/codeq providers are built for the request's tenant, namespace, function, activation id.
// Errors of the http hook are passed through (the invoker then ends the activation as error).
invoker::ProviderFactory makeProviderFactory(HostDeps deps);

// ctx.env of an activation: the version's config.env plus its resolved secrets (secrets win on
// a name clash), and the secret values to redact. A secret that cannot be resolved fails the
// activation with its code.
invoker::EnvironmentResolver makeEnvironmentResolver(kv::Store& store);

}  // namespace cs::hostapi
