#include "internal/cli/cli.h"
#include "internal/cli/commands.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "internal/api/names.h"
#include "internal/cli/local_runner.h"
#include "internal/runtime/engine.h"

namespace cs::cli::templates {
extern const std::string_view kFunctionJs;
extern const std::string_view kManifestJson;
extern const std::string_view kTypes;
}  // namespace cs::cli::templates

namespace cs::cli {
namespace {

namespace fs = std::filesystem;

int clientError(Io io, const cs::Error& error) { return reportError(io, error); }

bool readFile(const fs::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

struct InitArgs {
  std::string name;
  std::string dir;
  bool force = false;
};

int fnInit(const InitArgs& args, Io io) {
  if (auto status = api::validateName(api::NameKind::Function, args.name); !status.ok()) {
    return clientError(io, status.error());
  }
  fs::path dir = args.dir.empty() ? fs::path(args.name) : fs::path(args.dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return clientError(io, {cs::ErrorCode::ValidationFailed,
                            "cannot create " + dir.string() + ": " + ec.message()});
  }
  const std::pair<const char*, std::string_view> files[] = {
      {"function.js", templates::kFunctionJs},
      {"manifest.json", templates::kManifestJson},
      {"cs.d.ts", templates::kTypes},
  };
  if (!args.force) {
    for (const auto& [name, _] : files) {
      if (fs::exists(dir / name)) {
        return clientError(io, {cs::ErrorCode::ValidationFailed,
                                (dir / name).string() + " exists (use --force to overwrite)"});
      }
    }
  }
  for (const auto& [name, content] : files) {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) {
      return clientError(io, {cs::ErrorCode::ValidationFailed, "cannot write " + (dir / name).string()});
    }
  }
  io.out << nlohmann::json{{"function", args.name},
                           {"dir", dir.string()},
                           {"files", {"function.js", "manifest.json", "cs.d.ts"}}}
                .dump()
         << "\n";
  return kExitOk;
}

struct TestArgs {
  std::string path = ".";
  std::string event;
  std::string kvEndpoint;
  bool allowLoopbackFetch = false;
};

int fnTest(const TestArgs& args, Io io) {
  LocalRunOptions options;
  options.dir = args.path;
  options.kvEndpoint = args.kvEndpoint;
  options.allowLoopbackFetch = args.allowLoopbackFetch;
  if (args.event == "-") {
    std::ostringstream ss;
    ss << io.in.rdbuf();
    options.eventJson = ss.str();
  } else if (!args.event.empty()) {
    if (!readFile(args.event, options.eventJson)) {
      return clientError(io, {cs::ErrorCode::ValidationFailed, "cannot read event file " + args.event});
    }
  }
  auto engine = runtime::makeV8Engine({.warmIsolates = 0});
  auto run = runLocal(*engine, options);
  if (!run.ok()) return clientError(io, run.error());
  io.out << toJson(*run).dump() << "\n";
  return run->result.outcome == runtime::Outcome::Success ? kExitOk : kExitRuntimeError;
}

}  // namespace

void addFnCommands(CLI::App& app, CommandContext& ctx) {
  auto* fn = app.add_subcommand("fn", "Write, test, publish and invoke functions");
  fn->require_subcommand(1);

  auto initArgs = std::make_shared<InitArgs>();
  auto* init = fn->add_subcommand("init", "Scaffold function.js, manifest.json and cs.d.ts");
  init->add_option("NAME", initArgs->name, "Function name")->required();
  init->add_option("--dir", initArgs->dir, "Target directory (default: ./NAME)");
  init->add_flag("--force", initArgs->force, "Overwrite existing files");
  init->callback([&ctx, initArgs] { ctx.action = [&ctx, initArgs] { return fnInit(*initArgs, ctx.io); }; });

  auto testArgs = std::make_shared<TestArgs>();
  auto* test = fn->add_subcommand("test", "Run the function locally in the cs-js runtime");
  test->add_option("--path", testArgs->path, "Function directory")->capture_default_str();
  test->add_option("--event", testArgs->event, "Event JSON file, or - for stdin (default: {})");
  test->add_option("--kv-endpoint", testArgs->kvEndpoint,
                   "KVRocks/Redis host:port for cs.kv (default: in-memory, empty per run)");
  test->add_flag("--allow-loopback-fetch", testArgs->allowLoopbackFetch,
                 "Let cs.http.fetch reach 127.0.0.0/8 and ::1 (local test servers)");
  test->callback([&ctx, testArgs] { ctx.action = [&ctx, testArgs] { return fnTest(*testArgs, ctx.io); }; });
}

int reportError(Io io, const cs::Error& error) {
  io.err << error.name() << ": " << error.message << "\n";
  int status = error.status();
  return status >= 500 && error.code != cs::ErrorCode::RuntimeException &&
                 error.code != cs::ErrorCode::RuntimeTimeout &&
                 error.code != cs::ErrorCode::RuntimeMemoryLimit &&
                 error.code != cs::ErrorCode::RuntimeCapabilityDenied
             ? kExitServerError
             : kExitClientError;
}

std::vector<std::string> splitCsv(const std::string& csv) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= csv.size()) {
    size_t end = csv.find(',', start);
    if (end == std::string::npos) end = csv.size();
    std::string item = csv.substr(start, end - start);
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

int run(int argc, const char* const* argv, Io io) {
  CLI::App app{"cs — the code-sous command line"};
  app.name("cs");
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");

  CommandContext ctx{io, nullptr};
  addFnCommands(app, ctx);
  addAuthCommands(app, ctx);
  addRemoteCommands(app, ctx);
  addDevCommand(app, ctx);
  addKeysCommands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    io.out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    io.out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    io.err << "CS_VALIDATION_FAILED: " << e.what() << "\n";
    io.err << "Run 'cs --help-all' for usage.\n";
    return kExitClientError;
  }
  if (!ctx.action) {
    io.err << app.help();
    return kExitClientError;
  }
  try {
    return ctx.action();
  } catch (const std::exception& e) {
    io.err << "CS_INTERNAL: " << e.what() << "\n";
    return kExitServerError;
  }
}

}  // namespace cs::cli
