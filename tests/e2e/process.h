// Helpers of the end-to-end tests: run a command and capture its output; start a background
// process whose stdout we read line by line; stop it with SIGTERM.
#pragma once

#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

extern char** environ;

namespace cs::e2e {

struct CmdResult {
  int exitCode = -1;
  std::string out;  // stdout (stderr too when the command redirects it)
};

inline CmdResult sh(const std::string& command) {
  CmdResult run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) run.out.append(buf.data(), n);
  int status = ::pclose(pipe);
  run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

inline std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// A child process with its stdout on a pipe.
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Dies with the test; stderr goes to a file so a leaked child never holds ctest's pipe.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(fds[1], STDOUT_FILENO);
      int log = ::open("/tmp/cs-e2e-children.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) ::dup2(log, STDERR_FILENO);
      ::close(fds[0]);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
  }
  ~Background() { stop(); }

  // The next stdout line ("" at EOF).
  std::string readLine() {
    if (out_ == nullptr) return "";
    std::array<char, 4096> buf{};
    if (std::fgets(buf.data(), buf.size(), out_) == nullptr) return "";
    return buf.data();
  }

  int stop(int signal = SIGTERM) {
    if (pid_ <= 0) return exit_;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (out_ != nullptr) std::fclose(out_);
    out_ = nullptr;
    return exit_;
  }
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int exit_ = -1;
};

}  // namespace cs::e2e
