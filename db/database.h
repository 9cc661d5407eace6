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

// Months of delivery_events partitions kept ready after the current one
// (db migrate, and postino run at start and daily).
inline constexpr int kEventPartitionsAhead = 3;

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
  // A submitted message's recipient (campaign_id and subscriber_id are 0):
  // the submitted_messages id, else 0.
  int64_t submission_id = 0;
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
  // Perhaps written already: an earlier write of it lost its connection,
  // maybe after the server committed (a commit in doubt). Skipped when the
  // node's event of that attempt (same delivery, same `at`) exists, so the
  // attempt is counted once.
  bool replay = false;
};

// ---- Submitted mail (issue 12; db/submissions.cc, docs/dsn.md) ----------

// One RCPT TO of a submission.
struct NewRecipient {
  std::string address;  // as given (after validation); may be UTF-8 with SMTPUTF8
  std::string domain;   // its domain as an A-label, lower case (address::DomainToAscii)
  std::string notify;   // RFC 3461 NOTIFY: "" = not given, "NEVER", or a comma list of
                        // SUCCESS, FAILURE, DELAY (any order/case)
  std::string orcpt;    // RFC 3461 ORCPT xtext-decoded: "" or "rfc822;user@example.org"
};

// One message accepted after DATA, with its envelope.
struct NewSubmission {
  std::string user;        // authenticated user name
  std::string mail_from;   // envelope sender; "" = null sender <>
  std::string envid;       // RFC 3461 ENVID, xtext-decoded; "" = none
  std::string ret;         // RFC 3461 RET: "", "FULL" or "HDRS"
  std::string bytes;       // the message, CRLF lines, not dot-stuffed, with the
                           // Received (and any added Message-ID/Date) header
  std::string message_id;  // without <>; "" = read from the Message-ID header
  std::string client_ip;
  bool body_8bitmime = false;  // BODY=8BITMIME
  bool smtputf8 = false;       // SMTPUTF8
  std::vector<NewRecipient> recipients;  // 1 or more
  std::optional<TimePoint> received_at;  // default: the database's now()
  // Internal (DSNs postino generates): the reported message and the action.
  int64_t dsn_for = 0;
  std::string dsn_action;
};

// A stored message as the scheduler sends it.
struct SubmittedMessage {
  int64_t id = 0;
  std::string user, mail_from, message_id;
  std::string bytes;
  bool is_dsn = false;
  TimePoint received_at;
};

struct SubmissionFilter {
  std::string user;                   // "" = every user
  std::string status;                 // "" = any; queued, delivered, failed, partial
  std::optional<TimePoint> since;     // received at or after
  int limit = 100;
};

// One line of `postino submitted ls`.
struct SubmissionListRow {
  int64_t id = 0;
  std::string user, mail_from, message_id, status;  // status: queued|delivered|failed|partial
  int64_t size = 0;
  int64_t recipients = 0, delivered = 0, queued = 0, failed = 0;
  bool is_dsn = false;
  TimePoint received_at;
};

struct SubmissionRecipient {
  int64_t delivery_id = 0;
  std::string address, domain, status, notify, orcpt;
  int attempts = 0;
  int code = 0;
  std::string enhanced, reply, mx_host, source_ip;
  std::optional<TimePoint> next_attempt_at, last_attempt_at, finished_at;
  bool delay_warned = false;
};

struct SubmissionDsn {
  int64_t id = 0;      // the DSN's own submitted_messages id
  std::string action;  // failed, delayed, relayed
  std::string status;  // its delivery's status to the sender
  TimePoint created_at;
};

struct SubmissionDetail {
  int64_t id = 0;
  std::string user, mail_from, envid, ret, message_id, client_ip;
  int64_t size = 0;
  bool body_8bitmime = false, smtputf8 = false;
  int64_t dsn_for = 0;  // this message is a DSN about that one (0 = no)
  std::string dsn_action;
  TimePoint received_at;
  std::vector<SubmissionRecipient> recipients;
  std::vector<SubmissionDsn> dsns;  // DSNs sent about this message
};

