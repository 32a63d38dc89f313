// The HTTP/1.1 server on Boost.Beast + Asio.
//
// Threads: `ioThreads` run the io_context (accept, read, write); each connection is a Session
// bound to its own strand. A parsed request is routed on the strand and its handler is posted
// to a `workerThreads` pool. The handler's Responder posts the response back to the strand,
// from whatever thread it is called on. A connection reads its next request only after the
// previous response is written (keep-alive without pipelining).
//
// Lifetime: the server owns every live Session (sessions_); a Responder only holds a weak_ptr
// plus the shared Gate, so a Responder that outlives the server touches nothing of it.
#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp forgets it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "internal/http/http.h"

namespace cs::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Shared between the server and every Responder it created; guards "may I still post to a
// session" and counts responses not yet written.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  int64_t pending = 0;

  void done() {
    std::lock_guard lock(mu);
    --pending;
    cv.notify_all();
  }
};

bool isToken(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool isSafeValue(std::string_view value) {
  return std::none_of(value.begin(), value.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool iequalsAscii(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

class ServerImpl;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ServerImpl& server, uint64_t id);
  void start();
  // Closes the connection now if no request is being handled (stop(), first phase).
  void closeIfIdle();
  void close();
  void deliver(Response response, uint64_t seq);
  auto executor() { return stream_.get_executor(); }

 private:
  void readHeader();
  void onHeader(beast::error_code ec);
  void readBody();
  void onBody(beast::error_code ec);
  void onReadError(beast::error_code ec);
  void dispatch();
  void reject(const Error& error, int status, bool closeAfter,
              std::vector<std::pair<std::string, std::string>> extraHeaders = {});
  void write(Response response, bool counted);
  std::shared_ptr<bhttp::response<bhttp::string_body>> buildMessage(Response& response, bool& keep);
  void onWritten(beast::error_code ec, bool counted);
  void lingerClose();
  void onLinger(beast::error_code ec, size_t n);
  Responder::SendFn makeSendFn();

  ServerImpl& server_;
  const uint64_t id_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remoteAddr_;

  // The one request in flight on this connection.
  std::shared_ptr<Request> request_;
  std::string pattern_;
  SteadyClock::time_point startedAt_;
  bool keepAlive_ = false;
  bool closeAfterWrite_ = false;  // error response before the body was read: linger + close
  bool awaiting_ = false;         // handler dispatched, response not delivered yet
  bool writing_ = false;
  bool closed_ = false;
  uint64_t seq_ = 0;
  std::shared_ptr<bhttp::response<bhttp::string_body>> out_;
  Response lastResponse_;
  std::array<char, 8192> discard_{};
  size_t discarded_ = 0;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, std::shared_ptr<Router> router,
             std::shared_ptr<RequestObserver> observer)
      : options_(options),
        router_(std::move(router)),
        observer_(std::move(observer)),
        acceptor_(asio::make_strand(ioc_)),
        retryTimer_(acceptor_.get_executor()),
        gate_(std::make_shared<Gate>()) {
    options_.ioThreads = std::max(1, options_.ioThreads);
    options_.workerThreads = std::max(1, options_.workerThreads);
    if (options_.readTimeoutMs <= 0) options_.readTimeoutMs = ServerOptions{}.readTimeoutMs;
    if (options_.writeTimeoutMs <= 0) options_.writeTimeoutMs = ServerOptions{}.writeTimeoutMs;
    if (!router_) router_ = std::make_shared<Router>();
  }

  ~ServerImpl() override { stop(); }

  Status start() override {
    if (started_.exchange(true)) {
      return Error{ErrorCode::Internal, "http server: start() called twice"};
    }
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) {
      return Error{ErrorCode::ValidationFailed,
                   "http server: invalid listen host '" + options_.host + "'"};
    }
    tcp::endpoint endpoint(address, options_.port);
    auto fail = [&](std::string_view what) -> Status {
      return Error{ErrorCode::Internal, "http server: cannot " + std::string(what) + " " +
                                            options_.host + ":" + std::to_string(options_.port) +
                                            ": " + ec.message()};
    };
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return fail("open");
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return fail("configure");
    acceptor_.bind(endpoint, ec);
    if (ec) return fail("bind");
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen on");
    port_ = acceptor_.local_endpoint(ec).port();

    pool_ = std::make_unique<asio::thread_pool>(options_.workerThreads);
    work_.emplace(asio::make_work_guard(ioc_));
    asio::post(acceptor_.get_executor(), [this] { accept(); });
    for (int i = 0; i < options_.ioThreads; ++i) {
      ioThreads_.emplace_back([this] { ioc_.run(); });
    }
    running_ = true;
    return okStatus();
  }

  void stop() override {
    if (!running_.exchange(false)) return;
    stopping_ = true;
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      retryTimer_.cancel();
    });
    for (auto& session : snapshotSessions()) {
      asio::post(session->executor(), [session] { session->closeIfIdle(); });
    }
    {
      std::unique_lock lock(gate_->mu);
      gate_->cv.wait_for(lock,
                         std::chrono::milliseconds(std::max<int64_t>(0, options_.stopTimeoutMs)),
                         [&] { return gate_->pending <= 0; });
      gate_->stopped = true;  // from here on Responders do nothing
    }
    // Sockets are closed by the Session destructors; handlers still queued in the io_context
    // are destroyed with it.
    work_.reset();
    ioc_.stop();
    for (auto& thread : ioThreads_) thread.join();
    ioThreads_.clear();
    pool_->stop();  // drop handlers that never started (their Responders go nowhere)
    pool_->join();
    std::lock_guard lock(sessionsMu_);
    sessions_.clear();
  }

  uint16_t port() const override { return port_; }

  // ---- used by Session ----
  const ServerOptions& options() const { return options_; }
  const Router& router() const { return *router_; }
  RequestObserver* observer() const { return observer_.get(); }
  const std::shared_ptr<Gate>& gate() const { return gate_; }
  bool stopping() const { return stopping_; }
  asio::thread_pool& pool() { return *pool_; }

  void removeSession(uint64_t id) {
    std::lock_guard lock(sessionsMu_);
    sessions_.erase(id);
  }

 private:
  std::vector<std::shared_ptr<Session>> snapshotSessions() {
    std::lock_guard lock(sessionsMu_);
    std::vector<std::shared_ptr<Session>> out;
    out.reserve(sessions_.size());
    for (auto& [id, session] : sessions_) out.push_back(session);
    return out;
  }

  void accept() {
    if (stopping_) return;
    acceptor_.async_accept(
        asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
          if (stopping_) return;
          if (ec) {
            // EMFILE and friends: back off briefly instead of spinning.
            retryTimer_.expires_after(std::chrono::milliseconds(50));
            retryTimer_.async_wait([this](beast::error_code) { accept(); });
            return;
          }
          auto session = std::make_shared<Session>(std::move(socket), *this, nextId_++);
          {
            std::lock_guard lock(sessionsMu_);
            sessions_[nextId_ - 1] = session;
          }
          session->start();
          accept();
        });
  }

  ServerOptions options_;
  std::shared_ptr<Router> router_;
  std::shared_ptr<RequestObserver> observer_;
  asio::io_context ioc_;  // declared first: destroyed after everything that uses it
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  asio::steady_timer retryTimer_;
  std::vector<std::thread> ioThreads_;
  std::unique_ptr<asio::thread_pool> pool_;
  std::shared_ptr<Gate> gate_;
  std::mutex sessionsMu_;
  std::unordered_map<uint64_t, std::shared_ptr<Session>> sessions_;
  uint64_t nextId_ = 1;  // accept strand only
  std::atomic<bool> started_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  uint16_t port_ = 0;
};

