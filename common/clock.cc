// clock.cc: the process-wide system clock.
#include "common/clock.h"

namespace postino {

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace postino
