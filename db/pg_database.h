// pg_database.h: internal to the db module. PgDatabase, the PostgreSQL
// implementation of Database (libpqxx 6.4), and the helpers its source files
// share. Its methods are defined by area in database.cc (connection, schema,
// lists, templates, subscribers, suppressions), campaigns.cc (campaigns,
// progress, reports) and deliveries.cc (claims, leases, results, egress
// events, warm-up counts, path states) and submissions.cc (submitted mail, DSN
// bookkeeping). Every libpqxx exception is caught
// there and turned into a Status; only db/*.cc include this header.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "db/database.h"

namespace postino::db::internal {

inline TimePoint FromEpoch(double seconds) {
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(seconds)));
}

inline double ToEpoch(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

inline std::string EpochText(TimePoint t) { return fmt::format("{:.6f}", ToEpoch(t)); }

inline std::optional<TimePoint> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromEpoch(f.as<double>());
}

inline std::string Str(const pqxx::field& f) {
  return f.is_null() ? std::string() : f.as<std::string>();
}

// PostgreSQL array literals for one-parameter batches ($1::bigint[],
// $1::text[]): "{1,2}" and "{"a","b"}" (every text element quoted, `"` and
// `\` escaped).
inline std::string IdArray(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  out += '}';
  return out;
}

inline std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// An egress_events row selected as (source_name, source_ip, site, domain,
// action, coalesce(reply, ''), coalesce(rate, ''), epoch of at, epoch of
// until): the column order every such query uses.
inline Database::EgressEvent EgressEventFromRow(const pqxx::row& row) {
  Database::EgressEvent e;
  e.source_name = Str(row[0]);
  e.source_ip = Str(row[1]);
  e.site = Str(row[2]);
  e.domain = Str(row[3]);
  e.action = Str(row[4]);
  e.reply = Str(row[5]);
  e.rate = Str(row[6]);
  e.at = FromEpoch(row[7].as<double>());
  e.until = OptTime(row[8]);
  return e;
}

// True for the SQLSTATEs with which the server ends a session (see Guard).
inline bool IsSessionEnded(const std::string& sqlstate) {
  return sqlstate.rfind("57P", 0) == 0 || sqlstate.rfind("08", 0) == 0;
}

// Runs `body`, converting libpqxx exceptions into a Status naming `what`.
template <typename F>
auto Guard(const char* what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const pqxx::broken_connection& e) {
    return Status::IoError(fmt::format("{}: database connection lost: {}", what, e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    // The connection broke while COMMIT was on its way: the transaction may
    // or may not have committed. Reported as a lost connection, so the
    // caller writes it again once reconnected (or journals it): writing a
    // result twice counts one attempt too many, while dropping it would
    // send that message again after its lease is taken back.
    return Status::IoError(
        fmt::format("{}: database connection lost while committing: {}", what, e.what()));
  } catch (const pqxx::sql_error& e) {
    std::string msg = e.what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    // The server ended the session rather than refusing the statement:
    // class 57P (57P01 admin_shutdown from a fast shutdown or restart,
    // 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P05 an idle-session
    // timeout) or class 08 (connection exception). libpq reports these as a
    // statement's error, but the connection is gone, not the rows wrong:
    // callers reconnect (or journal) on kIoError, and must not fall back to
    // writing rows one by one and drop them as bad.
    if (IsSessionEnded(e.sqlstate())) {
      return Status::IoError(fmt::format("{}: database connection lost: {}", what, msg));
    }
    return Status::Internal(fmt::format("{}: SQL error: {}", what, msg));
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("{}: {}", what, e.what()));
  }
}

// In submissions.cc: marks the submitted rows of RecordResults' results_in
// that now owe a DSN (inside its transaction).
void MarkDsnOwed(pqxx::work& tx);

class PgDatabase final : public Database {
 public:
  explicit PgDatabase(std::unique_ptr<pqxx::connection> conn) : conn_(std::move(conn)) {}

