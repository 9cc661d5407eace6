// submissions.cc: PgDatabase (see pg_database.h), submitted mail (issue 12):
// storing accepted messages with one deliveries row per recipient in one
// transaction (one message, or a group commit of many), reading them back
// for sending and for `postino submitted ls|show`, and the bookkeeping of
// delivery status notifications (which DSNs are owed, storing one and
// marking what it reported, atomically). docs/dsn.md describes the rules.
#include <fmt/format.h>

#include <pqxx/pqxx>
#include <set>

#include "db/database.h"
#include "db/pg_database.h"

namespace postino::db::internal {

namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// RFC 3461 NOTIFY: "NEVER", or one or more of SUCCESS, FAILURE, DELAY.
// Canonical form: "NEVER" or the given ones in the order SUCCESS,FAILURE,DELAY.
Result<std::string> CanonicalNotify(const std::string& notify) {
  if (notify.empty()) return std::string();
  std::set<std::string> given;
  size_t start = 0;
  while (start <= notify.size()) {
    size_t comma = notify.find(',', start);
    std::string word = Upper(notify.substr(start, comma == std::string::npos ? std::string::npos
                                                                              : comma - start));
    if (word != "NEVER" && word != "SUCCESS" && word != "FAILURE" && word != "DELAY") {
      return Status::InvalidArgument(fmt::format(
          "NOTIFY=\"{}\": expected NEVER or a comma list of SUCCESS, FAILURE, DELAY", notify));
    }
    given.insert(word);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (given.count("NEVER")) {
    if (given.size() > 1) {
      return Status::InvalidArgument(
          fmt::format("NOTIFY=\"{}\": NEVER cannot be combined with other values", notify));
    }
    return std::string("NEVER");
  }
  std::string out;
  for (const char* w : {"SUCCESS", "FAILURE", "DELAY"}) {
    if (!given.count(w)) continue;
    if (!out.empty()) out += ',';
    out += w;
  }
  return out;
}

bool ValidDomain(const std::string& d) {
  if (d.empty() || d.size() > 255) return false;
  for (char c : d) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::isupper(u) || c == '@' || c == '<' || c == '>') return false;
  }
  return true;
}

bool HasControl(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// The Message-ID header's value without <> (first occurrence, unfolded), or "".
std::string MessageIdOf(const std::string& bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t eol = bytes.find('\n', pos);
    if (eol == std::string::npos) eol = bytes.size();
    std::string_view line(bytes.data() + pos, eol - pos);
    if (line.empty() || line == "\r") break;  // end of the header
    if (line.size() > 11 && Upper(std::string(line.substr(0, 11))) == "MESSAGE-ID:") {
      std::string value(line.substr(11));
      // Folded continuation lines.
      size_t next = eol + 1;
      while (next < bytes.size() && (bytes[next] == ' ' || bytes[next] == '\t')) {
        size_t e = bytes.find('\n', next);
        if (e == std::string::npos) e = bytes.size();
        value.append(bytes, next, e - next);
        next = e + 1;
      }
      size_t lt = value.find('<'), gt = value.find('>', lt == std::string::npos ? 0 : lt);
      if (lt != std::string::npos && gt != std::string::npos) return value.substr(lt + 1, gt - lt - 1);
      std::string trimmed;
      for (char c : value) {
        if (c != ' ' && c != '\t' && c != '\r') trimmed += c;
      }
      return trimmed;
    }
    pos = eol + 1;
  }
  return std::string();
}

