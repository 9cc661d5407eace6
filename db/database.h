// database.h: every SQL statement postino runs, behind one class. The only
// module that uses libpqxx; nothing here exposes libpqxx types, and no
// libpqxx exception escapes: each method returns a Status/Result.
//
// One Database is one PostgreSQL connection, used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace postino::db {

using TimePoint = std::chrono::system_clock::time_point;

struct MigrateReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;  // "3 views for analysts"
};

struct ImportRow {
  size_t line = 0;          // CSV line, for duplicate reports
  std::string email;        // validated, domain normalised
  std::string domain;
  std::string attributes;   // JSON object text
};

struct ImportCounts {
  int64_t rows = 0;            // valid rows given
  int64_t new_subscribers = 0;
  int64_t updated_subscribers = 0;
  int64_t added_to_list = 0;     // memberships created
  int64_t already_in_list = 0;
  int64_t duplicates_in_file = 0;
  std::vector<std::pair<size_t, size_t>> duplicate_lines;  // (line, first line), first 100
};

// Streams validated rows into PostgreSQL with COPY, then merges them into
// subscribers and list_members set-based when Finish() is called. Nothing is
// visible until Finish() commits.
class ListImport {
 public:
  virtual ~ListImport() = default;
  virtual Status Add(const ImportRow& row) = 0;
  virtual Result<ImportCounts> Finish(bool dry_run) = 0;
};

struct ListInfo {
  std::string name;
  int64_t members = 0;
  int64_t active = 0;
  TimePoint created_at;
};

struct TemplateRow {
  int64_t id = 0;
  std::string name, subject, html, text;
};

struct CampaignSpec {
  std::string name, list, template_name;
  std::string from_name, from_address, reply_to;
  std::string pool;
  std::optional<TimePoint> scheduled_at;
  std::string max_age;       // PostgreSQL interval text, "" = default
  std::string settings_json; // "" = {}
};

struct CampaignRow {
  int64_t id = 0;
  std::string name, status, list_name, template_name;
  int64_t list_id = 0, template_id = 0;
  std::string from_name, from_address, reply_to, pool, settings_json;
  std::chrono::seconds max_age{0};
  std::optional<TimePoint> scheduled_at, launched_at, started_at, finished_at;
};

struct LaunchResult {
  int64_t deliveries = 0;
  int64_t suppressed = 0;
  std::string status;  // running or scheduled
};

struct StatusCount {
  std::string status;
  int64_t count = 0;
};

struct CampaignProgress {
  std::string status;
  int64_t total = 0, pending = 0, deferred = 0, delivered = 0, bounced = 0, expired = 0,
          suppressed = 0, cancelled = 0, failed = 0;
  int64_t done() const { return total - pending - deferred; }
  std::optional<TimePoint> started_at, finished_at;
  double elapsed_seconds = 0;  // since started (to finish, or now)
};

struct DomainCount {
  std::string domain, status;
  int64_t count = 0;
};

// One recipient claimed for sending.
struct ClaimedDelivery {
  int64_t id = 0;
  int64_t campaign_id = 0;
  int64_t subscriber_id = 0;
  std::string email, domain;
  int attempts = 0;          // attempts made before this one
  std::string message_id;    // "" on the first attempt
  std::string attributes;    // JSON object text
  // When the first attempt was made (now, for a first attempt): a recipient's
  // age for max_age counts from here, not from the launch, so time spent
  // paused or scheduled never expires anyone.
  TimePoint first_attempt_at;
};

// The result of one attempt, to record.
struct AttemptResult {
  int64_t delivery_id = 0;
  int64_t campaign_id = 0;
  std::string status;        // delivered, deferred, bounced, expired, failed
  int code = 0;              // 0 = none
  std::string enhanced, reply, phase, source_ip, mx_host, tls_version, tls_cipher, message_id;
  std::string site;  // MX site key of the connection ("" when none was made)
  TimePoint at;
  TimePoint next_attempt_at;  // for deferred
  bool suppress = false;      // add the address to suppressions (hard bounce)
  std::string email;          // needed when suppress is set
};

struct CampaignState {
  int64_t id = 0;
  std::string status;
};

