// Function lifecycle, drafts, publish, versions and aliases (SPEC §4).
#include <algorithm>
#include <charconv>
#include <utility>

#include "internal/api/manifest.h"
#include "internal/api/names.h"
#include "internal/api/validate.h"
#include "internal/bundle/bundle.h"
#include "internal/control/control_impl.h"
#include "internal/control/version_config.h"
#include "internal/crypto/crypto.h"
#include "internal/kv/keys.h"

namespace cs::control::detail {

using nlohmann::json;

namespace {

constexpr std::string_view kManifestFile = "manifest.json";

// name -> base64 (as uploaded or stored) → canonical path -> bytes, with the size limit applied
// while decoding so an oversized upload is rejected before it is packed.
Result<bundle::Files> decodeFiles(const std::map<std::string, std::string>& filesB64,
                                  int64_t maxBundleBytes) {
  if (filesB64.empty()) return Error{ErrorCode::ValidationFailed, "files: must not be empty"};
  bundle::Files files;
  int64_t total = 0;
  for (const auto& [name, b64] : filesB64) {
    auto path = bundle::normalizePath(name);
    if (!path) return path.error();
    auto bytes = crypto::base64Decode(b64);
    if (!bytes) {
      return Error{ErrorCode::ValidationFailed, "files/" + *path + ": not valid base64"};
    }
    total += static_cast<int64_t>(bytes->size());
    if (total > maxBundleBytes) {
      return Error{ErrorCode::ValidationBundleTooLarge,
                   "bundle content exceeds " + std::to_string(maxBundleBytes) + " bytes"};
    }
    if (!files.emplace(*path, std::move(*bytes)).second) {
      return Error{ErrorCode::ValidationFailed, "files: duplicate path " + *path};
    }
  }
  return files;
}

// The manifest must exist, validate (SPEC §8) and name an entry that is a file of the bundle.
Result<api::Manifest> checkManifest(const bundle::Files& files) {
  auto it = files.find(std::string(kManifestFile));
  if (it == files.end()) {
    return Error{ErrorCode::ValidationManifestInvalid, "bundle has no manifest.json"};
  }
  auto manifest = api::parseManifest(it->second);
  if (!manifest) return manifest.error();
  auto entry = bundle::normalizePath(manifest->entry);
  if (!entry || files.find(*entry) == files.end()) {
    return Error{ErrorCode::ValidationManifestInvalid,
                 "manifest: /entry: '" + manifest->entry + "' is not a file of the bundle"};
  }
  return manifest;
}

bundle::Limits bundleLimits(int64_t maxBundleBytes) {
  bundle::Limits limits;
  limits.maxBundleBytes = static_cast<uint64_t>(maxBundleBytes);
  limits.maxFileBytes = static_cast<uint64_t>(maxBundleBytes);
  return limits;
}

// Body names get the name error (SPEC §3) before the schema reports them generically.
Status checkBodyName(const json& body, const char* field, api::NameKind kind) {
  if (!body.is_object()) return okStatus();
  auto it = body.find(field);
  if (it == body.end() || !it->is_string()) return okStatus();
  return api::validateName(kind, it->get<std::string>());
}

Result<int64_t> parseSeq(const std::optional<std::string>& raw) {
  if (!raw) return int64_t{0};
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
  if (ec != std::errc() || ptr != raw->data() + raw->size() || v < 0) {
    return Error{ErrorCode::KvrocksReadFailed, "version_seq is not a non-negative integer"};
  }
  return v;
}

}  // namespace

// POST /v1/tenants/{t}/namespaces/{ns}/functions
//
// Re-create after delete (our decision, README.md): allowed. The new record replaces the
// deleted one (new created_at_ms); versions stay (immutable, numbering continues, so a version
// number never names two bundles), the old aliases are removed so nothing points at old code
// by name until the new owner sets aliases again.
Status Impl::createFunction(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns");
  CTL_TRY(authorize(call, authz::Action::FunctionCreate, authz::functionResource(t, ns, "*")));
  auto body = parseBody(call.request);
  if (!body) return body.error();
  CTL_TRY(checkBodyName(*body, "name", api::NameKind::Function));
  CTL_TRY(api::validateFunctionCreate(*body));

  kv::FunctionRecord record;
  record.tenant = t;
  record.ns = ns;
  record.name = (*body)["name"].get<std::string>();
  record.runtime = body->value("runtime", std::string(api::kRuntimeCsJs));
  record.entry = body->value("entry", std::string("function.js"));
  record.handler = body->value("handler", std::string("default"));
  record.createdAtMs = nowMs();

  auto index = kv::keys::functionIndex(t, ns);
  if (!index) return index.error();
  auto key = kv::keys::functionMeta(t, ns, record.name);
  if (!key) return key.error();
  // Index first: a reader skips index names without a record, never the reverse.
  auto added = store_.sadd(*index, record.name);
  if (!added) return added.error();
  auto created = store_.setIfAbsent(*key, kv::encode(record), kv::kNoTtl);
  if (!created) return created.error();
  if (!*created) {
    auto raw = store_.get(*key);
    if (!raw) return raw.error();
    if (*raw) {
      auto existing = kv::decode<kv::FunctionRecord>(**raw);
      if (!existing) return existing.error();
      if (!existing->deletedAtMs) {
        return Error{ErrorCode::Conflict, "function " + ns + "/" + record.name + " exists"};
      }
      auto aliases = loadAliases(t, ns, record.name);
      if (!aliases) return aliases.error();
      for (const auto& a : *aliases) {
        auto aliasKey = kv::keys::alias(t, ns, record.name, a.alias);
        if (!aliasKey) return aliasKey.error();
        CTL_TRY(store_.del(*aliasKey));
      }
    }
    CTL_TRY(store_.set(*key, kv::encode(record), kv::kNoTtl));
  }
  call.send(201, presentFunction(record));
  return okStatus();
}

// GET /v1/tenants/{t}/namespaces/{ns}/functions?cursor=&limit= — names in byte order; the
// cursor is the last name of the previous page.
Status Impl::listFunctions(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns");
  CTL_TRY(authorize(call, authz::Action::FunctionRead, authz::functionResource(t, ns, "*")));
  auto limit = intQueryParam(call.request, "limit", 100, 1, 1000);
  if (!limit) return limit.error();
  const std::string cursor = call.request.queryParam("cursor").value_or("");

  auto index = kv::keys::functionIndex(t, ns);
  if (!index) return index.error();
  auto names = store_.smembers(*index);
  if (!names) return names.error();
  std::sort(names->begin(), names->end());

  json functions = json::array();
  json nextCursor = nullptr;
  auto it =
      cursor.empty() ? names->begin() : std::upper_bound(names->begin(), names->end(), cursor);
  for (; it != names->end(); ++it) {
    if (static_cast<int64_t>(functions.size()) == *limit) {
      nextCursor = functions.back()["name"];
      break;
    }
    if (!api::isValidName(api::NameKind::Function, *it)) continue;
    auto record = loadLiveFunction(t, ns, *it);
    if (!record) {
      if (record.error().code == ErrorCode::NotFound) continue;
      return record.error();
    }
    functions.push_back(presentFunction(*record));
  }
  call.send(200, json{{"functions", std::move(functions)}, {"next_cursor", nextCursor}});
  return okStatus();
}

// GET .../functions/{fn} → the record + aliases + latest version (null before the first
// publish).
Status Impl::getFunction(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn");
  CTL_TRY(authorize(call, authz::Action::FunctionRead, authz::functionResource(t, ns, fn)));
  auto record = loadLiveFunction(t, ns, fn);
  if (!record) return record.error();
  auto aliases = loadAliases(t, ns, fn);
  if (!aliases) return aliases.error();
  auto seqKey = kv::keys::versionSeq(t, ns, fn);
  if (!seqKey) return seqKey.error();
  auto rawSeq = store_.get(*seqKey);
  if (!rawSeq) return rawSeq.error();
  auto seq = parseSeq(*rawSeq);
  if (!seq) return seq.error();

  json latest = nullptr;
  if (*seq > 0) {
    auto version = loadVersion(t, ns, fn, *seq);
    if (version) {
      latest = presentVersion(*version);
    } else if (version.error().code != ErrorCode::NotFound) {
      return version.error();
    }
  }
  json body = presentFunction(*record);
  json aliasList = json::array();
  for (const auto& a : *aliases) aliasList.push_back(present(kv::toJson(a)));
  body["aliases"] = std::move(aliasList);
  body["latest_version"] = std::move(latest);
  call.send(200, body);
  return okStatus();
}

// DELETE .../functions/{fn} — soft delete; versions, bundles and aliases are kept.
Status Impl::deleteFunction(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn");
  CTL_TRY(authorize(call, authz::Action::FunctionDelete, authz::functionResource(t, ns, fn)));
  auto record = loadLiveFunction(t, ns, fn);
  if (!record) return record.error();
  record->deletedAtMs = nowMs();
  auto key = kv::keys::functionMeta(t, ns, fn);
  if (!key) return key.error();
  CTL_TRY(store_.set(*key, kv::encode(*record), kv::kNoTtl));
  call.send(200, presentFunction(*record));
  return okStatus();
}

// PUT .../functions/{fn}/draft {files:{path: base64}}
Status Impl::uploadDraft(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn");
  CTL_TRY(authorize(call, authz::Action::FunctionDraftUpload, authz::functionResource(t, ns, fn)));
  const int64_t maxBytes = options_.limits.maxBundleBytes;
  // Cheap gate before parsing: base64 of maxBytes plus generous room for JSON and names.
  const uint64_t maxBody = static_cast<uint64_t>(maxBytes) / 3 * 4 + 4 + 1024 * 1024;
  if (call.request.body.size() > maxBody) {
    return Error{ErrorCode::ValidationBundleTooLarge,
                 "bundle content exceeds " + std::to_string(maxBytes) + " bytes"};
  }
  auto body = parseBody(call.request);
  if (!body) return body.error();
  if (!body->is_object() || body->size() != 1 || !body->contains("files") ||
      !(*body)["files"].is_object()) {
    return Error{ErrorCode::ValidationFailed,
                 "body must be {\"files\": {\"<path>\": \"<base64>\", …}}"};
  }
  std::map<std::string, std::string> uploaded;
  for (const auto& [name, value] : (*body)["files"].items()) {
    if (!value.is_string()) {
      return Error{ErrorCode::ValidationFailed, "files: every value must be a base64 string"};
    }
    uploaded.emplace(name, value.get<std::string>());
  }
  auto record = loadLiveFunction(t, ns, fn);
  if (!record) return record.error();

  auto files = decodeFiles(uploaded, maxBytes);
  if (!files) return files.error();
  auto manifest = checkManifest(*files);
  if (!manifest) return manifest.error();
  auto tar = bundle::pack(*files, bundleLimits(maxBytes));
  if (!tar) return tar.error();

  kv::DraftRecord draft;
  draft.draftId = "drf_" + crypto::randomHex(16);
  draft.tenant = t;
  draft.ns = ns;
  draft.function = fn;
  for (const auto& [path, bytes] : *files) draft.filesB64[path] = crypto::base64Encode(bytes);
  draft.sha256 = bundle::sha256(*tar);
  draft.sizeBytes = static_cast<int64_t>(tar->size());
  draft.createdAtMs = nowMs();
  const int64_t ttlMs = options_.limits.draftTtlSeconds * 1000;
  draft.expiresAtMs = draft.createdAtMs + ttlMs;

  auto key = kv::keys::draft(t, ns, fn, draft.draftId);
  if (!key) return key.error();
  CTL_TRY(store_.set(*key, kv::encode(draft), ttlMs));
  call.send(200, json{{"draft_id", draft.draftId},
                      {"sha256", draft.sha256},
                      {"size_bytes", draft.sizeBytes},
                      {"expires_at_ms", draft.expiresAtMs}});
  return okStatus();
}

// POST .../functions/{fn}/versions {draft_id, alias?, config?}
Status Impl::publishVersion(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn");
  CTL_TRY(authorize(call, authz::Action::FunctionPublish, authz::functionResource(t, ns, fn)));
  auto body = parseBody(call.request);
  if (!body) return body.error();
  CTL_TRY(checkBodyName(*body, "draft_id", api::NameKind::DraftId));
  CTL_TRY(checkBodyName(*body, "alias", api::NameKind::Alias));
  CTL_TRY(api::validatePublish(*body));
  auto function = loadLiveFunction(t, ns, fn);
  if (!function) return function.error();

  const std::string draftId = (*body)["draft_id"].get<std::string>();
  auto draftKey = kv::keys::draft(t, ns, fn, draftId);
  if (!draftKey) return draftKey.error();
  auto raw = store_.get(*draftKey);
  if (!raw) return raw.error();
  if (!*raw) {
    return Error{ErrorCode::ValidationFailed, "draft " + draftId + " not found or expired"};
  }
  auto draft = kv::decode<kv::DraftRecord>(**raw);
  if (!draft) return draft.error();

  // The draft was checked at upload; re-check so a manifest rule change cannot slip through.
  auto files = decodeFiles(draft->filesB64, options_.limits.maxBundleBytes);
  if (!files) return files.error();
  auto manifest = checkManifest(*files);
  if (!manifest) return manifest.error();
  auto tar = bundle::pack(*files, bundleLimits(options_.limits.maxBundleBytes));
  if (!tar) return tar.error();
  const std::string sha = bundle::sha256(*tar);
  if (sha != draft->sha256) {
    return Error{ErrorCode::Internal, "draft " + draftId + " does not repack to its sha256"};
  }

  kv::PublishRequest publish;
  publish.tenant = t;
  publish.ns = ns;
  publish.function = fn;
  publish.draftId = draftId;
  publish.bundle = std::move(*tar);
  publish.sha256 = sha;
  publish.config = resolveVersionConfig(*manifest, body->value("config", json::object()));
  publish.publishedAtMs = nowMs();
  if (body->contains("alias")) publish.alias = (*body)["alias"].get<std::string>();

  auto version = store_.publishVersion(publish);
  if (!version) return version.error();
  json out{{"version", *version}, {"sha256", sha}, {"published_at_ms", publish.publishedAtMs}};
  if (publish.alias) out["alias"] = *publish.alias;
  call.send(201, out);
  return okStatus();
}

// GET .../functions/{fn}/versions?cursor=&limit= — ascending; cursor = last version seen.
Status Impl::listVersions(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn");
  CTL_TRY(authorize(call, authz::Action::FunctionRead, authz::functionResource(t, ns, fn)));
  auto limit = intQueryParam(call.request, "limit", 100, 1, 1000);
  if (!limit) return limit.error();
  auto cursor = intQueryParam(call.request, "cursor", 0, 0, (int64_t{1} << 53) - 1);
  if (!cursor) return cursor.error();
  auto function = loadLiveFunction(t, ns, fn);
  if (!function) return function.error();
  auto seqKey = kv::keys::versionSeq(t, ns, fn);
  if (!seqKey) return seqKey.error();
  auto rawSeq = store_.get(*seqKey);
  if (!rawSeq) return rawSeq.error();
  auto seq = parseSeq(*rawSeq);
  if (!seq) return seq.error();

  json versions = json::array();
  json nextCursor = nullptr;
  for (int64_t v = *cursor + 1; v <= *seq; ++v) {
    if (static_cast<int64_t>(versions.size()) == *limit) {
      nextCursor = v - 1;
      break;
    }
    auto version = loadVersion(t, ns, fn, v);
    if (!version) {
      if (version.error().code == ErrorCode::NotFound) continue;
      return version.error();
    }
    versions.push_back(presentVersion(*version));
  }
  call.send(200, json{{"versions", std::move(versions)}, {"next_cursor", nextCursor}});
  return okStatus();
}

// GET .../functions/{fn}/versions/{v}
Status Impl::getVersion(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn");
  const int64_t v = *api::parseVersion(call.param("v"));  // checked with the path names
  CTL_TRY(
      authorize(call, authz::Action::FunctionRead, authz::functionVersionResource(t, ns, fn, v)));
  auto function = loadLiveFunction(t, ns, fn);
  if (!function) return function.error();
  auto version = loadVersion(t, ns, fn, v);
  if (!version) return version.error();
  call.send(200, presentVersion(*version));
  return okStatus();
}

// PUT .../functions/{fn}/aliases/{alias} {version}
Status Impl::setAlias(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn"), alias = call.param("alias");
  CTL_TRY(authorize(call, authz::Action::FunctionAliasSet,
                    authz::functionAliasResource(t, ns, fn, alias)));
  auto body = parseBody(call.request);
  if (!body) return body.error();
  if (!body->is_object() || body->size() != 1 || !body->contains("version") ||
      !(*body)["version"].is_number_integer() || (*body)["version"].get<int64_t>() < 1) {
    return Error{ErrorCode::ValidationFailed, "body must be {\"version\": <positive integer>}"};
  }
  const int64_t v = (*body)["version"].get<int64_t>();
  auto function = loadLiveFunction(t, ns, fn);
  if (!function) return function.error();
  auto version = loadVersion(t, ns, fn, v);
  if (!version) return version.error();

  kv::AliasRecord record{alias, v, nowMs()};
  auto key = kv::keys::alias(t, ns, fn, alias);
  if (!key) return key.error();
  CTL_TRY(store_.set(*key, kv::encode(record), kv::kNoTtl));
  call.send(200, present(kv::toJson(record)));
  return okStatus();
}

// GET .../functions/{fn}/aliases
Status Impl::listAliases(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn");
  CTL_TRY(authorize(call, authz::Action::FunctionRead, authz::functionResource(t, ns, fn)));
  auto function = loadLiveFunction(t, ns, fn);
  if (!function) return function.error();
  auto aliases = loadAliases(t, ns, fn);
  if (!aliases) return aliases.error();
  json list = json::array();
  for (const auto& a : *aliases) list.push_back(present(kv::toJson(a)));
  call.send(200, json{{"aliases", std::move(list)}});
  return okStatus();
}

}  // namespace cs::control::detail