// A recipient a DSN must report on (see PendingDsns).
struct DsnRecipient {
  int64_t delivery_id = 0;
  std::string address, orcpt, status;  // status: bounced, expired, failed, delivered, deferred
  int code = 0;
  std::string enhanced, reply, mx_host;
  std::optional<TimePoint> last_attempt_at;
  TimePoint deadline;  // received_at + max queue time (delayed reports)
};

// One DSN to generate: a message, an action and the recipients it reports.
struct DsnWork {
  std::string action;  // failed, delayed, relayed
  int64_t submission_id = 0;
  std::string user, mail_from, envid, ret, message_id;
  TimePoint received_at;
  std::string original;  // the stored bytes (headers only are used for RET=HDRS)
  std::vector<DsnRecipient> recipients;
};

struct CampaignState {
  int64_t id = 0;
  std::string status;
};

// Unsubscribes over HTTP (db/unsubscribes.cc, http/): the delivery a
// recipient token names, and the one-transaction record of an unsubscribe.
struct UnsubscribeTarget {
  int64_t delivery_id = 0;
  int64_t campaign_id = 0;
  std::string email;              // the delivery's address: what the token's mac covers
  std::string language;           // subscriber attribute language|lang|locale ("" = none)
  std::string campaign_name;
  std::string list_name;
  bool unsubscribed = false;      // the subscriber is unsubscribed already
};

struct UnsubscribeKey {
  int64_t campaign_id = 0;
  int64_t delivery_id = 0;
};

struct UnsubscribeRecord {
  int64_t delivery_id = 0;
  int64_t campaign_id = 0;
  std::string node;    // delivery_events.node
  std::string method;  // "one-click" or "page": delivery_events.reply and suppressions.detail
};

// ---- Submission users (issue 12, migration 8; db/users.cc) ---------------
// An account that may send through the submission listener.
struct UserRow {
  int64_t id = 0;
  std::string name;
  std::string password_hash;  // Argon2id PHC string ("$argon2id$v=19$..."); never printed
  std::vector<std::string> domains;    // may send as any address of these domains
  std::vector<std::string> addresses;  // and as these exact addresses
  std::string rate;                    // "100/min"; "" = no rate limit
  std::optional<int64_t> daily_quota;  // messages per UTC day; nullopt = none
  bool disabled = false;
  TimePoint created_at, updated_at;
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

  // Unsubscribes (db/unsubscribes.cc), in batches: the HTTP threads' requests
  // are grouped so that one statement serves many (http/batcher.h).
  // The delivery of each recipient token, in the order of `keys`; nullopt
  // when there is none (a forged id, or the campaign was deleted).
  virtual Result<std::vector<std::optional<UnsubscribeTarget>>> FindUnsubscribeTargets(
      const std::vector<UnsubscribeKey>& keys) = 0;
  // In one transaction, for each record whose subscriber is not unsubscribed
  // yet: subscriber status `unsubscribed`, a suppression (reason unsubscribe,
  // with the campaign) and a delivery_events row (status unsubscribed, phase
  // http). Returns, in the order of `records`, whether each was recorded now:
  // false when the subscriber was unsubscribed already, or by an earlier
  // record of the same subscriber in this batch (idempotent; concurrent
  // calls record once).
  virtual Result<std::vector<bool>> RecordUnsubscribes(
      const std::vector<UnsubscribeRecord>& records) = 0;

  // For a connection that runs the same few prepared statements many times a
  // second (the HTTP batches): plan each once (plan_cache_mode =
  // force_generic_plan) instead of PostgreSQL's default of re-planning
  // statements whose array parameters change, which costs more than running
  // a small batch.
  virtual Status PreferGenericPlans() = 0;

  // Generic query for reports: rows of text cells, with column names.
  struct Table {
    std::vector<std::string> columns;
    std::vector<std::vector<std::optional<std::string>>> rows;
  };
  virtual Result<Table> Query(const std::string& sql, const std::vector<std::string>& params) = 0;