// Checks a submission and returns it with NOTIFY canonical and the
// Message-ID filled in.
Result<NewSubmission> Checked(const NewSubmission& in) {
  NewSubmission s = in;
  if (s.recipients.empty()) return Status::InvalidArgument("a submission needs a recipient");
  if (s.bytes.empty()) return Status::InvalidArgument("a submission needs a message");
  s.ret = Upper(s.ret);
  if (!s.ret.empty() && s.ret != "FULL" && s.ret != "HDRS") {
    return Status::InvalidArgument(fmt::format("RET=\"{}\": expected FULL or HDRS", in.ret));
  }
  if (HasControl(s.mail_from) || HasControl(s.envid) || HasControl(s.user)) {
    return Status::InvalidArgument("the envelope holds control characters");
  }
  for (NewRecipient& r : s.recipients) {
    if (r.address.empty() || HasControl(r.address) || HasControl(r.orcpt)) {
      return Status::InvalidArgument(fmt::format("recipient \"{}\" is not an address", r.address));
    }
    if (!ValidDomain(r.domain)) {
      return Status::InvalidArgument(fmt::format(
          "recipient {}: domain \"{}\" is not a lower-case A-label (use address::DomainToAscii)",
          r.address, r.domain));
    }
    Result<std::string> notify = CanonicalNotify(r.notify);
    if (!notify.ok()) {
      return Status::InvalidArgument(fmt::format("recipient {}: {}", r.address,
                                                 notify.status().message()));
    }
    r.notify = *notify;
  }
  if (s.message_id.empty()) s.message_id = MessageIdOf(s.bytes);
  if (HasControl(s.message_id)) s.message_id.clear();
  return s;
}

// Inserts checked submissions inside `tx`; returns their ids in order.
std::vector<int64_t> Insert(pqxx::work& tx, const std::vector<const NewSubmission*>& subs) {
  std::vector<int64_t> ids;
  std::vector<int64_t> rcpt_sub;
  std::vector<std::string> emails, domains, notifies, orcpts, message_ids;
  for (const NewSubmission* s : subs) {
    pqxx::result r = tx.exec_params(
        "INSERT INTO submitted_messages (user_name, mail_from, envid, ret, body, size, message_id,"
        " received_at, client_ip, body_8bitmime, smtputf8, dsn_for, dsn_action)"
        " VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5, $6, NULLIF($7, ''),"
        " coalesce(to_timestamp($8::float8), now()), NULLIF($9, ''), $10, $11, NULLIF($12, 0),"
        " NULLIF($13, '')) RETURNING id",
        s->user, s->mail_from, s->envid, s->ret, pqxx::binarystring(s->bytes),
        static_cast<int64_t>(s->bytes.size()), s->message_id,
        s->received_at ? std::optional<double>(ToEpoch(*s->received_at)) : std::optional<double>(),
        s->client_ip, s->body_8bitmime, s->smtputf8, s->dsn_for, s->dsn_action);
    int64_t id = r[0][0].as<int64_t>();
    ids.push_back(id);
    for (const NewRecipient& rc : s->recipients) {
      rcpt_sub.push_back(id);
      emails.push_back(rc.address);
      domains.push_back(rc.domain);
      notifies.push_back(rc.notify);
      orcpts.push_back(rc.orcpt);
      message_ids.push_back(s->message_id);
    }
  }
  // Every recipient of every message in one statement.
  tx.exec_params(
      "INSERT INTO deliveries (submission_id, email, domain, status, next_attempt_at, message_id,"
      " dsn_notify, dsn_orcpt)"
      " SELECT t.s, t.e, t.d, 'pending', now(), NULLIF(t.m, ''), NULLIF(t.n, ''), NULLIF(t.o, '')"
      " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
      " AS t(s, e, d, n, o, m)",
      IdArray(rcpt_sub), TextArray(emails), TextArray(domains), TextArray(notifies),
      TextArray(orcpts), TextArray(message_ids));
  return ids;
}

}  // namespace

