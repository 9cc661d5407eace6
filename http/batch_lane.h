// batch_lane.h: group commit for the HTTP side's database work. Requests
// Post one key each with a callback; one lane thread takes every key queued
// (up to a bound), answers them all with one call (one SQL statement), then
// runs each caller's callback with its own answer. While a batch is in
// PostgreSQL the next one gathers, so the number of statements follows the
// database's speed, not the request rate, and nobody waits on a timer: a lone
// request is answered at once. Nothing blocks a network thread, and a batch
// costs two thread wake-ups however many requests it holds.
//
// Follow-ups: a key Posted by a callback on the lane thread (a lookup's
// answer asking for the write it decided on) runs in the very next batch,
// at once and before any key queued from outside, so a lookup-then-write
// request is answered after two statements, not after the next round of
// everybody else's lookups too.
#pragma once

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace postino::http {

template <typename Key, typename Answer>
class BatchLane {
 public:
  // Answers keys[i] with answers[i]; an error Status answers the whole batch.
  using RunFn = std::function<Result<std::vector<Answer>>(const std::vector<Key>&)>;
  // Runs on the lane thread (or on the caller's, once stopped); must be quick.
  using Done = std::function<void(Result<Answer>)>;

  // `linger`: when a key wakes the idle lane, how long it waits for more
  // before running a batch (0 = at once), unless `enough` keys are queued
  // first. Under a trickle of requests this trades that much latency for
  // fewer, larger statements; a burst (many clients answered at once coming
  // back) fills `enough` at once and does not wait.
  BatchLane(std::string name, RunFn run, size_t max_batch,
            std::chrono::microseconds linger = std::chrono::microseconds(0), size_t enough = 0)
      : name_(std::move(name)),
        run_(std::move(run)),
        max_batch_(max_batch > 0 ? max_batch : 1),
        linger_(linger),
        enough_(enough > 0 && enough < max_batch_ ? enough : max_batch_) {
    thread_ = std::thread([this] { Main(); });
  }
  ~BatchLane() { Stop(); }
  BatchLane(const BatchLane&) = delete;
  BatchLane& operator=(const BatchLane&) = delete;

  // Queues `key`; `done` gets its answer exactly once.
  // From a callback on the lane thread it is a follow-up (see above).
  void Post(Key key, Done done) {
    {
      std::lock_guard lock(mu_);
      if (!stop_) {
        if (std::this_thread::get_id() == lane_id_) {
          follow_ups_.push_back(Pending{std::move(key), std::move(done)});
          return;  // the lane thread looks at follow-ups before it sleeps
        }
        queue_.push_back(Pending{std::move(key), std::move(done)});
        if (idle_ || (lingering_ && queue_.size() >= enough_)) work_cv_.notify_one();
        return;
      }
    }
    done(Status::Temporary(name_ + ": shutting down"));
  }

  // Answers what is queued with an error, joins the thread; Post answers
  // with an error from then on. Idempotent.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // How many batches and keys were answered (logs, tests).
  std::pair<uint64_t, uint64_t> Counts() const {
    std::lock_guard lock(mu_);
    return {batches_, keys_};
  }

 private:
  struct Pending {
    Key key;
    Done done;
  };

  void Main() {
    // Named for top -H and perf (at most 15 characters).
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
    std::unique_lock lock(mu_);
    lane_id_ = std::this_thread::get_id();
    bool started = false;
    while (true) {
      std::vector<Pending> batch;
      if (!follow_ups_.empty()) {
        // The last batch's callbacks asked for these: they go first, alone.
        while (!follow_ups_.empty() && batch.size() < max_batch_) {
          batch.push_back(std::move(follow_ups_.front()));
          follow_ups_.pop_front();
        }
      } else {
        // A fresh lane counts as idle: its first key may come before it runs.
        bool slept = !started || queue_.empty();
        started = true;
        idle_ = true;
        work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        idle_ = false;
        if (queue_.empty()) return;  // stop_ with nothing left
        // Only a lane that was idle lingers: keys that queued while a batch
        // ran go at once.
        if (slept && linger_.count() > 0 && !stop_ && queue_.size() < enough_) {
          lingering_ = true;
          work_cv_.wait_for(lock, linger_, [&] { return stop_ || queue_.size() >= enough_; });
          lingering_ = false;
        }
        while (!queue_.empty() && batch.size() < max_batch_) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      bool stopping = stop_;
      lock.unlock();
      if (stopping) {
        for (Pending& p : batch) p.done(Status::Temporary(name_ + ": shutting down"));
      } else {
        std::vector<Key> keys;
        keys.reserve(batch.size());
        for (const Pending& p : batch) keys.push_back(p.key);
        Result<std::vector<Answer>> r = run_(keys);
        if (r.ok() && r.value().size() != batch.size()) {
          r = Status::Internal(name_ + ": a batch was answered with the wrong number of results");
        }
        for (size_t i = 0; i < batch.size(); ++i) {
          if (r.ok()) {
            batch[i].done(Result<Answer>(std::move(r.value()[i])));
          } else {
            batch[i].done(r.status());
          }
        }
      }
      lock.lock();
      ++batches_;
      keys_ += batch.size();
    }
  }

  const std::string name_;
  RunFn run_;
  const size_t max_batch_;
  const std::chrono::microseconds linger_;
  const size_t enough_;  // queued keys that end a linger
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the lane thread waits for keys
  std::deque<Pending> queue_;        // guarded by mu_
  std::deque<Pending> follow_ups_;   // guarded by mu_: Posted on the lane thread
  std::thread::id lane_id_;          // guarded by mu_ (set once by the lane thread)
  bool stop_ = false;                // guarded by mu_
  bool idle_ = false;                // guarded by mu_: the lane thread is waiting
  bool lingering_ = false;           // guarded by mu_: waiting for a fuller batch
  uint64_t batches_ = 0;             // guarded by mu_
  uint64_t keys_ = 0;                // guarded by mu_
  std::thread thread_;
};

}  // namespace postino::http
