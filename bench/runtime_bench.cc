// Per-activation cost of the cs-js runtime: fresh isolate + context + prelude + ES module +
// handler call + result validation, over many activations. Prints one line per mode; the
// script bench/runtime-bench.sh runs the Node.js vm baseline beside it and prints the ratio.
//
//   runtime_bench [--activations N] [--json]
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "internal/runtime/engine.h"

namespace {

using cs::runtime::Engine;
using cs::runtime::Invocation;
using cs::runtime::SourceFiles;

constexpr const char* kHandler =
    "export default (event, ctx) => ({ statusCode: 200, headers: { 'content-type': "
    "'application/json' }, body: JSON.stringify({ hello: event.name, id: ctx.activation_id }) });";

double cpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ms = [](timeval tv) { return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

long rssKb() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

struct Measure {
  double wallMsPerActivation;
  double cpuMsPerActivation;
};

Measure measure(Engine& engine, int n) {
  SourceFiles files{{"function.js", kHandler}};
  Invocation inv;
  inv.files = &files;
  inv.eventJson = R"({"name":"bench"})";
  inv.ctxJson = R"({"activation_id":"00000000-0000-4000-8000-000000000000"})";
  for (int i = 0; i < 20; ++i) (void)engine.run(inv);  // warm-up (code caches, pool)
  double cpu0 = cpuMs();
  auto t0 = std::chrono::steady_clock::now();
  int failures = 0;
  for (int i = 0; i < n; ++i) {
    auto r = engine.run(inv);
    if (r.outcome != cs::runtime::Outcome::Success) failures++;
  }
  auto t1 = std::chrono::steady_clock::now();
  double cpu1 = cpuMs();
  if (failures) std::fprintf(stderr, "runtime_bench: %d activations failed\n", failures);
  return {std::chrono::duration<double, std::milli>(t1 - t0).count() / n, (cpu1 - cpu0) / n};
}

// Latency of single activations at a low rate (one every `gapMs`): what a request sees when the
// warm pool has had time to prepare the next isolate. Returns {p50, p99} in ms.
std::pair<double, double> paced(Engine& engine, int n, int gapMs) {
  SourceFiles files{{"function.js", kHandler}};
  Invocation inv;
  inv.files = &files;
  inv.eventJson = R"({"name":"bench"})";
  inv.ctxJson = R"({"activation_id":"00000000-0000-4000-8000-000000000000"})";
  std::vector<double> samples;
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(gapMs));
    auto t0 = std::chrono::steady_clock::now();
    (void)engine.run(inv);
    samples.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples[samples.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
  int n = 2000;
  bool json = false;
  bool pooledOnly = false;  // for profiling the warm-pool path alone
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--activations") && i + 1 < argc) n = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--json")) json = true;
    if (!std::strcmp(argv[i], "--pooled-only")) pooledOnly = true;
  }
  if (n <= 0) n = 1;

  long rssBefore = rssKb();
  Measure inline_{0, 0};
  if (!pooledOnly) {
    auto cold = cs::runtime::makeV8Engine({.warmIsolates = 0});
    inline_ = measure(*cold, n);
  }
  auto warm = cs::runtime::makeV8Engine({.warmIsolates = 2});
  Measure pooled = measure(*warm, n);
  auto [pacedP50, pacedP99] = paced(*warm, 400, 3);

  // Resident memory of running isolates: hold K activations open at once, each blocked in a
  // timer so its isolate and context stay alive, and divide the RSS growth by K.
  constexpr int kHeld = 16;
  SourceFiles files{{"function.js",
                     "export default () => new Promise((r) => setTimeout(() => r(1), 400))"}};
  long rssIdle = rssKb();
  long rssPeak = rssIdle;
  std::vector<std::thread> threads;
  std::atomic<bool> done{false};
  for (int i = 0; i < kHeld; ++i) {
    threads.emplace_back([&] {
      Invocation inv;
      inv.files = &files;
      (void)warm->run(inv);
    });
  }
  std::thread sampler([&] {
    while (!done) {
      rssPeak = std::max(rssPeak, rssKb());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  sampler.join();
  double perIsolateMb = (rssPeak - rssIdle) / 1024.0 / kHeld;

  if (json) {
    std::printf(
        "{\"activations\":%d,\"inline_wall_ms\":%.4f,\"inline_cpu_ms\":%.4f,"
        "\"pooled_wall_ms\":%.4f,\"pooled_cpu_ms\":%.4f,\"paced_p50_ms\":%.4f,"
        "\"paced_p99_ms\":%.4f,\"isolate_rss_mb\":%.2f,"
        "\"process_rss_mb\":%.1f}\n",
        n, inline_.wallMsPerActivation, inline_.cpuMsPerActivation, pooled.wallMsPerActivation,
        pooled.cpuMsPerActivation, pacedP50, pacedP99, perIsolateMb, rssBefore / 1024.0);
  } else {
    std::printf("activations: %d\n", n);
    std::printf("cs-js, isolate created inline: %.3f ms wall, %.3f ms cpu per activation\n",
                inline_.wallMsPerActivation, inline_.cpuMsPerActivation);
    std::printf("cs-js, warm isolate pool     : %.3f ms wall, %.3f ms cpu per activation\n",
                pooled.wallMsPerActivation, pooled.cpuMsPerActivation);
    std::printf("one activation every 3 ms (warm pool): p50 %.3f ms, p99 %.3f ms\n", pacedP50,
                pacedP99);
    std::printf("resident memory per running isolate: %.2f MB\n", perIsolateMb);
  }
  return 0;
}