// Returned mail (issue 13: bounces and complaints by mail; db/returns.cc).
struct ReturnedDelivery {
  int64_t id = 0;
  int64_t campaign_id = 0;
  int64_t subscriber_id = 0;
  std::string email, status, message_id;
};
// One way to find the delivery a report is about; the first field set wins:
// delivery_id, then message_id, then (campaign_id, email), then email alone
// (the latest delivered row to that address).
struct ReturnLookup {
  int64_t delivery_id = 0;
  std::string message_id;
  int64_t campaign_id = 0;
  std::string email;
};
// What one report says about one matched delivery.
struct ReturnEvent {
  int64_t delivery_id = 0;
  std::string event;  // bounced, soft_bounced, complained, unsubscribed (delivery_events.status)
  std::string phase;  // async, arf, mail
  int smtp_code = 0;  // 0 = none
  std::string enhanced, reply;
  // bounced: the delivery row becomes `bounced` (from `delivered`), the
  // subscriber `bounced`; suppress adds suppression reason hard_bounce.
  // complained: suppress adds reason complaint (and a complaints row always).
  // unsubscribed: subscriber `unsubscribed`, suppression reason unsubscribe.
  bool suppress = false;
  std::string feedback_type, source, source_ip;  // complaints
};
struct ReturnedReportRow {
  std::string hash;  // hex SHA-256 of the message bytes: the idempotence key
  std::string kind, format, mail_from, rcpt_to, reasons;
  int recipients = 0;
  int unmatched = 0;
};

class Database {
 public:
  // Connects; the URL is a libpq connection string or postgresql:// URI.
  static Result<std::unique_ptr<Database>> Connect(const std::string& url);
  virtual ~Database() = default;

  // Schema.
  virtual Result<MigrateReport> Migrate() = 0;
  // Highest applied migration version, 0 for an empty database.
  virtual Result<int> SchemaVersion() = 0;
  // Fails with a clear message unless the schema is exactly the one this
  // binary knows (run `postino db migrate`).
  virtual Status CheckSchema() = 0;

  // Lists.
  virtual Result<std::unique_ptr<ListImport>> BeginListImport(const std::string& list) = 0;
  virtual Result<std::vector<ListInfo>> Lists() = 0;

  // Templates.
  virtual Status AddTemplate(const TemplateRow& t, bool replace) = 0;
  virtual Result<TemplateRow> GetTemplate(const std::string& name) = 0;
  virtual Result<TemplateRow> GetTemplateById(int64_t id) = 0;
  // One subscriber's attributes (JSON) by email, for previews.
  virtual Result<std::string> SubscriberAttributes(const std::string& email) = 0;

  // Campaigns.
  virtual Status CreateCampaign(const CampaignSpec& spec) = 0;
  virtual Result<CampaignRow> GetCampaign(const std::string& name) = 0;
  virtual Result<CampaignRow> GetCampaignById(int64_t id) = 0;
  virtual Result<LaunchResult> LaunchCampaign(const std::string& name) = 0;
  virtual Status PauseCampaign(const std::string& name) = 0;
  virtual Status ResumeCampaign(const std::string& name) = 0;
  // Cancels; recipients not yet final become `cancelled`. Returns how many.
  virtual Result<int64_t> CancelCampaign(const std::string& name) = 0;
  virtual Result<CampaignProgress> Progress(const std::string& name) = 0;
  virtual Result<std::vector<DomainCount>> DomainCounts(const std::string& name) = 0;