// A final outcome just recorded (results_in of RecordResults) owes a DSN when
// the sender is not null and NOTIFY asks: FAILURE (or NOTIFY not given) for
// bounced/expired/failed, SUCCESS for delivered.
void MarkDsnOwed(pqxx::work& tx) {
  tx.exec(
      "UPDATE deliveries d SET dsn_pending = CASE WHEN d.status = 'delivered' THEN 'delivered'"
      " ELSE 'failed' END"
      " FROM results_in r, submitted_messages m"
      " WHERE d.id = r.delivery_id AND d.submission_id = m.id AND m.mail_from <> ''"
      " AND d.dsn_pending IS NULL AND r.status = d.status"
      " AND ((d.status IN ('bounced', 'expired', 'failed') AND (d.dsn_notify IS NULL OR"
      " d.dsn_notify LIKE '%FAILURE%')) OR (d.status = 'delivered' AND d.dsn_notify LIKE"
      " '%SUCCESS%'))");
}

Result<int64_t> PgDatabase::StoreSubmission(const NewSubmission& s) {
  std::vector<Result<int64_t>> r = StoreSubmissions({s});
  return std::move(r.front());
}

std::vector<Result<int64_t>> PgDatabase::StoreSubmissions(const std::vector<NewSubmission>& in) {
  std::vector<Result<int64_t>> out;
  out.reserve(in.size());
  std::vector<NewSubmission> checked;
  std::vector<size_t> index;  // checked[i] is in[index[i]]
  for (size_t i = 0; i < in.size(); ++i) {
    Result<NewSubmission> c = Checked(in[i]);
    if (c.ok()) {
      index.push_back(i);
      checked.push_back(std::move(c).value());
      out.emplace_back(Status::Internal("not stored"));
    } else {
      out.emplace_back(c.status());
    }
  }
  if (checked.empty()) return out;
  Result<std::vector<int64_t>> ids = Guard("storing submitted messages",
                                           [&]() -> Result<std::vector<int64_t>> {
    pqxx::work tx(*conn_);
    std::vector<const NewSubmission*> ptrs;
    for (const NewSubmission& s : checked) ptrs.push_back(&s);
    std::vector<int64_t> got = Insert(tx, ptrs);
    tx.commit();
    return got;
  });
  for (size_t i = 0; i < checked.size(); ++i) {
    out[index[i]] = ids.ok() ? Result<int64_t>((*ids)[i]) : Result<int64_t>(ids.status());
  }
  return out;
}

Result<SubmittedMessage> PgDatabase::GetSubmittedMessage(int64_t id) {
  Result<std::vector<SubmittedMessage>> r = GetSubmittedMessages({id}, 1);
  if (!r.ok()) return r.status();
  if (r->empty()) return Status::NotFound(fmt::format("no submitted message {}", id));
  return std::move(r->front());
}

Result<std::vector<SubmittedMessage>> PgDatabase::GetSubmittedMessages(
    const std::vector<int64_t>& ids, int64_t max_bytes) {
  if (ids.empty()) return std::vector<SubmittedMessage>{};
  return Guard("reading submitted messages", [&]() -> Result<std::vector<SubmittedMessage>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT m.id, m.user_name, m.mail_from, coalesce(m.message_id, ''), m.body,"
        " m.dsn_action IS NOT NULL, extract(epoch from m.received_at)::float8"
        " FROM (SELECT id, sum(size) OVER (ORDER BY id) - size AS before"
        "  FROM submitted_messages WHERE id = ANY($1::bigint[])) k"
        " JOIN submitted_messages m ON m.id = k.id"
        " WHERE k.before = 0 OR k.before < $2 ORDER BY m.id",
        IdArray(ids), max_bytes);
    std::vector<SubmittedMessage> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      SubmittedMessage m;
      m.id = row[0].as<int64_t>();
      m.user = Str(row[1]);
      m.mail_from = Str(row[2]);
      m.message_id = Str(row[3]);
      m.bytes = pqxx::binarystring(row[4]).str();
      m.is_dsn = row[5].as<bool>();
      m.received_at = FromEpoch(row[6].as<double>());
      out.push_back(std::move(m));
    }
    return out;
  });
}

