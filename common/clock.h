// clock.h: the injectable source of time. Pure logic (throttles, retry
// schedules, leases) takes a Clock so tests run on fake time, never sleeping.
#pragma once

#include <atomic>
#include <chrono>

namespace postino {

using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Nanos = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for durations, rates and timeouts.
  virtual MonoTime Now() const = 0;
  // Wall-clock time, for timestamps that are stored or shown, and calendar days.
  virtual WallTime WallNow() const = 0;
};

// The real clocks.
class SystemClock final : public Clock {
 public:
  MonoTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  // A process-wide instance.
  static const SystemClock& Instance();
};

// A clock that moves only when told to. Both readings advance together.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime wall_start = WallTime(std::chrono::hours(24 * 365 * 56)))
      : wall_start_(wall_start) {}
  MonoTime Now() const override { return MonoTime(Nanos(offset_.load())); }
  WallTime WallNow() const override {
    return wall_start_ + std::chrono::duration_cast<WallTime::duration>(Nanos(offset_.load()));
  }
  void Advance(Nanos d) { offset_ += d.count(); }

 private:
  WallTime wall_start_;
  std::atomic<Nanos::rep> offset_{0};
};

}  // namespace postino
