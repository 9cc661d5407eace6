// wake_queue.h: the engine's wake-up timer for destinations that hold
// messages back until a given time (a throttle's next slot, the end of a
// suspension, the next UTC day of a warm-up cap). One libuv timer, armed for
// the earliest wake-up; an earlier wake-up for a destination supersedes a
// later one. Time comes from the injected Clock.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "engine/delivery/engine_model.h"

namespace postino::delivery {

class WakeQueue {
 public:
  // `due` runs on the loop for each destination whose time has come.
  WakeQueue(uv_loop_t* loop, const Clock& clock, std::function<void(Destination*)> due);
  ~WakeQueue();  // closes the timer (freed from its close callback)
  WakeQueue(const WakeQueue&) = delete;
  WakeQueue& operator=(const WakeQueue&) = delete;

  // Wake `dest` at `when` (unless an earlier wake-up is already set for it).
  void Arm(Destination* dest, MonoTime when);
  // Stops the timer (shutdown); nothing is woken any more.
  void Stop();
  // Until the next wake-up; nullopt when none is armed.
  std::optional<Nanos> NextIn() const;

 private:
  void OnTimer();

  struct Box {
    uv_timer_t timer;
    WakeQueue* owner;
  };
  const Clock& clock_;
  std::function<void(Destination*)> due_;
  Box* box_;
  using Entry = std::pair<MonoTime, Destination*>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> entries_;
  MonoTime armed_ = MonoTime::max();
};

}  // namespace postino::delivery
