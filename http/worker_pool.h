// worker_pool.h: a few threads that run queued jobs: the HTTP routes that
// may block (/healthz waits for the database probe, /metrics renders every
// series) run here, never on libmicrohttpd's network threads.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace postino::http {

class WorkerPool {
 public:
  // `name` names the threads (top -H, perf; at most 15 characters).
  WorkerPool(const char* name, unsigned threads) {
    for (unsigned i = 0; i < (threads > 0 ? threads : 1); ++i) {
      threads_.emplace_back([this, name] {
        pthread_setname_np(pthread_self(), name);
        Main();
      });
    }
  }
  ~WorkerPool() { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // After Stop, runs `job` on the caller's thread (a request still arriving
  // while the server stops gets its answer).
  void Post(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      if (!stop_) {
        jobs_.push_back(std::move(job));
        cv_.notify_one();
        return;
      }
    }
    job();
  }

  // Runs what is queued, then joins the threads. Idempotent.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

 private:
  void Main() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace postino::http
