// The storage layer's clock is the shared cs::Clock (internal/clock/clock.h).
#pragma once

#include "internal/clock/clock.h"

namespace cs::kv {
using cs::Clock;
using cs::ManualClock;
using cs::SystemClock;
}  // namespace cs::kv
