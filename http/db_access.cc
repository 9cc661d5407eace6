// db_access.cc: the connection pool of the HTTP threads and the health probe.
#include "http/db_access.h"

#include <fmt/format.h>


#include "common/log.h"

namespace postino::http {
namespace {

// After a failed connect, requests fail fast for this long instead of each
// trying again (the database is down: answer 503 at once).
constexpr auto kConnectBackoff = std::chrono::milliseconds(500);

// A lookup that wakes the idle lane waits up to kLinger for company, or
// until kEnough are queued: at a few hundred to a few thousand requests a
// second that turns one- or two-row statements into batches (measured: a
// statement's fixed cost is several rows' worth, so CPU per request halves
// at 2,000/s), for at most 1 ms of latency; past kEnough rows the fixed cost
// is a small share and waiting would only add latency.
constexpr auto kLinger = std::chrono::microseconds(1000);
constexpr size_t kEnough = 16;

}  // namespace

DatabasePool::DatabasePool(ConnectFn connect, size_t size, std::chrono::milliseconds wait)
    : connect_(std::move(connect)), size_(size > 0 ? size : 1), wait_(wait) {}

Result<std::unique_ptr<db::Database>> DatabasePool::Take() {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + wait_;
  while (idle_.empty() && open_ >= size_) {
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= size_) {
      return Status::Temporary("no database connection free within " +
                               std::to_string(wait_.count()) + " ms");
    }
  }
  if (!idle_.empty()) {
    std::unique_ptr<db::Database> c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  auto now = std::chrono::steady_clock::now();
  if (now - last_connect_failure_ < kConnectBackoff) {
    return Status::Temporary("database unreachable: " + last_error_);
  }
  ++open_;
  lock.unlock();
  Result<std::unique_ptr<db::Database>> c = connect_();
  if (!c.ok()) {
    lock.lock();
    --open_;
    last_connect_failure_ = std::chrono::steady_clock::now();
    last_error_ = c.status().message();
    cv_.notify_one();
    return Status::Temporary("database unreachable: " + last_error_);
  }
  return c;
}

void DatabasePool::Give(std::unique_ptr<db::Database> conn) {
  std::lock_guard lock(mu_);
  if (conn) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

void DatabasePool::DropIdle() {
  std::vector<std::unique_ptr<db::Database>> dead;
  {
    std::lock_guard lock(mu_);
    dead.swap(idle_);
    open_ -= dead.size();
    cv_.notify_all();
  }
  // Closed outside the lock.
}

BatchingUnsubscribeStore::BatchingUnsubscribeStore(DatabasePool& pool, size_t max_batch)
    : pool_(pool),
      lane_("unsubscribes", [this](const std::vector<Op>& ops) { return RunBatch(ops); },
            max_batch, kLinger, kEnough) {}

Result<std::vector<BatchingUnsubscribeStore::OpAnswer>> BatchingUnsubscribeStore::RunBatch(
    const std::vector<Op>& ops) {
  std::vector<size_t> find_at, record_at;  // positions in `ops`
  std::vector<db::UnsubscribeKey> keys;
  std::vector<db::UnsubscribeRecord> records;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].record) {
      record_at.push_back(i);
      records.push_back(ops[i].rec);
    } else {
      find_at.push_back(i);
      keys.push_back(ops[i].key);
    }
  }
  std::vector<OpAnswer> out(ops.size());
  // A batch holds records (the follow-ups of the last lookups) or lookups;
  // both only if Record was called from outside a lookup's answer.
  if (!records.empty()) {
    ++record_batches_;
    records_ += records.size();
    Result<std::vector<bool>> r = pool_.Run<std::vector<bool>>(
        [&](db::Database& d) { return d.RecordUnsubscribes(records); });
    for (size_t j = 0; j < record_at.size(); ++j) {
      if (!r.ok()) {
        out[record_at[j]].status = r.status();
      } else {
        out[record_at[j]].recorded = r.value()[j];
      }
    }
  }
  if (!keys.empty()) {
    ++find_batches_;
    finds_ += keys.size();
    Result<std::vector<std::optional<db::UnsubscribeTarget>>> r =
        pool_.Run<std::vector<std::optional<db::UnsubscribeTarget>>>(
            [&](db::Database& d) { return d.FindUnsubscribeTargets(keys); });
    for (size_t j = 0; j < find_at.size(); ++j) {
      if (!r.ok()) {
        out[find_at[j]].status = r.status();
      } else {
        out[find_at[j]].target = std::move(r.value()[j]);
      }
    }
  }
  return out;
}

void BatchingUnsubscribeStore::Find(int64_t campaign_id, int64_t delivery_id, FindDone done) {
  Op op;
  op.key = db::UnsubscribeKey{campaign_id, delivery_id};
  lane_.Post(std::move(op), [done = std::move(done)](Result<OpAnswer> a) {
    if (!a.ok()) return done(a.status());
    if (!a.value().status.ok()) return done(a.value().status);
    done(std::move(a.value().target));
  });
}

void BatchingUnsubscribeStore::Record(const db::UnsubscribeRecord& record, RecordDone done) {
  Op op;
  op.record = true;
  op.rec = record;
  lane_.Post(std::move(op), [done = std::move(done)](Result<OpAnswer> a) {
    if (!a.ok()) return done(a.status());
    if (!a.value().status.ok()) return done(a.value().status);
    done(a.value().recorded);
  });
}

void BatchingUnsubscribeStore::Stop() { lane_.Stop(); }

BatchingUnsubscribeStore::Counts BatchingUnsubscribeStore::counts() const {
  Counts c;
  c.find_batches = find_batches_;
  c.finds = finds_;
  c.record_batches = record_batches_;
  c.records = records_;
  return c;
}

HealthProbe::HealthProbe(ConnectFn connect, std::chrono::milliseconds bound)
    : connect_(std::move(connect)), bound_(bound), thread_([this] { Main(); }) {}

HealthProbe::~HealthProbe() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

HealthProbe::DbState HealthProbe::Check() {
  std::unique_lock lock(mu_);
  uint64_t want = ++requested_;
  cv_.notify_all();
  if (!cv_.wait_for(lock, bound_, [&] { return done_ >= want || stop_; })) {
    DbState s;
    s.error = fmt::format("the database did not answer within {} ms", bound_.count());
    return s;
  }
  return last_;
}

void HealthProbe::Main() {
  std::unique_ptr<db::Database> conn;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || requested_ > done_; });
    if (stop_) return;
    uint64_t serving = requested_;
    lock.unlock();
    DbState s;
    auto start = std::chrono::steady_clock::now();
    if (!conn) {
      Result<std::unique_ptr<db::Database>> c = connect_();
      if (c.ok()) {
        conn = std::move(c).value();
      } else {
        s.error = c.status().message();
      }
    }
    if (conn) {
      Result<db::Database::Table> r = conn->Query("SELECT 1", {});
      if (r.ok()) {
        s.ok = true;
      } else {
        s.error = r.status().message();
        conn.reset();  // reconnect next time
      }
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    lock.lock();
    last_ = s;
    done_ = serving;
    cv_.notify_all();
  }
}

}  // namespace postino::http