Result<std::vector<SubmissionListRow>> PgDatabase::ListSubmissions(const SubmissionFilter& f) {
  if (!f.status.empty() && f.status != "queued" && f.status != "delivered" &&
      f.status != "failed" && f.status != "partial") {
    return Status::InvalidArgument(fmt::format(
        "--status \"{}\": expected queued, delivered, failed or partial", f.status));
  }
  return Guard("listing submitted messages", [&]() -> Result<std::vector<SubmissionListRow>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT * FROM (SELECT m.id, m.user_name, m.mail_from, coalesce(m.message_id, ''),"
        " m.size, m.dsn_action IS NOT NULL, extract(epoch from m.received_at)::float8,"
        " c.total, c.delivered, c.queued, c.failed,"
        " CASE WHEN c.queued > 0 THEN 'queued' WHEN c.delivered = c.total THEN 'delivered'"
        " WHEN c.delivered = 0 THEN 'failed' ELSE 'partial' END AS status"
        " FROM submitted_messages m CROSS JOIN LATERAL ("
        "  SELECT count(*) AS total, count(*) FILTER (WHERE d.status = 'delivered') AS delivered,"
        "  count(*) FILTER (WHERE d.status IN ('pending', 'deferred')) AS queued,"
        "  count(*) FILTER (WHERE d.status NOT IN ('pending', 'deferred', 'delivered')) AS failed"
        "  FROM deliveries d WHERE d.submission_id = m.id) c"
        " WHERE ($1 = '' OR m.user_name = $1)"
        " AND ($2::float8 IS NULL OR m.received_at >= to_timestamp($2::float8))"
        " ORDER BY m.received_at DESC, m.id DESC) x"
        " WHERE ($3 = '' OR x.status = $3) LIMIT $4",
        f.user, f.since ? std::optional<double>(ToEpoch(*f.since)) : std::optional<double>(),
        f.status, f.limit > 0 ? f.limit : 100);
    std::vector<SubmissionListRow> out;
    for (const auto& row : r) {
      SubmissionListRow l;
      l.id = row[0].as<int64_t>();
      l.user = Str(row[1]);
      l.mail_from = Str(row[2]);
      l.message_id = Str(row[3]);
      l.size = row[4].as<int64_t>();
      l.is_dsn = row[5].as<bool>();
      l.received_at = FromEpoch(row[6].as<double>());
      l.recipients = row[7].as<int64_t>();
      l.delivered = row[8].as<int64_t>();
      l.queued = row[9].as<int64_t>();
      l.failed = row[10].as<int64_t>();
      l.status = Str(row[11]);
      out.push_back(std::move(l));
    }
    return out;
  });
}

