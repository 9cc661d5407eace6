// db_access.h: how the HTTP threads reach PostgreSQL. DatabasePool hands one
// connection (db::Database) to one request at a time, connecting lazily and
// dropping a connection that broke; BatchingUnsubscribeStore is the
// production UnsubscribeStore on it (group commit, batch_lane.h); HealthProbe answers "does the database answer a
// trivial query within a bound?" for /healthz without ever blocking a
// request longer than that bound.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "db/database.h"
#include "http/batch_lane.h"
#include "http/unsubscribe.h"

namespace postino::http {

using ConnectFn = std::function<Result<std::unique_ptr<db::Database>>()>;

class DatabasePool {
 public:
  // `size` connections at most; a request waits up to `wait` for one.
  DatabasePool(ConnectFn connect, size_t size, std::chrono::milliseconds wait);

  // Runs `fn` on a pooled connection. A connection whose call failed with
  // kIoError (connection lost) is dropped with every idle one, and `fn` is
  // tried once more on a fresh connection. Errors: Temporary when no connection is free in time or the
  // database cannot be reached.
  template <typename T>
  Result<T> Run(const std::function<Result<T>(db::Database&)>& fn);

 private:
  Result<std::unique_ptr<db::Database>> Take();
  void Give(std::unique_ptr<db::Database> conn);  // nullptr = the connection is gone
  void DropIdle();  // closes every idle connection

  ConnectFn connect_;
  const size_t size_;
  const std::chrono::milliseconds wait_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<db::Database>> idle_;
  size_t open_ = 0;  // idle + in use + connecting
  std::chrono::steady_clock::time_point last_connect_failure_{};
  std::string last_error_;
};

// The HTTP side's lookups and records, grouped on one lane thread with one
// pooled connection: one statement for every lookup waiting, then (as the
// lane's follow-up batch, batch_lane.h) one statement for every record those
// lookups' answers asked for. A lookup's answer is handled on the lane thread
// (the handler verifies the token there), so a one-click POST is answered
// after two statements, each shared with the requests that came with it,
// and two thread wake-ups. One recorder per process also keeps two of its
// batches from locking subscribers in opposite orders.
class BatchingUnsubscribeStore : public UnsubscribeStore {
 public:
  BatchingUnsubscribeStore(DatabasePool& pool, size_t max_batch);
  void Find(int64_t campaign_id, int64_t delivery_id, FindDone done) override;
  void Record(const db::UnsubscribeRecord& record, RecordDone done) override;
  // Fails what is waiting and joins the lane; Find/Record fail afterwards.
  void Stop();
  // Statements run and requests served so far.
  struct Counts {
    uint64_t find_batches = 0, finds = 0, record_batches = 0, records = 0;
  };
  Counts counts() const;

 private:
  struct Op {
    bool record = false;
    db::UnsubscribeKey key;      // a lookup
    db::UnsubscribeRecord rec;   // a record
  };
  struct OpAnswer {
    Status status;  // the statement's; the fields below are set when ok
    std::optional<db::UnsubscribeTarget> target;
    bool recorded = false;
  };
  Result<std::vector<OpAnswer>> RunBatch(const std::vector<Op>& ops);

  DatabasePool& pool_;
  std::atomic<uint64_t> find_batches_{0}, finds_{0}, record_batches_{0}, records_{0};
  BatchLane<Op, OpAnswer> lane_;  // last: its thread uses the members above
};

class HealthProbe {
 public:
  struct DbState {
    bool ok = false;
    std::string error;     // when !ok
    double seconds = 0;    // how long the query took
  };

  // A thread with its own connection runs "SELECT 1" when asked.
  HealthProbe(ConnectFn connect, std::chrono::milliseconds bound);
  ~HealthProbe();
  HealthProbe(const HealthProbe&) = delete;
  HealthProbe& operator=(const HealthProbe&) = delete;

  // Asks for a fresh probe and waits for it at most `bound`; concurrent
  // callers share one probe.
  DbState Check();

 private:
  void Main();

  ConnectFn connect_;
  const std::chrono::milliseconds bound_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t requested_ = 0;  // guarded by mu_
  uint64_t done_ = 0;       // guarded by mu_
  DbState last_;            // guarded by mu_
  bool stop_ = false;       // guarded by mu_
  std::thread thread_;
};

template <typename T>
Result<T> DatabasePool::Run(const std::function<Result<T>(db::Database&)>& fn) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<std::unique_ptr<db::Database>> conn = Take();
    if (!conn.ok()) return conn.status();
    Result<T> r = fn(**conn);
    if (!r.ok() && r.status().code() == Status::Code::kIoError) {
      // The server went away (a restart): the idle connections are as dead
      // as this one, so the retry gets a fresh connection.
      Give(nullptr);
      DropIdle();
      continue;
    }
    Give(std::move(conn).value());
    return r;
  }
  return Status::Temporary("the database connection was lost twice");
}

}  // namespace postino::http