// ---- Session -------------------------------------------------------------------------------

Session::Session(tcp::socket socket, ServerImpl& server, uint64_t id)
    : server_(server), id_(id), stream_(std::move(socket)) {
  beast::error_code ec;
  auto endpoint = stream_.socket().remote_endpoint(ec);
  if (!ec) remoteAddr_ = endpoint.address().to_string();
}

void Session::start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->readHeader(); });
}

void Session::closeIfIdle() {
  if (!awaiting_ && !writing_) close();
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  server_.removeSession(id_);
}

void Session::readHeader() {
  if (closed_) return;
  if (server_.stopping()) return close();
  const auto& options = server_.options();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(options.maxHeaderBytes, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(options.maxBodyBytes);
  stream_.expires_after(std::chrono::milliseconds(options.readTimeoutMs));
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->onHeader(ec); });
}

void Session::onHeader(beast::error_code ec) {
  if (ec) return onReadError(ec);
  startedAt_ = SteadyClock::now();
  const auto& msg = parser_->get();
  auto expect = msg[bhttp::field::expect];
  if (!parser_->is_done() && msg.version() >= 11 && iequalsAscii(expect, "100-continue")) {
    // The client waits for this before sending the body.
    auto interim = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                        msg.version());
    bhttp::async_write(stream_, *interim,
                       [self = shared_from_this(), interim](beast::error_code wec, size_t) {
                         if (wec) return self->close();
                         self->readBody();
                       });
    return;
  }
  readBody();
}