  pqxx::connection& conn() { return *conn_; }

  // In database.cc.
  Result<int> SchemaVersion() override;
  Result<MigrateReport> Migrate() override;
  Status CheckSchema() override;
  Result<std::vector<ListInfo>> Lists() override;
  Status AddTemplate(const TemplateRow& t, bool replace) override;
  Result<TemplateRow> GetTemplate(const std::string& name) override;
  Result<TemplateRow> GetTemplateById(int64_t id) override;
  Result<std::string> SubscriberAttributes(const std::string& email) override;
  Result<int64_t> AddSuppressions(const std::vector<std::pair<std::string, std::string>>& entries,
                                  const std::string& detail) override;
  Result<bool> RemoveSuppression(const std::string& email) override;
  Result<std::unique_ptr<ListImport>> BeginListImport(const std::string& list) override;

  // In campaigns.cc.
  Status CreateCampaign(const CampaignSpec& s) override;
  Result<CampaignRow> GetCampaign(const std::string& name) override;
  Result<CampaignRow> GetCampaignById(int64_t id) override;
  Result<LaunchResult> LaunchCampaign(const std::string& name) override;
  Status Transition(const std::string& name, const std::vector<std::string>& from,
                    const std::string& to, const std::string& verb, const std::string& extra_set);
  Status PauseCampaign(const std::string& name) override;
  Status ResumeCampaign(const std::string& name) override;
  Result<int64_t> CancelCampaign(const std::string& name) override;
  Result<CampaignProgress> Progress(const std::string& name) override;
  Result<std::vector<DomainCount>> DomainCounts(const std::string& name) override;
  Result<int> StartDueCampaigns() override;
  Result<std::vector<std::string>> FinishCampaigns() override;
  Result<std::vector<CampaignState>> CampaignStates(const std::vector<int64_t>& ids) override;
  Result<Table> Query(const std::string& sql, const std::vector<std::string>& params) override;

  // In deliveries.cc.
  Result<std::vector<ClaimedDelivery>> Claim(const std::string& node, int limit,
                                             std::chrono::seconds lease) override;
  Status RecordResults(const std::string& node, const std::vector<AttemptResult>& results) override;
  Status ReleaseLeases(const std::string& node, const std::vector<int64_t>& ids) override;
  Status PostponeLeases(const std::string& node, const std::vector<int64_t>& ids,
                        TimePoint not_before) override;
  Status GiveBack(const std::string& node, const std::vector<int64_t>& ids,
                  std::optional<TimePoint> not_before);
  Status RenewLeases(const std::string& node, std::chrono::seconds lease) override;
  Result<bool> HasDueWork() override;
  Result<int64_t> OutstandingDeliveries() override;
  Result<bool> TryLockNode(const std::string& node) override;
  Result<int64_t> ReclaimLeases(const std::string& node) override;
  Result<LeaseReport> OtherNodesLeases(const std::string& node) override;
  Result<std::vector<EgressEvent>> ActivePathStates() override;
  Status RecordEgressEvents(const std::string& node,
                            const std::vector<EgressEvent>& events) override;
  Result<std::vector<std::pair<std::string, int64_t>>> DeliveredTodayBySource() override;
  Result<std::vector<SentCount>> DeliveredTodayBySourceAndSite() override;