Result<SubmissionDetail> PgDatabase::GetSubmission(int64_t id) {
  return Guard("reading a submitted message", [&]() -> Result<SubmissionDetail> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result m = tx.exec_params(
        "SELECT id, user_name, mail_from, coalesce(envid, ''), coalesce(ret, ''),"
        " coalesce(message_id, ''), coalesce(client_ip, ''), size, body_8bitmime, smtputf8,"
        " coalesce(dsn_for, 0), coalesce(dsn_action, ''),"
        " extract(epoch from received_at)::float8 FROM submitted_messages WHERE id = $1",
        id);
    if (m.empty()) return Status::NotFound(fmt::format("no submitted message {}", id));
    SubmissionDetail d;
    d.id = m[0][0].as<int64_t>();
    d.user = Str(m[0][1]);
    d.mail_from = Str(m[0][2]);
    d.envid = Str(m[0][3]);
    d.ret = Str(m[0][4]);
    d.message_id = Str(m[0][5]);
    d.client_ip = Str(m[0][6]);
    d.size = m[0][7].as<int64_t>();
    d.body_8bitmime = m[0][8].as<bool>();
    d.smtputf8 = m[0][9].as<bool>();
    d.dsn_for = m[0][10].as<int64_t>();
    d.dsn_action = Str(m[0][11]);
    d.received_at = FromEpoch(m[0][12].as<double>());
    pqxx::result r = tx.exec_params(
        "SELECT id, email, domain, status, coalesce(dsn_notify, ''), coalesce(dsn_orcpt, ''),"
        " attempts, coalesce(last_code, 0), coalesce(last_enhanced, ''), coalesce(last_reply, ''),"
        " coalesce(mx_host, ''), coalesce(source_ip, ''),"
        " CASE WHEN status IN ('pending', 'deferred') THEN extract(epoch from next_attempt_at)"
        " END::float8, extract(epoch from last_attempt_at)::float8,"
        " extract(epoch from finished_at)::float8, dsn_delay_sent"
        " FROM deliveries WHERE submission_id = $1 ORDER BY id",
        id);
    for (const auto& row : r) {
      SubmissionRecipient x;
      x.delivery_id = row[0].as<int64_t>();
      x.address = Str(row[1]);
      x.domain = Str(row[2]);
      x.status = Str(row[3]);
      x.notify = Str(row[4]);
      x.orcpt = Str(row[5]);
      x.attempts = row[6].as<int>();
      x.code = row[7].as<int>();
      x.enhanced = Str(row[8]);
      x.reply = Str(row[9]);
      x.mx_host = Str(row[10]);
      x.source_ip = Str(row[11]);
      x.next_attempt_at = OptTime(row[12]);
      x.last_attempt_at = OptTime(row[13]);
      x.finished_at = OptTime(row[14]);
      x.delay_warned = row[15].as<bool>();
      d.recipients.push_back(std::move(x));
    }
    pqxx::result n = tx.exec_params(
        "SELECT m.id, coalesce(m.dsn_action, ''), coalesce(string_agg(d.status, ','), ''),"
        " extract(epoch from m.received_at)::float8"
        " FROM submitted_messages m LEFT JOIN deliveries d ON d.submission_id = m.id"
        " WHERE m.dsn_for = $1 GROUP BY m.id ORDER BY m.id",
        id);
    for (const auto& row : n) {
      d.dsns.push_back({row[0].as<int64_t>(), Str(row[1]), Str(row[2]),
                        FromEpoch(row[3].as<double>())});
    }
    return d;
  });
}