  // delivery_events partitions and retention (db/partitions.cc; issue 15,
  // docs/analytics.md). One partition per UTC month, named
  // delivery_events_YYYY_MM, plus delivery_events_default for rows whose
  // month has none.
  struct EventPartition {
    std::string name;
    TimePoint from, to;   // [from, to); both unset for the default partition
    bool is_default = false;
    int64_t rows = 0;     // planner estimate (pg_class.reltuples), -1 when never analyzed
    int64_t bytes = 0;    // table + indexes
  };
  // Creates the partitions of the current UTC month and the next
  // `months_ahead` ones that are missing (rows of those months in the
  // default partition move into them); returns the names created.
  virtual Result<std::vector<std::string>> EnsureEventPartitions(int months_ahead) = 0;
  virtual Result<std::vector<EventPartition>> EventPartitions() = 0;
  struct PruneReport {
    std::vector<EventPartition> dropped;  // whole months, every row before the cutoff
    int64_t default_rows = 0;             // rows before the cutoff deleted from the default partition
    int64_t minute_rows = 0;  // time series rows (delivery_minutes, delivery_hours) deleted
  };
  // Drops the month partitions that end at or before `cutoff` and deletes
  // older rows of the default partition and of the per-minute rollup. With
  // dry_run, reports the same and changes nothing. Refuses (InvalidArgument)
  // a cutoff after the start of the current UTC month.
  virtual Result<PruneReport> PruneEvents(TimePoint cutoff, bool dry_run) = 0;

  // ---- Submission users (issue 12; db/users.cc) -----------------------------
  // AlreadyExists when the name is taken.
  virtual Status AddUser(const UserRow& user) = 0;
  // Replaces the hash, domains, addresses, rate, quota and disabled flag of
  // an existing user (NotFound otherwise).
  virtual Status UpdateUser(const UserRow& user) = 0;
  // False when there was no such user.
  virtual Result<bool> RemoveUser(const std::string& name) = 0;
  virtual Result<std::vector<UserRow>> ListUsers() = 0;
  // nullopt when there is no such user.
  virtual Result<std::optional<UserRow>> GetUser(const std::string& name) = 0;
  // Messages `user` submitted since 00:00 UTC today (daily quotas).
  virtual Result<int64_t> SubmittedToday(const std::string& user) = 0;