  // In unsubscribes.cc.
  Result<std::vector<std::optional<UnsubscribeTarget>>> FindUnsubscribeTargets(
      const std::vector<UnsubscribeKey>& keys) override;
  Result<std::vector<bool>> RecordUnsubscribes(
      const std::vector<UnsubscribeRecord>& records) override;
  Status PreferGenericPlans() override;
  // In partitions.cc.
  Result<std::vector<std::string>> EnsureEventPartitions(int months_ahead) override;
  Result<std::vector<EventPartition>> EventPartitions() override;
  Result<PruneReport> PruneEvents(TimePoint cutoff, bool dry_run) override;
  // In users.cc.
  Status AddUser(const UserRow& user) override;
  Status UpdateUser(const UserRow& user) override;
  Result<bool> RemoveUser(const std::string& name) override;
  Result<std::vector<UserRow>> ListUsers() override;
  Result<std::optional<UserRow>> GetUser(const std::string& name) override;
  Result<int64_t> SubmittedToday(const std::string& user) override;
  // In submissions.cc.
  Result<int64_t> StoreSubmission(const NewSubmission& s) override;
  std::vector<Result<int64_t>> StoreSubmissions(const std::vector<NewSubmission>& s) override;
  Result<SubmittedMessage> GetSubmittedMessage(int64_t id) override;
  Result<std::vector<SubmittedMessage>> GetSubmittedMessages(const std::vector<int64_t>& ids,
                                                             int64_t max_bytes) override;
  Result<std::vector<SubmissionListRow>> ListSubmissions(const SubmissionFilter& f) override;
  Result<SubmissionDetail> GetSubmission(int64_t id) override;
  Result<std::vector<DsnWork>> PendingDsns(int limit, std::chrono::seconds delay_warning,
                                           std::chrono::seconds max_queue_time) override;
  Result<int64_t> RecordDsn(const DsnWork& work, const std::optional<NewSubmission>& dsn) override;
  // In catalog.cc (issue 14: management for marketers).
  Result<std::vector<CampaignListRow>> ListCampaigns() override;
  Status DeleteDraftCampaign(const std::string& name) override;
  Result<std::vector<TemplateInfo>> ListTemplates() override;
  Status DeleteTemplate(const std::string& name) override;
  Result<int64_t> DeleteList(const std::string& name) override;
  Result<SubscriberInfo> GetSubscriber(const std::string& email) override;
  Result<bool> UnsubscribeSubscriber(const std::string& email, const std::string& detail) override;
  Status DeleteSubscriber(const std::string& email) override;
  Result<std::vector<ListRecipient>> ListRecipients(int64_t list_id, int64_t after_id,
                                                    int limit) override;

  // In reports.cc (issue 14: plan, status ETA, HTML report).
  Result<std::vector<DomainRecipients>> RemainingByDomain(const CampaignRow& c) override;
  Result<WaitInfo> CampaignWaits(int64_t campaign_id) override;
  Result<std::vector<TimelinePoint>> CampaignTimeline(int64_t campaign_id,
                                                      int bucket_seconds) override;
  Result<std::optional<std::pair<TimePoint, TimePoint>>> CampaignEventSpan(
      int64_t campaign_id) override;
  Result<std::vector<ReasonCount>> DeferralReasons(int64_t campaign_id, int limit) override;
  Result<std::vector<EgressEvent>> EgressEventsBetween(TimePoint from, TimePoint to,
                                                       int limit) override;
  // Queue control (db/queue.cc).
  Result<std::vector<QueueRow>> QueueSummary(const QueueFilter& filter) override;
  Result<int64_t> RetryNow(const QueueFilter& filter) override;
  Result<int64_t> HoldQueue(const QueueFilter& filter, int64_t* leased) override;
  Result<int64_t> ReleaseQueue(const QueueFilter& filter) override;
  Result<bool> CampaignExists(const std::string& name) override;
  Result<std::vector<EgressEvent>> ResumePaths(const std::string& node,
                                               const std::string& source_name,
                                               const std::string& site_pattern) override;
  Result<std::vector<EgressEvent>> OperatorResumes(TimePoint since) override;
  // In returns.cc.
  Result<std::optional<ReturnedDelivery>> FindReturnedDelivery(const ReturnLookup& by) override;
  Result<bool> RecordReturnedReport(const ReturnedReportRow& report,
                                    const std::vector<ReturnEvent>& events,
                                    const std::string& node) override;

 private:
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace postino::db::internal
