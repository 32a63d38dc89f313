// The codeq::Queue contract: one parameterised GoogleTest suite every driver must pass.
//
// A driver test instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Embedded, QueueContractTest,
//       ::testing::Values(QueueContractParam{"embedded", makeMyQueue}), queueContractParamName);
//
// and links cs::codeq_testing. Each test gets a fresh queue from the factory and uses topic
// names unique to the test, so a driver backed by a shared server also works.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "internal/codeq/queue.h"

namespace cs::codeq::testing {

struct QueueUnderTest {
  std::shared_ptr<void> keepAlive;  // e.g. a ManualClock or a server fixture; outlives queue
  std::unique_ptr<Queue> queue;
  // Moves the queue's time forward by `ms` (ManualClock + wake for the embedded driver; a
  // real driver sleeps).
  std::function<void(int64_t ms)> advanceMs;
  // Appends bytes to a topic as they are, bypassing encode/validate (a foreign producer).
  std::function<Status(std::string_view topic, std::string_view bytes)> publishRaw;
  // Returns once deliveries that are possible now have been made (embedded: every delivery
  // thread idle; a real driver sleeps a little). Used before asserting that something did
  // NOT happen.
  std::function<void()> settle;
};

using QueueFactory = std::function<QueueUnderTest()>;

struct QueueContractParam {
  std::string name;  // test-name suffix: [A-Za-z0-9_]
  QueueFactory factory;
};

// Prints the driver name instead of the param's bytes in failure messages.
void PrintTo(const QueueContractParam& param, std::ostream* os);

std::string queueContractParamName(const ::testing::TestParamInfo<QueueContractParam>& info);

class QueueContractTest : public ::testing::TestWithParam<QueueContractParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Queue& queue() { return *sut_.queue; }
  void advanceMs(int64_t ms) { sut_.advanceMs(ms); }
  void settle() { sut_.settle(); }
  // A topic name unique to this test run: "<prefix>.<random>".
  std::string topic(std::string_view prefix);

  QueueUnderTest sut_;
};

}  // namespace cs::codeq::testing
