// db_workers.h: a few threads, each with its own PostgreSQL connection
// (opened on first use, reopened after a failure), that run jobs off the
// loop thread and hand each result back to the loop through one uv_async.
// The submission service uses two pools: one for AUTH (user lookup +
// Argon2id, slow by design) and one for storing messages (whose jobs take
// every message queued at that moment as one batch: group commit).
#pragma once

#include <uv.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "db/database.h"

namespace postino::inbound {

class DbWorkers {
 public:
  // Runs on a worker thread; `db` is null when the database is unreachable.
  // Returns the function to run on the loop afterwards.
  using Job = std::function<std::function<void()>(db::Database* db)>;

  // `connect` opens a connection (called on the worker thread).
  using Connect = std::function<Result<std::unique_ptr<db::Database>>()>;
  DbWorkers(uv_loop_t* loop, std::string name, int threads, Connect connect);
  ~DbWorkers();  // Stop() if not done
  DbWorkers(const DbWorkers&) = delete;
  DbWorkers& operator=(const DbWorkers&) = delete;

  void Post(Job job);
  // Finishes queued jobs, joins the threads, closes the async handle.
  void Stop();
  size_t queued() const;
  // Called by a job on a worker thread whose statement failed with a lost
  // connection: the thread reconnects before its next job.
  static void ReportBroken();

 private:
  void ThreadMain();
  void Deliver();

  uv_loop_t* loop_;
  std::string name_;
  Connect connect_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<std::function<void()>> done_;  // results for the loop
  bool stop_ = false;
  std::vector<std::thread> threads_;
  uv_async_t* async_ = nullptr;
};

}  // namespace postino::inbound
