// The kv::Store contract: one parameterised GoogleTest suite every driver must pass.
//
// A driver test instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest,
//       ::testing::Values(StoreContractParam{"memory", makeMyStore}), storeContractParamName);
//
// and links cs::kv_testing. Each test gets a fresh, empty store from the factory.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "internal/kv/store.h"

namespace cs::kv::testing {

// One store under test, plus a way to move its time forward.
struct StoreUnderTest {
  std::shared_ptr<void> keepAlive;  // e.g. the ManualClock or a server fixture; outlives store
  std::unique_ptr<Store> store;
  // Moves the store's time forward by `ms` (ManualClock::advanceMs for the embedded driver;
  // a real driver may sleep).
  std::function<void(int64_t ms)> advanceMs;
};

using StoreFactory = std::function<StoreUnderTest()>;

struct StoreContractParam {
  std::string name;  // test-name suffix: [A-Za-z0-9_]
  StoreFactory factory;
};

// Prints the driver name instead of the param's bytes in failure messages.
void PrintTo(const StoreContractParam& param, std::ostream* os);

std::string storeContractParamName(const ::testing::TestParamInfo<StoreContractParam>& info);

class StoreContractTest : public ::testing::TestWithParam<StoreContractParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Store& store() { return *sut_.store; }
  void advanceMs(int64_t ms) { sut_.advanceMs(ms); }

  StoreUnderTest sut_;
};

}  // namespace cs::kv::testing
