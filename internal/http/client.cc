#include "internal/http/client.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include <curl/curl.h>

namespace cs::http {
namespace {

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  ClientResponse* response;
  size_t maxBytes;
  bool overflow = false;
};

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  if (sink->response->body.size() + n > sink->maxBytes) {
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->response->body.append(data, n);
  return n;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new status line (after 100 Continue): keep only the final response's headers.
    sink->response->headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  sink->response->headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
  return n;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool isSafeValue(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

std::optional<std::string_view> ClientResponse::header(std::string_view lowerName) const {
  for (const auto& [name, value] : headers) {
    if (name == lowerName) return std::string_view(value);
  }
  return std::nullopt;
}

cs::Result<ClientResponse> request(const ClientRequest& req) {
  if (!isToken(req.method)) {
    return Error{ErrorCode::ValidationFailed, "invalid HTTP method '" + req.method + "'"};
  }
  if (req.url.rfind("http://", 0) != 0 && req.url.rfind("https://", 0) != 0) {
    return Error{ErrorCode::ValidationFailed,
                 "url must start with http:// or https://: " + req.url};
  }
  for (const auto& [name, value] : req.headers) {
    if (!isToken(name) || !isSafeValue(value)) {
      return Error{ErrorCode::ValidationFailed, "invalid request header '" + name + "'"};
    }
  }
  globalInit();
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) return Error{ErrorCode::Internal, "http transport error: curl_easy_init failed"};
  CURL* h = curl.get();

  std::unique_ptr<curl_slist, ListDeleter> headerList;
  auto append = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headerList.get(), line.c_str());
    if (next) {
      (void)headerList.release();
      headerList.reset(next);
    }
  };
  for (const auto& [name, value] : req.headers) {
    // "Name;" is curl's way to send a header with an empty value.
    append(value.empty() ? name + ";" : name + ": " + value);
  }
  append("Expect:");  // no 100-continue round trip

  ClientResponse response;
  Sink sink{&response, req.maxResponseBytes};
  char errorBuffer[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errorBuffer);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, req.timeoutMs)));
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headerList.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);

  bool withBody =
      !req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (withBody) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else if (req.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    std::string detail = errorBuffer[0] ? errorBuffer : curl_easy_strerror(rc);
    switch (rc) {
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return Error{ErrorCode::ValidationFailed, "invalid url " + req.url + ": " + detail};
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        return Error{ErrorCode::Internal,
                     std::string(kConnectErrorPrefix) + req.url + ": " + detail};
      case CURLE_OPERATION_TIMEDOUT:
        return Error{ErrorCode::Internal, std::string(kTimeoutErrorPrefix) + req.method + " " +
                                              req.url + " after " + std::to_string(req.timeoutMs) +
                                              " ms"};
      default:
        if (sink.overflow) {
          return Error{ErrorCode::Internal, "response too large: more than " +
                                                std::to_string(req.maxResponseBytes) + " bytes"};
        }
        return Error{ErrorCode::Internal,
                     "http transport error: " + req.method + " " + req.url + ": " + detail};
    }
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace cs::http
