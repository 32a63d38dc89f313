// Test fixture: a real redis-server (it speaks KVRocks' protocol and Lua) on a free port in a
// temporary directory, with persistence off. Used by the kvrocks store and streams queue
// driver tests and the multi-process end-to-end tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace cs::testing {

class RedisServer {
 public:
  // Starts redis-server (from PATH or /usr/bin) on a free 127.0.0.1 port and waits until it
  // answers PING. ok() is false (with error()) when it cannot be started.
  RedisServer();
  ~RedisServer();  // stop()
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  // "127.0.0.1:PORT"
  std::string addr() const;

  // SIGKILL and wait (simulates a crash / outage); start() again on the same port.
  void stop();
  bool start();
  bool running() const { return pid_ > 0; }

 private:
  std::string host_ = "127.0.0.1";
  uint16_t port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
  std::string error_;
};

}  // namespace cs::testing
