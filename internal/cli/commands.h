// Internal to the cli module: each command group registers its CLI11 subcommands. A parsed
// subcommand stores its action in the context; run() executes it after parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "internal/cli/cli.h"
#include "internal/errors/errors.h"

namespace cs::cli {

struct CommandContext {
  Io io;
  std::function<int()> action;
};

void addFnCommands(CLI::App& app, CommandContext& ctx);
void addKeysCommands(CLI::App& app, CommandContext& ctx);
void addAuthCommands(CLI::App& app, CommandContext& ctx);
// Needs addFnCommands first (adds to the `fn` group).
void addRemoteCommands(CLI::App& app, CommandContext& ctx);
void addDevCommand(CLI::App& app, CommandContext& ctx);

// Prints "CS_CODE: message" on stderr; returns the exit code of the error (1 for client-side
// errors, 2 for server/unavailable errors).
int reportError(Io io, const cs::Error& error);

// Splits "a,b,,c" into {"a","b","c"}.
std::vector<std::string> splitCsv(const std::string& csv);

}  // namespace cs::cli