void Session::readBody() {
  if (parser_->is_done()) return onBody({});
  stream_.expires_after(std::chrono::milliseconds(server_.options().readTimeoutMs));
  bhttp::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->onBody(ec); });
}

void Session::onReadError(beast::error_code ec) {
  if (closed_) return;
  const auto& options = server_.options();
  if (ec == bhttp::error::header_limit) {
    return reject(
        Error{ErrorCode::HeadersTooLarge,
              "request headers exceed " + std::to_string(options.maxHeaderBytes) + " bytes"},
        431, true);
  }
  if (ec == bhttp::error::body_limit) {
    return reject(Error{ErrorCode::PayloadTooLarge,
                        "request body exceeds " + std::to_string(options.maxBodyBytes) + " bytes"},
                  413, true);
  }
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return close();
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
    return reject(Error{ErrorCode::ValidationFailed, "malformed HTTP request: " + ec.message()},
                  400, true);
  }
  close();  // timeout, reset, aborted: nobody to answer
}

void Session::onBody(beast::error_code ec) {
  if (ec) return onReadError(ec);
  stream_.expires_never();
  dispatch();
}

void Session::dispatch() {
  auto msg = parser_->release();
  auto request = std::make_shared<Request>();
  request->method = std::string(msg.method_string());
  request->target = std::string(msg.target());
  std::string_view target = request->target;
  size_t q = target.find('?');
  request->rawPath = std::string(target.substr(0, q));
  if (q != std::string_view::npos) request->query = std::string(target.substr(q + 1));
  request->headers.reserve(static_cast<size_t>(std::distance(msg.begin(), msg.end())));
  for (const auto& field : msg) {
    request->headers.emplace_back(lower(field.name_string()), std::string(field.value()));
  }
  request->body = std::move(msg.body());
  request->remoteAddr = remoteAddr_;
  auto clientId = request->header("x-request-id");
  request->requestId =
      clientId && isValidRequestId(*clientId) ? std::string(*clientId) : newRequestId();
  keepAlive_ = msg.keep_alive();
  closeAfterWrite_ = false;
  request_ = request;
  pattern_ = std::string(kRejectedRoute);

  if (request->rawPath.empty() || request->rawPath.front() != '/') {
    return reject(Error{ErrorCode::ValidationFailed, "request target must be an absolute path"},
                  400, false);
  }
  auto decoded = percentDecode(request->rawPath);
  if (!decoded) {
    return reject(Error{ErrorCode::ValidationFailed, "invalid percent-encoding in request path"},
                  400, false);
  }
  request->path = std::move(*decoded);

  RouteMatch match = server_.router().find(*request);
  if (!match.handler) {
    pattern_ = std::string(kUnmatchedRoute);
    if (match.status == 405) {
      std::string allow;
      for (const auto& m : match.allowedMethods) allow += (allow.empty() ? "" : ", ") + m;
      // The catalog has no 405 code: the body carries CS_VALIDATION_FAILED with status 405.
      return reject(Error{ErrorCode::ValidationFailed,
                          "method " + request->method + " is not allowed on " + request->path},
                    405, false, {{"allow", allow}});
    }
    return reject(
        Error{ErrorCode::NotFound, "no route for " + request->method + " " + request->path}, 404,
        false);
  }
  pattern_ = match.pattern;

  {
    std::lock_guard lock(server_.gate()->mu);
    ++server_.gate()->pending;
  }
  ++seq_;
  awaiting_ = true;
  Responder responder(makeSendFn(), request->requestId);
  RequestObserver* observer = server_.observer();
  asio::post(server_.pool(), [request, handler = match.handler, responder, observer]() mutable {
    try {
      (*handler)(*request, responder);
    } catch (const std::exception& e) {
      if (observer) observer->onHandlerException(*request, e.what());
      responder.send(
          Response::error(Error{ErrorCode::Internal, "internal error"}, request->requestId));
    } catch (...) {
      if (observer) observer->onHandlerException(*request, "unknown exception");
      responder.send(
          Response::error(Error{ErrorCode::Internal, "internal error"}, request->requestId));
    }
  });
}

