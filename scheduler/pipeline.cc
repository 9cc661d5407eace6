// pipeline.cc: the Outbox between the loop and render threads and the DB thread.
#include "scheduler/pipeline.h"

namespace postino::scheduler {

std::vector<int64_t> DeliveryIds(const std::vector<Meta>& metas) {
  std::vector<int64_t> ids;
  ids.reserve(metas.size());
  for (const Meta& m : metas) ids.push_back(m.delivery_id);
  return ids;
}

void Outbox::PushResults(std::vector<db::AttemptResult> results) {
  if (results.empty()) return;
  MonoTime now = clock_.Now();
  stats_.Enter(Stage::kResultsQueue, results.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : results) {
      q_.results.push_back(std::move(r));
      q_.results_at.push_back(now);
    }
  }
  cv_.notify_one();
}

void Outbox::Release(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    q_.releases.insert(q_.releases.end(), ids.begin(), ids.end());
  }
  cv_.notify_one();
}

void Outbox::Postpone(const std::vector<int64_t>& ids, WallTime not_before) {
  if (ids.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int64_t id : ids) q_.postpones.emplace_back(id, not_before);
  }
  cv_.notify_one();
}

void Outbox::PushEgress(db::Database::EgressEvent e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    q_.egress.push_back(std::move(e));
  }
  cv_.notify_one();
}

Outbox::Batch Outbox::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  Batch b = std::move(q_);
  q_ = Batch();
  return b;
}

void Outbox::PutBack(Batch b) {
  std::lock_guard<std::mutex> lock(mu_);
  auto front = [](auto& dst, auto& src) {
    src.insert(src.end(), std::make_move_iterator(dst.begin()), std::make_move_iterator(dst.end()));
    dst = std::move(src);
  };
  front(q_.results, b.results);
  front(q_.results_at, b.results_at);
  front(q_.releases, b.releases);
  front(q_.postpones, b.postpones);
  front(q_.egress, b.egress);
}

bool Outbox::Empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return q_.empty();
}

void Outbox::Wait(std::chrono::milliseconds timeout, bool any) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return woken_ || (any && !q_.empty()); });
  woken_ = false;
}

void Outbox::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

}  // namespace postino::scheduler