  // ---- Submitted mail (issue 12; db/submissions.cc) ------------------------
  // Stores the message and one pending deliveries row per recipient (due
  // now) in ONE transaction; returns the submitted_messages id. Only an OK
  // return means the message is durable (reply 250 then, never before).
  // InvalidArgument (nothing stored) for a bad envelope: no recipient, a
  // recipient without a domain or with a non-ASCII/upper-case domain, RET
  // other than FULL/HDRS, NOTIFY not NEVER or a list of SUCCESS/FAILURE/DELAY.
  virtual Result<int64_t> StoreSubmission(const NewSubmission& s) = 0;
  // Group commit: every valid submission in ONE transaction. One entry per
  // input, in order: its id, or why it was refused (its own InvalidArgument,
  // or the database error that stored none of them).
  virtual std::vector<Result<int64_t>> StoreSubmissions(const std::vector<NewSubmission>& s) = 0;
  // The stored message, for sending.
  virtual Result<SubmittedMessage> GetSubmittedMessage(int64_t id) = 0;
  // Several in one query, in id order, those that exist, until their sizes
  // add up to more than `max_bytes` (the first one always comes).
  virtual Result<std::vector<SubmittedMessage>> GetSubmittedMessages(
      const std::vector<int64_t>& ids, int64_t max_bytes) = 0;
  // `postino submitted ls|show`.
  virtual Result<std::vector<SubmissionListRow>> ListSubmissions(const SubmissionFilter& f) = 0;
  virtual Result<SubmissionDetail> GetSubmission(int64_t id) = 0;
  // DSNs owed: final outcomes whose NOTIFY asks for one (failed; relayed
  // for SUCCESS), and, when delay_warning > 0, recipients still queued that
  // long after the message arrived whose NOTIFY allows DELAY (not given
  // counts as FAILURE,DELAY). Messages with a null sender never appear (their
  // rows are cleared). At most `limit` messages. `max_queue_time` sets
  // DsnRecipient::deadline.
  virtual Result<std::vector<DsnWork>> PendingDsns(int limit, std::chrono::seconds delay_warning,
                                                   std::chrono::seconds max_queue_time) = 0;
  // In ONE transaction: stores `dsn` (when set: a null-sender submission with
  // dsn_for/dsn_action set) and marks the reported recipients of `work` done
  // (final DSN cleared, or delay warning sent). With no dsn (NOTIFY or the
  // sender's ownership forbid one) only the marks are written.
  virtual Result<int64_t> RecordDsn(const DsnWork& work, const std::optional<NewSubmission>& dsn) = 0;
  // ---- Marketers' management and reports (issue 14): db/catalog.cc, db/reports.cc ----
  // One row of `campaign ls`.
  struct CampaignListRow {
    int64_t id = 0;
    std::string name, status, list_name, template_name, from_address;
    int64_t total = 0, delivered = 0, bounced = 0, remaining = 0;  // remaining: pending+deferred
    TimePoint created_at;
    std::optional<TimePoint> scheduled_at, started_at, finished_at;
  };
  virtual Result<std::vector<CampaignListRow>> ListCampaigns() = 0;
  // Deletes a draft campaign; FailedPrecondition (naming the status) for any other.
  virtual Status DeleteDraftCampaign(const std::string& name) = 0;
  struct TemplateInfo {
    std::string name, subject;
    int64_t campaigns = 0;  // campaigns using it
    TimePoint updated_at;
  };
  virtual Result<std::vector<TemplateInfo>> ListTemplates() = 0;
  // Deletes a template; FailedPrecondition naming the campaigns that use it.
  virtual Status DeleteTemplate(const std::string& name) = 0;
  // Deletes a list and its memberships (subscribers stay); FailedPrecondition
  // naming the campaigns that use it. Returns the memberships removed.
  virtual Result<int64_t> DeleteList(const std::string& name) = 0;
  struct SubscriberInfo {
    int64_t id = 0;
    std::string email, domain, status, attributes_json;
    TimePoint created_at, updated_at;
    std::vector<std::string> lists;
    std::string suppression_reason;  // "" = not suppressed
    struct Recent {
      std::string campaign, status, reply;
      int attempts = 0;
      std::optional<TimePoint> last_attempt_at;
    };
    std::vector<Recent> deliveries;  // newest first, at most 20
  };
  virtual Result<SubscriberInfo> GetSubscriber(const std::string& email) = 0;
  // Status `unsubscribed` and a suppression (reason unsubscribe); false when
  // already unsubscribed and suppressed.
  virtual Result<bool> UnsubscribeSubscriber(const std::string& email, const std::string& detail) = 0;
  // Erases a subscriber: memberships, delivery rows and their events go too
  // (a suppression entry stays). FailedPrecondition while a delivery of a
  // campaign not finished or cancelled is still to be sent.
  virtual Status DeleteSubscriber(const std::string& email) = 0;

