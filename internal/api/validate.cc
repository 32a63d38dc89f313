#include "internal/api/validate.h"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "internal/api/embedded_schemas.h"

namespace cs::api {
namespace {

using nlohmann::json;

constexpr size_t kSchemaCount = 9;
constexpr std::array<std::string_view, kSchemaCount> kSchemaNames = {
    "manifest",        "invocation-request",    "invocation-result",
    "envelope",        "schedule-create",       "worker-binding-create",
    "function-create", "publish",               "invoke-api"};

// Strings checked by a `pattern` are first bounded by this when the schema gives no maxLength:
// libstdc++'s std::regex recurses per character and overflows the stack on ~100k-char input.
constexpr size_t kPatternLengthCap = 1024;
// At most this many problems are spelled out in one message.
constexpr size_t kMaxReportedProblems = 3;

struct CompiledSchema {
  std::string_view name;
  json document;  // kept for error descriptions and the length guard
  valijson::Schema schema;
};

[[noreturn]] void dieOnBrokenSchema(std::string_view name, const std::string& why) {
  // The schemas are compiled into the binary, so this is our bug, never bad input.
  std::fprintf(stderr, "code-sous: embedded schema %.*s is broken: %s\n",
               static_cast<int>(name.size()), name.data(), why.c_str());
  std::abort();
}

// Parses every embedded schema once; thread-safe through static initialisation.
const std::array<std::unique_ptr<CompiledSchema>, kSchemaCount>& registry() {
  static const auto kRegistry = [] {
    std::array<std::unique_ptr<CompiledSchema>, kSchemaCount> out;
    for (size_t i = 0; i < kSchemaCount; ++i) {
      const std::string_view name = kSchemaNames[i];
      const detail::EmbeddedSchema* found = nullptr;
      for (const auto& e : detail::embeddedSchemas()) {
        if (e.name == name) found = &e;
      }
      if (found == nullptr) dieOnBrokenSchema(name, "not embedded");
      auto compiled = std::make_unique<CompiledSchema>();
      compiled->name = name;
      try {
        compiled->document = json::parse(found->text);
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        valijson::adapters::NlohmannJsonAdapter adapter(compiled->document);
        parser.populateSchema(adapter, compiled->schema);
      } catch (const std::exception& e) {
        dieOnBrokenSchema(name, e.what());
      }
      out[i] = std::move(compiled);
    }
    return out;
  }();
  return kRegistry;
}

const CompiledSchema& compiled(Schema schema) {
  return *registry()[static_cast<size_t>(schema)];
}

ErrorCode codeFor(Schema schema) {
  return schema == Schema::Manifest ? ErrorCode::ValidationManifestInvalid
                                    : ErrorCode::ValidationFailed;
}

std::string escapePointerToken(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

size_t codePoints(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Follows a local "$ref": "#/definitions/x" (the only kind our schemas use).
const json* resolve(const json& root, const json* node) {
  for (int hops = 0; node != nullptr && node->is_object() && hops < 8; ++hops) {
    auto ref = node->find("$ref");
    if (ref == node->end() || !ref->is_string()) return node;
    const std::string target = ref->get<std::string>();
    if (target.rfind("#", 0) != 0) return nullptr;
    try {
      node = &root.at(json::json_pointer(target.substr(1)));
    } catch (const json::exception&) {
      return nullptr;
    }
  }
  return node;
}

// The subschema that describes the document value at `tokens` (following properties,
// additionalProperties and items); nullptr when the schema does not say.
const json* schemaAt(const json& root, const std::vector<std::string>& tokens) {
  const json* node = resolve(root, &root);
  for (const std::string& token : tokens) {
    if (node == nullptr || !node->is_object()) return nullptr;
    const json* next = nullptr;
    if (auto props = node->find("properties"); props != node->end() && props->contains(token)) {
      next = &(*props)[token];
    } else if (auto add = node->find("additionalProperties");
               add != node->end() && add->is_object()) {
      next = &*add;
    } else if (auto items = node->find("items"); items != node->end() && items->is_object()) {
      next = &*items;
    }
    node = resolve(root, next);
  }
  return node;
}

struct Problem {
  std::string pointer;
  std::string text;
  size_t depth = 0;
  std::string origin;         // pointer of the object a required/combinator error came from
  std::string missing;        // the property a "Missing required property" error names
  bool combinator = false;    // an anyOf/oneOf failure explained by the schema's x-error
};

Problem simpleProblem(std::string pointer, std::string text, size_t depth) {
  Problem p;
  p.origin = pointer;
  p.pointer = std::move(pointer);
  p.text = std::move(text);
  p.depth = depth;
  return p;
}

std::string pointerOf(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) out += "/" + escapePointerToken(t);
  return out.empty() ? "/" : out;
}

// Walks the schema alongside the document and rejects over-long strings that would reach a
// `pattern` (see kPatternLengthCap) before valijson runs any regex.
std::optional<Problem> guardPatternLengths(const json& root, const json* schema, const json& doc,
                                           std::vector<std::string>& path) {
  schema = resolve(root, schema);
  if (schema == nullptr || !schema->is_object()) return std::nullopt;
  auto tooLong = [&](const json& s, std::string_view value) -> std::optional<size_t> {
    if (!s.contains("pattern")) return std::nullopt;
    size_t cap = kPatternLengthCap;
    if (auto m = s.find("maxLength"); m != s.end() && m->is_number_integer() && *m >= 0) {
      cap = std::min<size_t>(cap, m->get<size_t>());
    }
    if (codePoints(value) > cap) return cap;
    return std::nullopt;
  };
  if (doc.is_string()) {
    if (auto cap = tooLong(*schema, doc.get_ref<const std::string&>())) {
      return simpleProblem(pointerOf(path),
                     "String should be no more than " + std::to_string(*cap) +
                         " characters in length.",
                     path.size());
    }
  }
  for (const char* branch : {"allOf", "anyOf", "oneOf"}) {
    if (auto b = schema->find(branch); b != schema->end() && b->is_array()) {
      for (const auto& sub : *b) {
        if (auto p = guardPatternLengths(root, &sub, doc, path)) return p;
      }
    }
  }
  for (const char* branch : {"if", "then", "else"}) {
    if (auto b = schema->find(branch); b != schema->end()) {
      if (auto p = guardPatternLengths(root, &*b, doc, path)) return p;
    }
  }
  if (doc.is_object()) {
    const json* names = resolve(root, schema->contains("propertyNames")
                                          ? &(*schema)["propertyNames"]
                                          : nullptr);
    for (const auto& [key, value] : doc.items()) {
      path.push_back(key);
      if (names != nullptr && names->is_object()) {
        if (auto cap = tooLong(*names, key)) {
          Problem p = simpleProblem(pointerOf(path),
                    "property name should be no more than " + std::to_string(*cap) +
                        " characters in length.",
                    path.size());
          path.pop_back();
          return p;
        }
      }
      const json* sub = nullptr;
      if (auto props = schema->find("properties");
          props != schema->end() && props->contains(key)) {
        sub = &(*props)[key];
      } else if (auto add = schema->find("additionalProperties");
                 add != schema->end() && add->is_object()) {
        sub = &*add;
      }
      if (sub != nullptr) {
        if (auto p = guardPatternLengths(root, sub, value, path)) {
          path.pop_back();
          return p;
        }
      }
      path.pop_back();
    }
  } else if (doc.is_array()) {
    if (auto items = schema->find("items"); items != schema->end() && items->is_object()) {
      for (size_t i = 0; i < doc.size(); ++i) {
        path.push_back(std::to_string(i));
        auto p = guardPatternLengths(root, &*items, doc[i], path);
        path.pop_back();
        if (p) return p;
      }
    }
  }
  return std::nullopt;
}

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "900000.000000" -> "900000" in valijson's messages.
std::string tidyNumbers(std::string text) {
  for (size_t pos; (pos = text.find(".000000")) != std::string::npos;) text.erase(pos, 7);
  return text;
}

// The property name quoted at the end of a valijson message ("... 'name'."), after `marker`.
std::optional<std::string> quoted(const std::string& text, std::string_view marker = "") {
  const auto start = marker.empty() ? 0 : text.find(marker);
  if (start == std::string::npos) return std::nullopt;
  const auto first = text.find('\'', start + marker.size());
  const auto last = text.rfind('\'');
  if (first == std::string::npos || last <= first) return std::nullopt;
  return text.substr(first + 1, last - first - 1);
}

std::optional<Problem> describe(const json& root, const valijson::ValidationResults::Error& e) {
  std::vector<std::string> tokens;
  for (size_t i = 1; i < e.context.size(); ++i) {  // context[0] is "<root>"
    std::string t = e.context[i];
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
    tokens.push_back(std::move(t));
  }
  const std::string& d = e.description;
  // Wrappers that only repeat a child's failure add nothing.
  if (startsWith(d, "Failed to validate against schema associated with property name") ||
      startsWith(d, "Failed to validate item #") ||
      startsWith(d, "Failed to validate against additional properties schema") ||
      startsWith(d, "Failed to validate against a conditional schema") ||
      startsWith(d, "Failed to validate against child schema #")) {
    return std::nullopt;
  }
  const json* node = schemaAt(root, tokens);
  const std::string origin = pointerOf(tokens);
  std::string text;
  std::string missing;
  bool combinator = false;
  if (startsWith(d, "Missing required property")) {
    if (auto name = quoted(d)) {
      tokens.push_back(*name);
      missing = *name;
    }
    text = "is required";
  } else if (startsWith(d, "Object contains a property that could not be validated")) {
    if (auto name = quoted(d, "constraints: ")) tokens.push_back(*name);
    text = "is not allowed here (unknown field)";
  } else if (startsWith(d, "Failed to match expected value set by 'const'") && node != nullptr &&
             node->contains("const")) {
    text = "must be " + (*node)["const"].dump();
  } else if (startsWith(d, "Failed to match against any enum values") && node != nullptr &&
             node->contains("enum")) {
    std::string values;
    for (const auto& v : (*node)["enum"]) values += (values.empty() ? "" : ", ") + v.dump();
    text = "must be one of " + values;
  } else if (startsWith(d, "Failed to match regex") && node != nullptr &&
             node->contains("pattern")) {
    text = "must match the pattern " + (*node)["pattern"].get<std::string>();
  } else if (startsWith(d, "Value type not permitted") && node != nullptr &&
             node->contains("type")) {
    text = "must be of type " + (*node)["type"].dump();
  } else if ((d.find("anyOf") != std::string::npos || d.find("oneOf") != std::string::npos ||
              startsWith(d, "Failed to validate against exactly one child schema")) &&
             node != nullptr && node->contains("x-error")) {
    text = (*node)["x-error"].get<std::string>();
    combinator = true;
  } else {
    text = tidyNumbers(d);
  }
  return Problem{pointerOf(tokens), text, tokens.size(), origin, missing, combinator};
}

// True when `name` appears in a `required` list of one of node's anyOf/oneOf branches.
bool requiredByBranch(const json* node, const std::string& name) {
  if (node == nullptr || !node->is_object()) return false;
  for (const char* key : {"anyOf", "oneOf"}) {
    auto branches = node->find(key);
    if (branches == node->end() || !branches->is_array()) continue;
    for (const auto& branch : *branches) {
      auto req = branch.find("required");
      if (req == branch.end() || !req->is_array()) continue;
      for (const auto& r : *req) {
        if (r == name) return true;
      }
    }
  }
  return false;
}

// A failed anyOf/oneOf also reports each branch's "Missing required property"; when the
// schema explains the combinator (x-error), those branch-internal lines are noise.
void dropExplainedBranchErrors(const json& root, std::vector<Problem>& problems) {
  std::vector<std::string> explained;
  for (const Problem& p : problems) {
    if (p.combinator) explained.push_back(p.origin);
  }
  if (explained.empty()) return;
  std::erase_if(problems, [&](const Problem& p) {
    if (p.missing.empty()) return false;
    if (std::find(explained.begin(), explained.end(), p.origin) == explained.end()) return false;
    std::vector<std::string> tokens;
    if (p.origin != "/") {
      const json::json_pointer ptr(p.origin);
      // Unescaping through json_pointer keeps "~1" etc. correct.
      for (json::json_pointer cur = ptr; !cur.empty(); cur = cur.parent_pointer()) {
        tokens.insert(tokens.begin(), cur.back());
      }
    }
    return requiredByBranch(schemaAt(root, tokens), p.missing);
  });
}

std::string render(std::string_view label, std::vector<Problem> problems) {
  std::stable_sort(problems.begin(), problems.end(),
                   [](const Problem& a, const Problem& b) { return a.depth > b.depth; });
  std::vector<std::string> lines;
  for (const auto& p : problems) {
    std::string line = p.pointer + ": " + p.text;
    if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(line);
  }
  std::string out(label);
  out += ": ";
  for (size_t i = 0; i < lines.size() && i < kMaxReportedProblems; ++i) {
    if (i != 0) out += "; ";
    out += lines[i];
  }
  if (lines.size() > kMaxReportedProblems) {
    out += " (+" + std::to_string(lines.size() - kMaxReportedProblems) + " more)";
  }
  return out;
}

// Counts nesting depth outside string literals; the text is not otherwise checked here.
bool exceedsDepth(std::string_view text, int maxDepth) {
  int depth = 0;
  bool inString = false;
  bool escaped = false;
  for (char c : text) {
    if (inString) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Result<json> parseJson(std::string_view text) {
  if (exceedsDepth(text, kMaxJsonDepth)) {
    return Error{ErrorCode::ValidationFailed,
                 "invalid JSON: nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  }
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return Error{ErrorCode::ValidationFailed,
                 "invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what()};
  } catch (const json::exception& e) {
    return Error{ErrorCode::ValidationFailed, std::string("invalid JSON: ") + e.what()};
  }
}

Status validate(Schema schema, const json& doc) {
  const CompiledSchema& c = compiled(schema);
  std::vector<std::string> path;
  if (auto p = guardPatternLengths(c.document, &c.document, doc, path)) {
    return Error{codeFor(schema), render(c.name, {*p})};
  }
  // The regex cache inside a Validator is not thread-safe, so each thread has its own.
  thread_local valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  bool ok = false;
  try {
    ok = validator.validate(c.schema, target, &results);
  } catch (const std::exception& e) {
    return Error{ErrorCode::Internal, std::string(c.name) + ": validator failed: " + e.what()};
  }
  if (ok) return okStatus();
  std::vector<Problem> problems;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    if (auto p = describe(c.document, error)) problems.push_back(std::move(*p));
  }
  dropExplainedBranchErrors(c.document, problems);
  if (problems.empty()) problems.push_back(simpleProblem("/", "does not match the schema", 0));
  return Error{codeFor(schema), render(c.name, std::move(problems))};
}

Status validateManifest(const json& doc) { return validate(Schema::Manifest, doc); }
Status validateInvocationRequest(const json& doc) {
  return validate(Schema::InvocationRequest, doc);
}
Status validateInvocationResult(const json& doc) {
  return validate(Schema::InvocationResult, doc);
}
Status validateEnvelope(const json& doc) { return validate(Schema::Envelope, doc); }
Status validateScheduleCreate(const json& doc) { return validate(Schema::ScheduleCreate, doc); }
Status validateWorkerBindingCreate(const json& doc) {
  return validate(Schema::WorkerBindingCreate, doc);
}
Status validateFunctionCreate(const json& doc) { return validate(Schema::FunctionCreate, doc); }
Status validatePublish(const json& doc) { return validate(Schema::Publish, doc); }
Status validateInvokeApi(const json& doc) { return validate(Schema::InvokeApi, doc); }

std::string_view schemaText(Schema schema) {
  const std::string_view name = schemaName(schema);
  for (const auto& e : detail::embeddedSchemas()) {
    if (e.name == name) return e.text;
  }
  return {};
}

std::string_view schemaName(Schema schema) { return kSchemaNames[static_cast<size_t>(schema)]; }

}  // namespace cs::api
