// The queue drivers' clock is the shared cs::Clock (internal/clock/clock.h). A driver waiting
// on a deadline does not see a ManualClock change by itself: call EmbeddedQueue::wakeForTest.
#pragma once

#include "internal/clock/clock.h"

namespace cs::codeq {
using cs::Clock;
using cs::ManualClock;
using cs::SystemClock;
}  // namespace cs::codeq