  // Recipients of a list for `campaign check`: keyset pages by subscriber id.
  struct ListRecipient {
    int64_t subscriber_id = 0;
    std::string email, domain, attributes_json;
    bool sendable = true;  // active and not suppressed
  };
  virtual Result<std::vector<ListRecipient>> ListRecipients(int64_t list_id, int64_t after_id,
                                                            int limit) = 0;
  // Recipients per domain still to send: a draft's (or scheduled campaign's
  // before launch) sendable list members, otherwise its pending and deferred
  // deliveries. Largest first.
  struct DomainRecipients {
    std::string domain;
    int64_t recipients = 0;
  };
  virtual Result<std::vector<DomainRecipients>> RemainingByDomain(const CampaignRow& c) = 0;
  // What `campaign status` needs for an honest ETA.
  struct WaitInfo {
    int64_t due_now = 0;        // pending/deferred with next_attempt_at <= now
    int64_t waiting = 0;        // pending/deferred not due yet
    std::optional<TimePoint> next_attempt_at;  // earliest of the waiting ones
    std::optional<TimePoint> last_attempt_at;  // latest of the waiting ones
    int64_t leased = 0;         // held by a node right now
    double recent_rate = 0;     // final results per second over the last 5 minutes
  };
  virtual Result<WaitInfo> CampaignWaits(int64_t campaign_id) = 0;
  // Attempt results per time bucket (delivery_events), for the report curve.
  struct TimelinePoint {
    TimePoint at;  // bucket start
    int64_t delivered = 0, deferred = 0, bounced = 0, other = 0;
  };
  virtual Result<std::vector<TimelinePoint>> CampaignTimeline(int64_t campaign_id,
                                                              int bucket_seconds) = 0;
  // First and last event of a campaign (nullopt when none).
  virtual Result<std::optional<std::pair<TimePoint, TimePoint>>> CampaignEventSpan(
      int64_t campaign_id) = 0;
  // Deferral reasons (delivery_events with status deferred), normalized.
  struct ReasonCount {
    std::string status;
    int code = 0;
    std::string enhanced, reason;
    int64_t count = 0;
  };
  virtual Result<std::vector<ReasonCount>> DeferralReasons(int64_t campaign_id, int limit) = 0;
  // Egress events (suspend, slow, ...) between two times, oldest first.
  virtual Result<std::vector<EgressEvent>> EgressEventsBetween(TimePoint from, TimePoint to,
                                                               int limit) = 0;
  // ---- Queue control for operators (issue 14; db/queue.cc) -------------------
  // `postino queue ls|retry-now|hold|release` and `postino sources resume`.
  // A recipient is "held" when an operator put it on hold (`queue hold`): its
  // next_attempt_at is 'infinity', so no node claims it until `queue
  // release` makes it due again. Filters: "" = any; campaign by name, domain
  // exact (lowercase).
  struct QueueFilter {
    std::string campaign;
    std::string domain;
  };
  struct QueueRow {
    std::string campaign;  // "" for rows without a campaign (submitted mail)
    std::string campaign_status;
    std::string domain;
    int64_t due = 0;       // pending/deferred, due now, not leased
    int64_t waiting = 0;   // pending/deferred, next attempt in the future (not held)
    int64_t deferred = 0;  // of due + waiting + held: status deferred (tried before)
    int64_t held = 0;      // on hold (queue hold)
    int64_t in_flight = 0; // under a live lease
    std::optional<TimePoint> next_attempt;  // earliest next attempt not held
    std::string last_reply;                 // the latest reply of a row of this group
    std::optional<TimePoint> last_attempt;
  };
  virtual Result<std::vector<QueueRow>> QueueSummary(const QueueFilter& filter) = 0;
  // Rows of the filter still to send (pending or deferred), not held, not
  // leased, whose next attempt is in the future: due now. Returns how many.
  virtual Result<int64_t> RetryNow(const QueueFilter& filter) = 0;
  // Puts rows still to send (not leased) on hold; returns how many, and in
  // `*leased` how many were skipped because a node is sending them now.
  virtual Result<int64_t> HoldQueue(const QueueFilter& filter, int64_t* leased) = 0;
  // Makes held rows due now; returns how many.
  virtual Result<int64_t> ReleaseQueue(const QueueFilter& filter) = 0;
  // True when a campaign of that name exists.
  virtual Result<bool> CampaignExists(const std::string& name) = 0;
  // Lifts the suspensions and slow-downs in force of `source_name` whose
  // site matches `site_pattern` ("" = all; a site key or host pattern):
  // writes an egress_events row (action resumed, node `node`) for each, which
  // a starting node honours and a running node applies within a second.
  // Returns the states lifted.
  virtual Result<std::vector<EgressEvent>> ResumePaths(const std::string& node,
                                                       const std::string& source_name,
                                                       const std::string& site_pattern) = 0;
  // The operator's resumes (ResumePaths rows) written after `since`.
  virtual Result<std::vector<EgressEvent>> OperatorResumes(TimePoint since) = 0;
  // Returned mail (issue 13; db/returns.cc).
  virtual Result<std::optional<ReturnedDelivery>> FindReturnedDelivery(const ReturnLookup& by) = 0;
  // Records the report and its events in one transaction. Returns false, and
  // writes nothing, when a report with the same hash was recorded before.
  virtual Result<bool> RecordReturnedReport(const ReturnedReportRow& report,
                                            const std::vector<ReturnEvent>& events,
                                            const std::string& node) = 0;
};

// The egress_events.node of rows written by `postino sources resume`.
inline constexpr const char* kOperatorNode = "operator";

}  // namespace postino::db
