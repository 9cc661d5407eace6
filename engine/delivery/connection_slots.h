// connection_slots.h: the engine-wide cap on open connections
// (EngineConfig::max_total_connections) and the FIFO of destinations that
// wanted a connection while the cap was reached: each freed slot goes to the
// destination that waited longest. Pure state; the engine pumps the one
// being served and closes idle connections when asked to reclaim slots.
#pragma once

#include <deque>
#include <unordered_set>

#include "engine/delivery/engine_model.h"

namespace postino::delivery {

class ConnectionSlots {
 public:
  explicit ConnectionSlots(int cap) : cap_(cap) {}
  void set_cap(int cap) { cap_ = cap; }  // <= 0 = unlimited

  bool Full() const { return cap_ > 0 && open_ >= cap_; }
  void Opened() { ++open_; }
  void Closed() { --open_; }

  bool AnyWaiting() const { return !fifo_.empty(); }
  bool IsWaiting(const Destination* dest) const { return waiting_.count(dest) != 0; }
  // `dest` may not open a connection now: the cap is reached, or others
  // wait for a slot before it (it is not the one being served).
  bool MustWait(const Destination* dest) const {
    return Full() || (!fifo_.empty() && dest != serving_);
  }
  // `dest` joins the FIFO (at the front when it keeps its turn, e.g. its DNS
  // answer expired while being served); asks for idle connections to close.
  void Wait(Destination* dest, bool front) {
    if (waiting_.insert(dest).second) {
      if (front) {
        fifo_.push_front(dest);
      } else {
        fifo_.push_back(dest);
      }
    }
    reclaim_ = true;
  }
  // The destination to serve with a free slot (it becomes serving()), or
  // nullptr when no slot is free or nobody waits.
  Destination* NextToServe() {
    serving_ = nullptr;
    if (Full() || fifo_.empty()) return nullptr;
    serving_ = fifo_.front();
    fifo_.pop_front();
    waiting_.erase(serving_);
    return serving_;
  }
  void DoneServing() { serving_ = nullptr; }
  const Destination* serving() const { return serving_; }
  // True once after Wait(): idle connections should make room.
  bool TakeReclaim() {
    bool r = reclaim_;
    reclaim_ = false;
    return r;
  }

 private:
  int cap_;
  int open_ = 0;  // connections open over every path
  std::deque<Destination*> fifo_;
  std::unordered_set<const Destination*> waiting_;
  Destination* serving_ = nullptr;
  bool reclaim_ = false;
};

}  // namespace postino::delivery