Responder::SendFn Session::makeSendFn() {
  std::weak_ptr<Session> weak = shared_from_this();
  std::shared_ptr<Gate> gate = server_.gate();
  uint64_t seq = seq_;
  return [weak, gate, seq](Response response) {
    std::lock_guard lock(gate->mu);
    if (gate->stopped) return;
    auto session = weak.lock();
    if (!session) {
      --gate->pending;
      gate->cv.notify_all();
      return;
    }
    asio::post(session->executor(), [session, response = std::move(response), seq]() mutable {
      session->deliver(std::move(response), seq);
    });
    // `session` is released while the gate is held, so stop() never races with it.
  };
}

void Session::deliver(Response response, uint64_t seq) {
  if (!awaiting_ || seq != seq_) {
    server_.gate()->done();
    return;
  }
  awaiting_ = false;
  write(std::move(response), true);
}

void Session::reject(const Error& error, int status, bool closeAfter,
                     std::vector<std::pair<std::string, std::string>> extraHeaders) {
  if (!request_ || closeAfter) {
    // Rejected while reading: describe what we know of the request.
    auto request = std::make_shared<Request>();
    if (parser_ && parser_->is_header_done()) {
      const auto& msg = parser_->get();
      request->method = std::string(msg.method_string());
      request->target = std::string(msg.target());
      auto clientId = msg["x-request-id"];
      if (isValidRequestId(clientId)) request->requestId = std::string(clientId);
    }
    if (request->requestId.empty()) request->requestId = newRequestId();
    request->remoteAddr = remoteAddr_;
    request_ = std::move(request);
    pattern_ = std::string(kRejectedRoute);
    if (startedAt_ == SteadyClock::time_point()) startedAt_ = SteadyClock::now();
  }
  if (closeAfter) {
    closeAfterWrite_ = true;
    keepAlive_ = false;
  }
  Response response = Response::error(error, request_->requestId);
  response.status = status;
  for (auto& h : extraHeaders) response.headers.push_back(std::move(h));
  write(std::move(response), false);
}

