// wake_queue.cc: one timer for every destination's next wake-up.
#include "engine/delivery/wake_queue.h"

#include <algorithm>

namespace postino::delivery {

WakeQueue::WakeQueue(uv_loop_t* loop, const Clock& clock, std::function<void(Destination*)> due)
    : clock_(clock), due_(std::move(due)), box_(new Box{{}, this}) {
  uv_timer_init(loop, &box_->timer);
  box_->timer.data = box_;
}

WakeQueue::~WakeQueue() {
  box_->owner = nullptr;
  uv_timer_stop(&box_->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&box_->timer),
           [](uv_handle_t* h) { delete static_cast<Box*>(h->data); });
}

void WakeQueue::Stop() {
  uv_timer_stop(&box_->timer);
  armed_ = MonoTime::max();
}

std::optional<Nanos> WakeQueue::NextIn() const {
  if (armed_ == MonoTime::max()) return std::nullopt;
  return std::max(Nanos(0), Nanos(armed_ - clock_.Now()));
}

void WakeQueue::Arm(Destination* dest, MonoTime when) {
  if (when >= dest->wake_at) return;
  dest->wake_at = when;
  entries_.emplace(when, dest);
  ++dest->wake_entries;
  if (when >= armed_) return;
  armed_ = when;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(when - clock_.Now()).count();
  uv_timer_start(
      &box_->timer,
      [](uv_timer_t* t) {
        auto* box = static_cast<Box*>(t->data);
        if (box->owner != nullptr) box->owner->OnTimer();
      },
      static_cast<uint64_t>(std::max<int64_t>(ms, 1)), 0);
}

void WakeQueue::OnTimer() {
  armed_ = MonoTime::max();
  MonoTime now = clock_.Now();
  while (!entries_.empty()) {
    auto [when, dest] = entries_.top();
    if (when != dest->wake_at) {  // superseded by an earlier wake-up
      entries_.pop();
      --dest->wake_entries;
      continue;
    }
    if (when > now) break;
    entries_.pop();
    --dest->wake_entries;
    dest->wake_at = MonoTime::max();
    due_(dest);
  }
  if (!entries_.empty()) {
    auto [when, dest] = entries_.top();
    dest->wake_at = MonoTime::max();  // Arm sets it again
    entries_.pop();
    --dest->wake_entries;
    Arm(dest, when);
  }
}

}  // namespace postino::delivery
