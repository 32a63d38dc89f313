// A fixed-rate HTTP load generator (wrk cannot hold a fixed rate): sends RATE requests/s for
// SECONDS over keep-alive connections and reports latency percentiles measured from each
// request's scheduled send time (no coordinated omission).
//   paced_load URL RATE SECONDS [HEADER ...]
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {
size_t discard(char*, size_t size, size_t n, void*) { return size * n; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: paced_load URL RATE SECONDS [HEADER ...]\n");
    return 1;
  }
  std::string url = argv[1];
  double rate = std::atof(argv[2]);
  double seconds = std::atof(argv[3]);
  if (rate <= 0 || seconds <= 0) return 1;
  curl_global_init(CURL_GLOBAL_ALL);
  const int total = static_cast<int>(rate * seconds);
  const int workers = 16;
  using clock = std::chrono::steady_clock;
  auto start = clock::now() + std::chrono::milliseconds(200);
  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      CURL* curl = curl_easy_init();
      curl_slist* headers = nullptr;
      for (int i = 4; i < argc; ++i) headers = curl_slist_append(headers, argv[i]);
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
      std::vector<double> mine;
      for (;;) {
        int i = next.fetch_add(1);
        if (i >= total) break;
        auto due = start + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate));
        std::this_thread::sleep_until(due);
        CURLcode rc = curl_easy_perform(curl);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200) errors++;
        mine.push_back(std::chrono::duration<double, std::milli>(clock::now() - due).count());
      }
      curl_slist_free_all(headers);
      curl_easy_cleanup(curl);
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty() ? 0.0 : latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()))];
  };
  std::printf("{\"requests\":%zu,\"errors\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
              latencies.size(), errors.load(), pct(0.50), pct(0.99), latencies.empty() ? 0.0 : latencies.back());
  return errors.load() == 0 ? 0 : 2;
}
