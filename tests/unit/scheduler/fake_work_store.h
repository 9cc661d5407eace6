// fake_work_store.h: an in-memory WorkStore for the scheduler's unit tests:
// deliveries with statuses, due times and leases on a FakeClock, campaigns
// and templates, and a switch that makes the "database" unreachable.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "scheduler/work_store.h"

namespace postino::scheduler::testing {

class FakeWorkStore final : public WorkStore {
 public:
  explicit FakeWorkStore(const FakeClock& clock) : clock_(clock) {}

  struct Row {
    db::ClaimedDelivery d;
    std::string status = "pending";
    WallTime next_attempt_at{};
    std::string lease_owner;
    WallTime lease_until{};
    int results = 0;  // results recorded for this row
  };
  // A running campaign with a template that renders; returns its id.
  int64_t AddCampaign(const std::string& name, std::chrono::seconds max_age = std::chrono::hours(72));
  // `n` pending recipients of campaign `id`, due now.
  void AddDeliveries(int64_t campaign_id, int n);
  void SetCampaignStatus(int64_t id, const std::string& status);

  // The database goes away (every call fails with kIoError) or comes back.
  void SetDown(bool down) { down_ = down; }
  // The next RecordResults fails with a non-connection error.
  void FailNextRecordWithSqlError() { sql_error_ = true; }
  // A server shutting down: the session ends with an SQL-level error, then
  // every call finds the database gone (until SetDown(false)).
  void FailNextRecordWithSqlErrorThenGoDown() {
    sql_error_ = true;
    down_after_sql_error_ = true;
  }
  // A commit in doubt: the next RecordResults is applied, then the call
  // fails with kIoError as if the connection broke before the server's
  // answer, and the database is gone (until SetDown(false)).
  void CommitNextRecordThenGoDown() { in_doubt_ = true; }

  std::map<int64_t, Row>& rows() { return rows_; }
  int claims() const { return claims_; }
  int reconnects() const { return reconnects_; }
  std::vector<int64_t> released;
  std::vector<std::pair<int64_t, WallTime>> postponed;
  std::set<std::string> locked;  // node identities locked (by any store)
  std::set<std::string>* shared_locks = nullptr;  // set to share locks between stores

  Status Reconnect() override;
  Status LockNode(const std::string& node) override;
  Result<std::vector<db::ClaimedDelivery>> Claim(const std::string& node, int limit,
                                                 std::chrono::seconds lease) override;
  Status RecordResults(const std::string& node,
                       const std::vector<db::AttemptResult>& results) override;
  Status ReleaseLeases(const std::string& node, const std::vector<int64_t>& ids) override;
  Status PostponeLeases(const std::string& node, const std::vector<int64_t>& ids,
                        db::TimePoint not_before) override;
  Status RenewLeases(const std::string& node, std::chrono::seconds lease) override;
  Result<int64_t> ReclaimLeases(const std::string& node) override;
  Result<db::Database::LeaseReport> OtherNodesLeases(const std::string& node) override;
  Result<bool> HasDueWork() override;
  Result<int> StartDueCampaigns() override;
  Result<std::vector<std::string>> FinishCampaigns() override;
  Result<std::vector<db::CampaignState>> CampaignStates(const std::vector<int64_t>& ids) override;
  Result<db::CampaignRow> GetCampaignById(int64_t id) override;
  Result<db::TemplateRow> GetTemplateById(int64_t id) override;
  Status PauseCampaign(const std::string& name) override;
  Status RecordEgressEvents(const std::string& node,
                            const std::vector<db::Database::EgressEvent>& events) override;
  Result<std::vector<db::Database::SentCount>> WarmupCounts() override;
  Result<std::vector<db::Database::EgressEvent>> ActivePathStates() override;
  Result<std::vector<db::Database::EgressEvent>> OperatorResumes(db::TimePoint since) override;

 private:
  bool Due(const Row& r) const;
  Status Down() const { return Status::IoError("database connection lost: fake outage"); }
  bool in_doubt_ = false;
  std::map<int64_t, std::vector<WallTime>> attempts_;  // each delivery's recorded attempts

  const FakeClock& clock_;
  std::map<int64_t, Row> rows_;
  std::map<int64_t, db::CampaignRow> campaigns_;
  int64_t next_row_ = 1;
  bool down_ = false;
  bool sql_error_ = false;
  bool down_after_sql_error_ = false;
  int claims_ = 0;
  int reconnects_ = 0;
};

}  // namespace postino::scheduler::testing