  // Engine side.
  // Starts scheduled campaigns whose time has come; returns how many.
  virtual Result<int> StartDueCampaigns() = 0;
  // Claims up to `limit` due deliveries of running campaigns for `node`,
  // leasing them until now + lease.
  virtual Result<std::vector<ClaimedDelivery>> Claim(const std::string& node, int limit,
                                                     std::chrono::seconds lease) = 0;
  // Records attempt results: events (COPY) and delivery rows (set-based).
  virtual Status RecordResults(const std::string& node, const std::vector<AttemptResult>& r) = 0;
  // Gives claimed deliveries back without an attempt (shutdown, pause).
  virtual Status ReleaseLeases(const std::string& node, const std::vector<int64_t>& ids) = 0;
  // Like ReleaseLeases, and the rows are not due again before `not_before`
  // (nothing was attempted: no event, the attempt count stays).
  virtual Status PostponeLeases(const std::string& node, const std::vector<int64_t>& ids,
                                TimePoint not_before) = 0;
  // Extends the lease of every row this node holds.
  virtual Status RenewLeases(const std::string& node, std::chrono::seconds lease) = 0;
  // Marks running campaigns with no remaining work as finished; returns names.
  virtual Result<std::vector<std::string>> FinishCampaigns() = 0;
  // Status of the given campaigns.
  virtual Result<std::vector<CampaignState>> CampaignStates(const std::vector<int64_t>& ids) = 0;
  // True when some running campaign has a due, unleased delivery, or a
  // scheduled campaign is due.
  virtual Result<bool> HasDueWork() = 0;
  // Deliveries still to send (pending or deferred) of running campaigns.
  virtual Result<int64_t> OutstandingDeliveries() = 0;
  // Takes the session-level advisory lock of a node identity on this
  // connection (held until it closes); false when another live process
  // holds it.
  virtual Result<bool> TryLockNode(const std::string& node) = 0;
  // Gives back every lease `node` holds (rows of a dead process of the same
  // identity), like ReleaseLeases; returns how many rows.
  virtual Result<int64_t> ReclaimLeases(const std::string& node) = 0;
  // Rows still to send that other nodes hold under a live lease, and when the
  // last of those leases expires.
  struct LeaseReport {
    int64_t rows = 0;
    std::optional<TimePoint> expires_by;
  };
  virtual Result<LeaseReport> OtherNodesLeases(const std::string& node) = 0;

  // Suppressions. Adds (email, reason) pairs in one statement; existing
  // entries are kept. Returns how many were new.
  virtual Result<int64_t> AddSuppressions(
      const std::vector<std::pair<std::string, std::string>>& entries, const std::string& detail) = 0;
  // Returns false when the address was not suppressed.
  virtual Result<bool> RemoveSuppression(const std::string& email) = 0;

  // Egress path events (suspensions, slow-downs, recoveries).
  struct EgressEvent {
    TimePoint at;
    std::string source_name, source_ip, site, domain, action, reply, rate;
    std::optional<TimePoint> until;
  };
  virtual Status RecordEgressEvents(const std::string& node,
                                    const std::vector<EgressEvent>& events) = 0;
  // Paths whose latest event (per source name and site) is a suspension or
  // a slow-down still in force (until in the future): what a starting node
  // must honour.
  virtual Result<std::vector<EgressEvent>> ActivePathStates() = 0;
  // Today's (UTC) attempts that reached a site per source address (the sum
  // of DeliveredTodayBySourceAndSite over sites), for warm-up caps.
  virtual Result<std::vector<std::pair<std::string, int64_t>>> DeliveredTodayBySource() = 0;
  // Today's (UTC) attempts that reached a site, per source address and MX
  // site ("" for events written before the site was recorded): the engine's
  // warm-up counts (every recipient handed to a site, retries included).
  struct SentCount {
    std::string source_ip;
    std::string site;
    int64_t count = 0;
  };
  virtual Result<std::vector<SentCount>> DeliveredTodayBySourceAndSite() = 0;

  // Generic query for reports: rows of text cells, with column names.
  struct Table {
    std::vector<std::string> columns;
    std::vector<std::vector<std::optional<std::string>>> rows;
  };
  virtual Result<Table> Query(const std::string& sql, const std::vector<std::string>& params) = 0;

  // Returned mail (issue 13; db/returns.cc).
  virtual Result<std::optional<ReturnedDelivery>> FindReturnedDelivery(const ReturnLookup& by) = 0;
  // Records the report and its events in one transaction. Returns false, and
  // writes nothing, when a report with the same hash was recorded before.
  virtual Result<bool> RecordReturnedReport(const ReturnedReportRow& report,
                                            const std::vector<ReturnEvent>& events,
                                            const std::string& node) = 0;
};

}  // namespace postino::db
