// work_store.h: everything the campaign scheduler asks of the database, and
// nothing more. DbWorkStore (db_work_store.h) implements it over
// db::Database; unit tests use an in-memory fake, so the scheduler's claim,
// lease, retry and outage decisions are tested without PostgreSQL (the same
// idea as LevelDB's Env).
//
// One WorkStore is used by one thread at a time (the scheduler's DB thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "db/database.h"

namespace postino::scheduler {

class WorkStore {
 public:
  virtual ~WorkStore() = default;

  // (Re)connects when the connection is gone; OK when connected. A store
  // that cannot reach its database returns kIoError from every call.
  virtual Status Reconnect() = 0;
  // Takes the advisory lock of the node identity for the life of the store
  // (on a dedicated connection); FailedPrecondition when another live
  // process holds it.
  virtual Status LockNode(const std::string& node) = 0;

  // Work.
  virtual Result<std::vector<db::ClaimedDelivery>> Claim(const std::string& node, int limit,
                                                         std::chrono::seconds lease) = 0;
  virtual Status RecordResults(const std::string& node,
                               const std::vector<db::AttemptResult>& results) = 0;
  virtual Status ReleaseLeases(const std::string& node, const std::vector<int64_t>& ids) = 0;
  virtual Status PostponeLeases(const std::string& node, const std::vector<int64_t>& ids,
                                db::TimePoint not_before) = 0;
  virtual Status RenewLeases(const std::string& node, std::chrono::seconds lease) = 0;
  // Every lease `node` holds goes back (a dead process of this identity).
  virtual Result<int64_t> ReclaimLeases(const std::string& node) = 0;
  virtual Result<db::Database::LeaseReport> OtherNodesLeases(const std::string& node) = 0;
  virtual Result<bool> HasDueWork() = 0;

  // Campaigns.
  virtual Result<int> StartDueCampaigns() = 0;
  virtual Result<std::vector<std::string>> FinishCampaigns() = 0;
  virtual Result<std::vector<db::CampaignState>> CampaignStates(
      const std::vector<int64_t>& ids) = 0;
  virtual Result<db::CampaignRow> GetCampaignById(int64_t id) = 0;
  virtual Result<db::TemplateRow> GetTemplateById(int64_t id) = 0;
  virtual Status PauseCampaign(const std::string& name) = 0;

  // Egress paths.
  virtual Status RecordEgressEvents(const std::string& node,
                                    const std::vector<db::Database::EgressEvent>& events) = 0;
  virtual Result<std::vector<db::Database::SentCount>> WarmupCounts() = 0;
  virtual Result<std::vector<db::Database::EgressEvent>> ActivePathStates() = 0;

  // Housekeeping (issue 15): the months of delivery_events partitions ahead;
  // returns the partitions created. A store without partitions has nothing
  // to do.
  virtual Result<std::vector<std::string>> EnsureEventPartitions() {
    return std::vector<std::string>{};
  }
  // Submitted mail (issue 12). Defaults: a store without submitted mail.
  virtual Result<db::SubmittedMessage> GetSubmittedMessage(int64_t id) {
    return Status::NotFound("no submitted message " + std::to_string(id));
  }
  virtual Result<std::vector<db::SubmittedMessage>> GetSubmittedMessages(
      const std::vector<int64_t>& ids, int64_t /*max_bytes*/) {
    std::vector<db::SubmittedMessage> out;
    for (int64_t id : ids) {
      Result<db::SubmittedMessage> m = GetSubmittedMessage(id);
      if (m.ok()) out.push_back(std::move(m).value());
      else if (m.status().code() != Status::Code::kNotFound) return m.status();
    }
    return out;
  }
  virtual Result<std::vector<db::DsnWork>> PendingDsns(int /*limit*/,
                                                       std::chrono::seconds /*delay_warning*/,
                                                       std::chrono::seconds /*max_queue_time*/) {
    return std::vector<db::DsnWork>{};
  }
  virtual Result<int64_t> RecordDsn(const db::DsnWork& /*work*/,
                                    const std::optional<db::NewSubmission>& /*dsn*/) {
    return Status::FailedPrecondition("this store keeps no DSNs");
  }
  virtual Result<std::optional<db::UserRow>> GetUser(const std::string& /*name*/) {
    return std::optional<db::UserRow>();
  }
  // Suspensions and slow-downs an operator lifted (`postino sources resume`)
  // after `since`, oldest first.
  virtual Result<std::vector<db::Database::EgressEvent>> OperatorResumes(db::TimePoint since) = 0;
};

}  // namespace postino::scheduler
