// db_work_store.cc: WorkStore calls forwarded to db::Database, with
// reconnection and the node-identity lock.
#include "scheduler/db_work_store.h"

#include <fmt/format.h>

namespace postino::scheduler {
namespace {

class DbWorkStore final : public WorkStore {
 public:
  explicit DbWorkStore(std::string url) : url_(std::move(url)) {}

  Status Reconnect() override {
    if (db_ && !broken_) return Status::Ok();
    Result<std::unique_ptr<db::Database>> fresh = db::Database::Connect(url_);
    if (!fresh.ok()) return fresh.status();
    db_ = std::move(fresh).value();
    broken_ = false;
    // The identity lock lives on its own connection; a lost one is taken
    // again (on a live one the lock is re-entrant, so asking again is harmless).
    if (locked_node_.empty()) return Status::Ok();
    if (lock_conn_) {
      Result<bool> still = lock_conn_->TryLockNode(locked_node_);
      if (still.ok() && *still) return Status::Ok();
    }
    return LockNode(locked_node_);
  }

  Status LockNode(const std::string& node) override {
    Result<std::unique_ptr<db::Database>> conn = db::Database::Connect(url_);
    if (!conn.ok()) return conn.status();
    Result<bool> got = (*conn)->TryLockNode(node);
    if (!got.ok()) return got.status();
    if (!*got) {
      return Status::FailedPrecondition(fmt::format(
          "another `postino run` with node id \"{}\" is running against this database; two live "
          "processes cannot share one identity (set a different [node] id or --node-id)",
          node));
    }
    lock_conn_ = std::move(conn).value();
    locked_node_ = node;
    return Status::Ok();
  }

  Result<std::vector<db::ClaimedDelivery>> Claim(const std::string& node, int limit,
                                                 std::chrono::seconds lease) override {
    return Call([&](db::Database& d) { return d.Claim(node, limit, lease); });
  }
  Status RecordResults(const std::string& node,
                       const std::vector<db::AttemptResult>& results) override {
    return Call([&](db::Database& d) { return d.RecordResults(node, results); });
  }
  Status ReleaseLeases(const std::string& node, const std::vector<int64_t>& ids) override {
    return Call([&](db::Database& d) { return d.ReleaseLeases(node, ids); });
  }
  Status PostponeLeases(const std::string& node, const std::vector<int64_t>& ids,
                        db::TimePoint not_before) override {
    return Call([&](db::Database& d) { return d.PostponeLeases(node, ids, not_before); });
  }
  Status RenewLeases(const std::string& node, std::chrono::seconds lease) override {
    return Call([&](db::Database& d) { return d.RenewLeases(node, lease); });
  }
  Result<int64_t> ReclaimLeases(const std::string& node) override {
    return Call([&](db::Database& d) { return d.ReclaimLeases(node); });
  }
  Result<db::Database::LeaseReport> OtherNodesLeases(const std::string& node) override {
    return Call([&](db::Database& d) { return d.OtherNodesLeases(node); });
  }
  Result<bool> HasDueWork() override {
    return Call([&](db::Database& d) { return d.HasDueWork(); });
  }
  Result<int> StartDueCampaigns() override {
    return Call([&](db::Database& d) { return d.StartDueCampaigns(); });
  }
  Result<std::vector<std::string>> FinishCampaigns() override {
    return Call([&](db::Database& d) { return d.FinishCampaigns(); });
  }
  Result<std::vector<db::CampaignState>> CampaignStates(const std::vector<int64_t>& ids) override {
    return Call([&](db::Database& d) { return d.CampaignStates(ids); });
  }
  Result<db::CampaignRow> GetCampaignById(int64_t id) override {
    return Call([&](db::Database& d) { return d.GetCampaignById(id); });
  }
  Result<db::TemplateRow> GetTemplateById(int64_t id) override {
    return Call([&](db::Database& d) { return d.GetTemplateById(id); });
  }
  Status PauseCampaign(const std::string& name) override {
    return Call([&](db::Database& d) { return d.PauseCampaign(name); });
  }
  Status RecordEgressEvents(const std::string& node,
                            const std::vector<db::Database::EgressEvent>& events) override {
    return Call([&](db::Database& d) { return d.RecordEgressEvents(node, events); });
  }
  Result<std::vector<db::Database::SentCount>> WarmupCounts() override {
    return Call([&](db::Database& d) { return d.DeliveredTodayBySourceAndSite(); });
  }
  Result<std::vector<db::Database::EgressEvent>> ActivePathStates() override {
    return Call([&](db::Database& d) { return d.ActivePathStates(); });
  }
  Result<std::vector<std::string>> EnsureEventPartitions() override {
    return Call(
        [&](db::Database& d) { return d.EnsureEventPartitions(db::kEventPartitionsAhead); });
  }
  Result<db::SubmittedMessage> GetSubmittedMessage(int64_t id) override {
    return Call([&](db::Database& d) { return d.GetSubmittedMessage(id); });
  }
  Result<std::vector<db::SubmittedMessage>> GetSubmittedMessages(const std::vector<int64_t>& ids,
                                                                 int64_t max_bytes) override {
    return Call([&](db::Database& d) { return d.GetSubmittedMessages(ids, max_bytes); });
  }
  Result<std::vector<db::DsnWork>> PendingDsns(int limit, std::chrono::seconds delay_warning,
                                               std::chrono::seconds max_queue_time) override {
    return Call([&](db::Database& d) { return d.PendingDsns(limit, delay_warning, max_queue_time); });
  }
  Result<int64_t> RecordDsn(const db::DsnWork& work,
                            const std::optional<db::NewSubmission>& dsn) override {
    return Call([&](db::Database& d) { return d.RecordDsn(work, dsn); });
  }
  Result<std::optional<db::UserRow>> GetUser(const std::string& name) override {
    return Call([&](db::Database& d) { return d.GetUser(name); });
  }
  Result<std::vector<db::Database::EgressEvent>> OperatorResumes(db::TimePoint since) override {
    return Call([&](db::Database& d) { return d.OperatorResumes(since); });
  }

 private:
  // Runs `f` on the work connection, connecting first if needed; a lost
  // connection (kIoError) is marked broken so Reconnect opens a new one.
  template <typename F>
  auto Call(F&& f) -> decltype(f(std::declval<db::Database&>())) {
    if (!db_ || broken_) {
      Status st = Reconnect();
      if (!st.ok()) return Status::IoError(st.message());
    }
    auto r = f(*db_);
    if (StatusOf(r).code() == Status::Code::kIoError) broken_ = true;
    return r;
  }
  static const Status& StatusOf(const Status& s) { return s; }
  template <typename T>
  static Status StatusOf(const Result<T>& r) {
    return r.ok() ? Status::Ok() : r.status();
  }

  std::string url_;
  std::unique_ptr<db::Database> db_;
  bool broken_ = false;
  std::unique_ptr<db::Database> lock_conn_;
  std::string locked_node_;
};

}  // namespace

std::unique_ptr<WorkStore> MakeDbWorkStore(std::string url) {
  return std::make_unique<DbWorkStore>(std::move(url));
}

}  // namespace postino::scheduler