Result<std::vector<DsnWork>> PgDatabase::PendingDsns(int limit, std::chrono::seconds delay_warning,
                                                     std::chrono::seconds max_queue_time) {
  return Guard("looking for DSNs to send", [&]() -> Result<std::vector<DsnWork>> {
    pqxx::work tx(*conn_);
    // Messages with something to report, none of whose recipients is being
    // attempted right now (recipients failing in one round share a DSN).
    const double delay = static_cast<double>(delay_warning.count());
    pqxx::result k = tx.exec_params(
        "SELECT k.id, k.action FROM ("
        " SELECT DISTINCT d.submission_id AS id, CASE d.dsn_pending WHEN 'failed' THEN 'failed'"
        "  ELSE 'relayed' END AS action FROM deliveries d WHERE d.dsn_pending IS NOT NULL"
        " UNION"
        " SELECT DISTINCT d.submission_id, 'delayed' FROM deliveries d"
        "  JOIN submitted_messages m ON m.id = d.submission_id"
        "  WHERE $2::float8 > 0 AND d.submission_id IS NOT NULL AND d.status = 'deferred'"
        "  AND NOT d.dsn_delay_sent AND (d.dsn_notify IS NULL OR d.dsn_notify LIKE '%DELAY%')"
        "  AND m.mail_from <> '' AND m.received_at <= now() - make_interval(secs => $2::float8)"
        ") k WHERE NOT EXISTS (SELECT 1 FROM deliveries l WHERE l.submission_id = k.id"
        " AND l.status IN ('pending', 'deferred') AND l.lease_until > now())"
        " ORDER BY k.id LIMIT $1",
        limit, delay);
    std::vector<DsnWork> out;
    for (const auto& key : k) {
      DsnWork w;
      w.submission_id = key[0].as<int64_t>();
      w.action = Str(key[1]);
      pqxx::result m = tx.exec_params(
          "SELECT user_name, mail_from, coalesce(envid, ''), coalesce(ret, ''),"
          " coalesce(message_id, ''), extract(epoch from received_at)::float8, body"
          " FROM submitted_messages WHERE id = $1",
          w.submission_id);
      if (m.empty()) continue;
      w.user = Str(m[0][0]);
      w.mail_from = Str(m[0][1]);
      w.envid = Str(m[0][2]);
      w.ret = Str(m[0][3]);
      w.message_id = Str(m[0][4]);
      w.received_at = FromEpoch(m[0][5].as<double>());
      w.original = pqxx::binarystring(m[0][6]).str();
      std::string which =
          w.action == "delayed"
              ? "d.status = 'deferred' AND NOT d.dsn_delay_sent AND (d.dsn_notify IS NULL OR"
                " d.dsn_notify LIKE '%DELAY%')"
              : (w.action == "failed" ? "d.dsn_pending = 'failed'" : "d.dsn_pending = 'delivered'");
      pqxx::result r = tx.exec_params(
          "SELECT d.id, d.email, coalesce(d.dsn_orcpt, ''), d.status, coalesce(d.last_code, 0),"
          " coalesce(d.last_enhanced, ''), coalesce(d.last_reply, ''), coalesce(d.mx_host, ''),"
          " extract(epoch from d.last_attempt_at)::float8"
          " FROM deliveries d WHERE d.submission_id = $1 AND " + which + " ORDER BY d.id",
          w.submission_id);
      for (const auto& row : r) {
        DsnRecipient x;
        x.delivery_id = row[0].as<int64_t>();
        x.address = Str(row[1]);
        x.orcpt = Str(row[2]);
        x.status = Str(row[3]);
        x.code = row[4].as<int>();
        x.enhanced = Str(row[5]);
        x.reply = Str(row[6]);
        x.mx_host = Str(row[7]);
        x.last_attempt_at = OptTime(row[8]);
        x.deadline = w.received_at + max_queue_time;
        w.recipients.push_back(std::move(x));
      }
      if (!w.recipients.empty()) out.push_back(std::move(w));
    }
    tx.commit();
    return out;
  });
}

Result<int64_t> PgDatabase::RecordDsn(const DsnWork& work, const std::optional<NewSubmission>& dsn) {
  std::optional<NewSubmission> checked;
  if (dsn) {
    Result<NewSubmission> c = Checked(*dsn);
    if (!c.ok()) return c.status();
    checked = std::move(c).value();
  }
  return Guard("storing a DSN", [&]() -> Result<int64_t> {
    pqxx::work tx(*conn_);
    std::vector<int64_t> ids;
    for (const DsnRecipient& r : work.recipients) ids.push_back(r.delivery_id);
    // Row locks make a second node that found the same work mark nothing:
    // it then stores no second DSN.
    pqxx::result marked =
        work.action == "delayed"
            ? tx.exec_params(
                  "UPDATE deliveries SET dsn_delay_sent = true WHERE id = ANY($1::bigint[])"
                  " AND NOT dsn_delay_sent AND status = 'deferred' RETURNING id",
                  IdArray(ids))
            : tx.exec_params(
                  "UPDATE deliveries SET dsn_pending = NULL WHERE id = ANY($1::bigint[])"
                  " AND dsn_pending IS NOT NULL RETURNING id",
                  IdArray(ids));
    if (marked.size() != ids.size()) {
      tx.abort();
      return int64_t{0};
    }
    int64_t id = 0;
    if (checked) id = Insert(tx, {&*checked}).front();
    tx.commit();
    return id;
  });
}

}  // namespace postino::db::internal
