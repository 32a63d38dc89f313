#include "internal/http/http.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>

#include "internal/crypto/crypto.h"

namespace cs::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      break;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool validParamName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string dumpJson(const auto& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

// ---- helpers ---------------------------------------------------------------------------------

bool isValidRequestId(std::string_view id) {
  constexpr std::string_view kPrefix = "req_";
  if (id.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view rest = id.substr(kPrefix.size());
  if (rest.size() < 4 || rest.size() > 60) return false;
  return std::all_of(rest.begin(), rest.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string newRequestId() { return "req_" + crypto::randomHex(12); }

std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hexValue(text[i + 1]);
      int lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return std::nullopt;
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      out.push_back(' ');
    } else if (c == '\0') {
      return std::nullopt;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// ---- Request -------------------------------------------------------------------------------

std::optional<std::string_view> Request::header(std::string_view lowerName) const {
  for (const auto& [name, value] : headers) {
    if (iequals(name, lowerName)) return std::string_view(value);
  }
  return std::nullopt;
}

std::string Request::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::optional<std::string> Request::queryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view rawKey = pair.substr(0, eq);
    std::string_view rawValue =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto key = percentDecode(rawKey, true);
    if (key.value_or(std::string(rawKey)) != name) continue;
    auto value = percentDecode(rawValue, true);
    return value ? *value : std::string(rawValue);
  }
  return std::nullopt;
}

// ---- Response ------------------------------------------------------------------------------

Response& Response::header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::optional<std::string_view> Response::findHeader(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

Response Response::json(int status, const nlohmann::json& body) {
  return text(status, dumpJson(body), "application/json");
}

Response Response::json(int status, const nlohmann::ordered_json& body) {
  return text(status, dumpJson(body), "application/json");
}

Response Response::json(int status, nlohmann::json::initializer_list_t body) {
  return json(status, nlohmann::json(body));
}

Response Response::error(const cs::Error& error, std::string_view requestId) {
  return text(error.status(), cs::errorBody(error, requestId), "application/json");
}

Response Response::text(int status, std::string body, std::string contentType) {
  Response response;
  response.status = status;
  response.headers.emplace_back("content-type", std::move(contentType));
  response.body = std::move(body);
  return response;
}

// ---- Responder -----------------------------------------------------------------------------

struct Responder::State {
  std::mutex mu;
  bool sent = false;
  SendFn send;
  std::string requestId;
  bool answerOnAbandon = false;

  ~State() {
    if (sent || !send || !answerOnAbandon) return;
    try {
      send(Response::error(
          Error{ErrorCode::Internal, "the handler finished without sending a response"},
          requestId));
    } catch (...) {  // never throw from a destructor
    }
  }
};

Responder::Responder(SendFn send) : state_(std::make_shared<State>()) {
  state_->send = std::move(send);
}

Responder::Responder(SendFn send, std::string requestId) : state_(std::make_shared<State>()) {
  state_->send = std::move(send);
  state_->requestId = std::move(requestId);
  state_->answerOnAbandon = true;
}

void Responder::send(Response response) const {
  if (!state_) return;
  SendFn fn;
  {
    std::lock_guard lock(state_->mu);
    if (state_->sent) return;
    state_->sent = true;
    fn = std::move(state_->send);
  }
  if (!fn) return;
  try {
    fn(std::move(response));
  } catch (...) {  // the transport's problem, not the handler's
  }
}

bool Responder::sent() const {
  if (!state_) return false;
  std::lock_guard lock(state_->mu);
  return state_->sent;
}

// ---- Router --------------------------------------------------------------------------------

void Router::add(std::string method, std::string pattern, Handler handler) {
  if (method.empty()) throw std::invalid_argument("route method is empty");
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  if (!handler) throw std::invalid_argument("route handler is empty: " + pattern);
  Route route;
  route.method = std::move(method);
  auto parts = splitPath(pattern);
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view part = parts[i];
    Segment segment;
    if (part.empty() || part.front() != '{') {
      if (part.find_first_of("{}") != std::string_view::npos) {
        throw std::invalid_argument("route pattern has a stray brace: " + pattern);
      }
      segment.kind = SegmentKind::Literal;
      segment.text = std::string(part);
    } else {
      size_t close = part.find('}');
      if (close == std::string_view::npos) {
        throw std::invalid_argument("route pattern has an unclosed '{': " + pattern);
      }
      std::string_view name = part.substr(1, close - 1);
      std::string_view tail = part.substr(close + 1);
      if (tail.empty()) {
        if (!name.empty() && name.back() == '*') {
          name.remove_suffix(1);
          if (i + 1 != parts.size()) {
            throw std::invalid_argument("'{name*}' must be the last segment: " + pattern);
          }
          segment.kind = SegmentKind::Rest;
        } else {
          segment.kind = SegmentKind::Param;
        }
      } else {
        if (tail.size() < 2 || tail.front() != ':' ||
            tail.find_first_of("{}/") != std::string_view::npos) {
          throw std::invalid_argument("route segment must be '{name}:verb': " + pattern);
        }
        segment.kind = SegmentKind::ParamVerb;
        segment.verb = std::string(tail.substr(1));
      }
      if (!validParamName(name)) {
        throw std::invalid_argument("route parameter name is invalid: " + pattern);
      }
      segment.text = std::string(name);
    }
    route.segments.push_back(std::move(segment));
  }
  route.pattern = std::move(pattern);
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

bool Router::matchRoute(const Route& route, const std::vector<std::string>& segments,
                        std::map<std::string, std::string>* params) {
  size_t i = 0;
  for (const Segment& seg : route.segments) {
    if (seg.kind == SegmentKind::Rest) {
      if (params) {
        std::string rest;
        for (size_t j = i; j < segments.size(); ++j) {
          if (j > i) rest.push_back('/');
          rest += segments[j];
        }
        (*params)[seg.text] = std::move(rest);
      }
      return true;
    }
    if (i >= segments.size()) return false;
    const std::string& actual = segments[i];
    switch (seg.kind) {
      case SegmentKind::Literal:
        if (actual != seg.text) return false;
        break;
      case SegmentKind::Param:
        if (actual.empty()) return false;
        if (params) (*params)[seg.text] = actual;
        break;
      case SegmentKind::ParamVerb: {
        std::string suffix = ":" + seg.verb;
        if (actual.size() <= suffix.size() ||
            actual.compare(actual.size() - suffix.size(), suffix.size(), suffix) != 0) {
          return false;
        }
        if (params) (*params)[seg.text] = actual.substr(0, actual.size() - suffix.size());
        break;
      }
      case SegmentKind::Rest:
        break;
    }
    ++i;
  }
  return i == segments.size();
}

RouteMatch Router::find(Request& request) const {
  RouteMatch result;
  request.params.clear();
  const std::string& source = request.rawPath.empty() ? request.path : request.rawPath;
  std::vector<std::string> segments;
  for (std::string_view raw : splitPath(source)) {
    auto decoded = percentDecode(raw);
    segments.push_back(decoded ? std::move(*decoded) : std::string(raw));
  }

  // Specificity rank per segment; a higher rank wins at the first position that differs.
  auto rank = [](const Route& route) {
    std::vector<int> ranks;
    for (const Segment& seg : route.segments) {
      switch (seg.kind) {
        case SegmentKind::Literal:
          ranks.push_back(3);
          break;
        case SegmentKind::ParamVerb:
          ranks.push_back(2);
          break;
        case SegmentKind::Param:
          ranks.push_back(1);
          break;
        case SegmentKind::Rest:
          ranks.push_back(0);
          break;
      }
    }
    return ranks;
  };
  auto better = [](const std::vector<int>& a, const std::vector<int>& b) {
    size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return a[i] > b[i];
    }
    // One is a prefix of the other: the longer one ends in an empty {rest*}; prefer exact.
    return a.size() < b.size();
  };

  const Route* best = nullptr;
  std::vector<int> bestRank;
  bool pathMatched = false;
  for (const Route& route : routes_) {
    if (!matchRoute(route, segments, nullptr)) continue;
    pathMatched = true;
    if (route.method != request.method) {
      if (std::find(result.allowedMethods.begin(), result.allowedMethods.end(), route.method) ==
          result.allowedMethods.end()) {
        result.allowedMethods.push_back(route.method);
      }
      continue;
    }
    auto r = rank(route);
    if (!best || better(r, bestRank)) {
      best = &route;
      bestRank = std::move(r);
    }
  }
  if (!best) {
    result.status = pathMatched ? 405 : 404;
    if (!pathMatched) result.allowedMethods.clear();
    return result;
  }
  matchRoute(*best, segments, &request.params);
  result.handler = &best->handler;
  result.status = 200;
  result.pattern = best->pattern;
  result.allowedMethods.clear();
  return result;
}

const Handler* Router::match(Request& request, int& statusIfNone) const {
  RouteMatch m = find(request);
  if (!m.handler) statusIfNone = m.status;
  return m.handler;
}

}  // namespace cs::http
