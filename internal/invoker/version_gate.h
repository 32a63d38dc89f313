// VersionGate — the per-version semaphore of SPEC §10 (max_concurrency per replica, keyed
// tenant/ns/fn/version) that never blocks a thread: a job that finds the version full is
// parked here (FIFO per version) and handed back by release() together with the permit, so
// workers stay free for other versions and a waiting job cannot be overtaken by a newcomer.
// Parked jobs keep their queue delivery un-acked, so they still count against the
// subscription's maxInflight: parking is bounded by the same backpressure as the work queue.
//
// Threads: any thread; one mutex. Header-only because it is a template over the job type.
#pragma once

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cs::invoker {

template <typename Job>
class VersionGate {
 public:
  // Takes a permit of `key` (true) or parks the job (false; `job` is moved from). `limit` is
  // the version's max_concurrency (values < 1 count as 1); versions are immutable, so the
  // limit of the first caller holds for the key's lifetime.
  bool acquireOrPark(const std::string& key, int limit, Job& job) {
    std::lock_guard lock(mu_);
    Slot& slot = slots_[key];
    if (slot.inUse == 0) slot.limit = std::max(1, limit);
    if (slot.inUse < slot.limit && slot.waiting.empty()) {
      ++slot.inUse;
      return true;
    }
    slot.waiting.push_back(std::move(job));
    ++parked_;
    return false;
  }

  // Gives back a permit of `key`. If a job is parked for the key it is returned and now holds
  // the permit (the caller must run it, or release again).
  std::optional<Job> release(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = slots_.find(key);
    if (it == slots_.end()) return std::nullopt;
    Slot& slot = it->second;
    if (!slot.waiting.empty()) {
      Job next = std::move(slot.waiting.front());
      slot.waiting.pop_front();
      --parked_;
      return next;
    }
    if (--slot.inUse <= 0) slots_.erase(it);
    return std::nullopt;
  }

  // Removes every parked job (at stop). Permits held by running jobs are not affected.
  std::vector<Job> drain() {
    std::lock_guard lock(mu_);
    std::vector<Job> out;
    for (auto& [key, slot] : slots_) {
      for (auto& job : slot.waiting) out.push_back(std::move(job));
      slot.waiting.clear();
    }
    parked_ = 0;
    return out;
  }

  size_t parked() const {
    std::lock_guard lock(mu_);
    return parked_;
  }

  int inUse(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = slots_.find(key);
    return it == slots_.end() ? 0 : it->second.inUse;
  }

 private:
  struct Slot {
    int limit = 1;
    int inUse = 0;
    std::deque<Job> waiting;
  };
  mutable std::mutex mu_;  // guards slots_ and parked_
  std::unordered_map<std::string, Slot> slots_;
  size_t parked_ = 0;
};

}  // namespace cs::invoker
