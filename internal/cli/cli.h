// The `cs` command line (SPEC §16). main() of cmd/cs-cli only calls run().
#pragma once

#include <iosfwd>

namespace cs::cli {

// Exit codes of SPEC §16.
inline constexpr int kExitOk = 0;
inline constexpr int kExitClientError = 1;
inline constexpr int kExitServerError = 2;
inline constexpr int kExitRuntimeError = 3;

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// Parses argv and runs the command. Never throws; returns the process exit code.
int run(int argc, const char* const* argv, Io io);

}  // namespace cs::cli
