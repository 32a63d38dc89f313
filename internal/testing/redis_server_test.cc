#include "internal/testing/redis_server.h"

#include <gtest/gtest.h>

namespace cs::testing {
namespace {

TEST(RedisServerFixture, StartsStopsAndRestartsOnTheSamePort) {
  RedisServer redis;
  ASSERT_TRUE(redis.ok()) << redis.error();
  uint16_t port = redis.port();
  EXPECT_GT(port, 0);
  redis.stop();
  EXPECT_FALSE(redis.running());
  ASSERT_TRUE(redis.start()) << redis.error();
  EXPECT_EQ(redis.port(), port);
}

}  // namespace
}  // namespace cs::testing