void Session::write(Response response, bool counted) {
  if (closed_) {
    if (counted) server_.gate()->done();
    return;
  }
  // A final response: 1xx (and anything outside 200–599) from a handler is a bug.
  if (response.status < 200 || response.status > 599) {
    response = Response::error(
        Error{ErrorCode::Internal, "handler returned an invalid HTTP status"}, request_->requestId);
  }
  bool keep = keepAlive_ && !server_.stopping();
  std::shared_ptr<bhttp::response<bhttp::string_body>> out;
  try {
    out = buildMessage(response, keep);
  } catch (const std::exception&) {  // Beast rejected something; never let it reach run()
    response = Response::error(Error{ErrorCode::Internal, "internal error"}, request_->requestId);
    keep = false;
    out = buildMessage(response, keep);
  }
  keepAlive_ = keep;
  response.body.clear();
  lastResponse_ = std::move(response);
  out_ = out;
  writing_ = true;
  stream_.expires_after(std::chrono::milliseconds(server_.options().writeTimeoutMs));
  bhttp::async_write(stream_, *out,
                     [self = shared_from_this(), counted](beast::error_code ec, size_t) {
                       self->onWritten(ec, counted);
                     });
}

std::shared_ptr<bhttp::response<bhttp::string_body>> Session::buildMessage(Response& response,
                                                                           bool& keep) {
  auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
  out->version(11);
  out->result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers) {
    // Framing headers are ours; unsafe names or values would allow header injection.
    if (!isToken(name) || !isSafeValue(value)) continue;
    if (iequalsAscii(name, "content-length") || iequalsAscii(name, "transfer-encoding") ||
        iequalsAscii(name, "x-request-id")) {
      continue;
    }
    if (iequalsAscii(name, "connection")) {
      if (iequalsAscii(value, "close")) keep = false;
      continue;
    }
    out->insert(name, value);
  }
  out->set("x-request-id", request_->requestId);
  out->keep_alive(keep);
  if (response.status == 204 || response.status == 304) {
    // No body and no Content-Length on these (RFC 9110 §8.6).
    response.body.clear();
    return out;
  }
  out->body() = std::move(response.body);
  out->prepare_payload();
  if (request_->method == "HEAD") {
    // Same headers as GET, no body.
    auto size = out->body().size();
    out->body().clear();
    out->content_length(size);
  }
  return out;
}

void Session::onWritten(beast::error_code ec, bool counted) {
  writing_ = false;
  if (out_ && request_ && request_->method != "HEAD") lastResponse_.body = std::move(out_->body());
  out_.reset();
  if (auto* observer = server_.observer(); observer && request_) {
    double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - startedAt_).count();
    try {
      observer->onRequest(*request_, lastResponse_, ms, pattern_);
    } catch (...) {  // an observer must never take the connection down
    }
  }
  request_.reset();
  lastResponse_ = Response{};
  startedAt_ = SteadyClock::time_point();
  if (counted) server_.gate()->done();
  if (ec) return close();
  if (closeAfterWrite_) return lingerClose();
  if (!keepAlive_) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    return close();
  }
  readHeader();
}

// After an early error response the client may still be sending its body; read and drop it
// for a short while so the client sees our response instead of a connection reset.
void Session::lingerClose() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  discarded_ = 0;
  stream_.expires_after(std::chrono::milliseconds(
      std::min<int64_t>(2000, std::max<int64_t>(1, server_.options().readTimeoutMs))));
  stream_.async_read_some(
      asio::buffer(discard_),
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->onLinger(ec, n); });
}

void Session::onLinger(beast::error_code ec, size_t n) {
  discarded_ += n;
  if (ec || closed_ || discarded_ > server_.options().maxBodyBytes + (1u << 20)) return close();
  stream_.async_read_some(
      asio::buffer(discard_),
      [self = shared_from_this()](beast::error_code ec2, size_t n2) { self->onLinger(ec2, n2); });
}

}  // namespace

std::unique_ptr<Server> makeServer(const ServerOptions& options, std::shared_ptr<Router> router,
                                   std::shared_ptr<RequestObserver> observer) {
  return std::make_unique<ServerImpl>(options, std::move(router), std::move(observer));
}

}  // namespace cs::http
