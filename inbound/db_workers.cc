// db_workers.cc: worker threads with their own database connection (see
// db_workers.h).
#include "inbound/db_workers.h"

#include "common/log.h"

namespace postino::inbound {

namespace {
thread_local bool broken = false;
}  // namespace

void DbWorkers::ReportBroken() { broken = true; }

DbWorkers::DbWorkers(uv_loop_t* loop, std::string name, int threads, Connect connect)
    : loop_(loop), name_(std::move(name)), connect_(std::move(connect)) {
  async_ = new uv_async_t;
  uv_async_init(loop_, async_, [](uv_async_t* a) { static_cast<DbWorkers*>(a->data)->Deliver(); });
  async_->data = this;
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ThreadMain(); });
}

DbWorkers::~DbWorkers() { Stop(); }

void DbWorkers::Post(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

size_t DbWorkers::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void DbWorkers::ThreadMain() {
  std::unique_ptr<db::Database> db;
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!db) {
      Result<std::unique_ptr<db::Database>> c = connect_();
      if (c.ok()) {
        db = std::move(c).value();
      } else {
        log::Warn("{}: database unreachable: {}", name_, c.status().message());
      }
    }
    std::function<void()> result = job(db.get());
    if (broken) {
      broken = false;
      db.reset();
    }
    if (!result) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(std::move(result));
    }
    uv_async_send(async_);
  }
}

void DbWorkers::Deliver() {
  std::vector<std::function<void()>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(done_);
  }
  for (auto& d : done) d();
}

void DbWorkers::Stop() {
  if (async_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  Deliver();
  uv_close(reinterpret_cast<uv_handle_t*>(async_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
  async_ = nullptr;
}

}  // namespace postino::inbound
