#include "common/clock.h"

#include <gtest/gtest.h>

namespace postino {
namespace {

TEST(FakeClockTest, AdvancesBothReadingsTogether) {
  FakeClock clock;
  MonoTime m0 = clock.Now();
  WallTime w0 = clock.WallNow();
  clock.Advance(std::chrono::seconds(90));
  EXPECT_EQ(clock.Now() - m0, std::chrono::seconds(90));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(clock.WallNow() - w0).count(), 90);
}

TEST(SystemClockTest, IsMonotonic) {
  const Clock& clock = SystemClock::Instance();
  MonoTime a = clock.Now();
  MonoTime b = clock.Now();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace postino
