// dsn_generator.cc: building and queueing DSNs for submitted mail (see
// dsn_generator.h).
#include "scheduler/dsn_generator.h"

#include <fmt/format.h>

#include "common/log.h"
#include "templates/dsn.h"
#include "templates/mime_encoding.h"

namespace postino::scheduler {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string DomainKey(const std::string& domain) {
  Result<std::string> ascii = templates::NormalizeDomain(domain);
  return Lower(ascii.ok() ? *ascii : domain);
}

// "local@domain" with the domain as a lower-case A-label ("" when no '@').
std::string AddressKey(const std::string& address) {
  size_t at = address.rfind('@');
  if (at == std::string::npos || at == 0) return std::string();
  return Lower(address.substr(0, at)) + "@" + DomainKey(address.substr(at + 1));
}

}  // namespace

DsnOptions MakeDsnOptions(const config::Config& cfg) {
  DsnOptions o;
  o.reporting_mta = cfg.node.id;
  if (!cfg.submission.hostname.empty()) {
    o.reporting_mta = cfg.submission.hostname;
  } else if (!cfg.sources.empty() && !cfg.sources.front().ehlo.empty()) {
    o.reporting_mta = cfg.sources.front().ehlo;
  }
  o.from = cfg.submission.dsn_from.empty() ? "MAILER-DAEMON@" + o.reporting_mta
                                           : cfg.submission.dsn_from;
  o.delay_warning = std::chrono::duration_cast<std::chrono::seconds>(cfg.submission.delay_warning);
  o.max_queue_time =
      std::chrono::duration_cast<std::chrono::seconds>(cfg.submission.max_queue_time);
  o.return_limit = cfg.submission.dsn_return_limit;
  return o;
}

bool UserOwnsSender(const std::optional<db::UserRow>& user, const std::string& sender) {
  if (!user) return false;
  const std::string key = AddressKey(sender);
  if (key.empty()) return false;
  for (const std::string& a : user->addresses) {
    if (AddressKey(a) == key) return true;
  }
  const std::string domain = key.substr(key.rfind('@') + 1);
  for (const std::string& d : user->domains) {
    if (DomainKey(d) == domain) return true;
  }
  return false;
}

Result<DsnRoundResult> RunDsnRound(WorkStore& store, const DsnOptions& options, bool with_delays,
                                   WallTime now) {
  DsnRoundResult out;
  Result<std::vector<db::DsnWork>> work = store.PendingDsns(
      options.batch, with_delays ? options.delay_warning : std::chrono::seconds(0),
      options.max_queue_time);
  if (!work.ok()) return work.status();
  for (const db::DsnWork& w : *work) {
    std::optional<db::NewSubmission> dsn;
    Result<std::optional<db::UserRow>> user = store.GetUser(w.user);
    if (!user.ok()) return user.status();
    if (w.mail_from.empty()) {
      // Never a DSN for a null sender (a DSN itself): only cleared.
    } else if (!UserOwnsSender(*user, w.mail_from)) {
      log::Warn("submitted message {}: no {} DSN to <{}>: user \"{}\" {}", w.submission_id,
                w.action, w.mail_from, w.user,
                *user ? "does not own that address (any more)" : "no longer exists");
    } else {
      templates::DsnSpec spec;
      spec.reporting_mta = options.reporting_mta;
      spec.from = options.from;
      spec.to = w.mail_from;
      spec.envid = w.envid;
      spec.arrival_date = w.received_at;
      spec.now = now;
      spec.return_full = w.ret == "FULL";
      spec.full_limit = options.return_limit;
      spec.original = w.original;
      spec.subject = templates::HeaderValue(w.original, "Subject");
      spec.message_id_domain = options.reporting_mta;
      spec.unique = fmt::format("{}.{}.{}", w.submission_id, w.action,
                                w.recipients.front().delivery_id);
      for (const db::DsnRecipient& r : w.recipients) {
        templates::DsnRecipientReport rr;
        rr.final_recipient = r.address;
        rr.original_recipient = r.orcpt;
        rr.action = w.action;
        rr.smtp_code = r.code;
        rr.reply = r.reply;
        rr.status = r.enhanced;
        rr.remote_mta = r.mx_host;
        rr.last_attempt = r.last_attempt_at;
        rr.expired = r.status == "expired";
        if (w.action == "delayed") rr.will_retry_until = r.deadline;
        spec.recipients.push_back(std::move(rr));
      }
      Result<templates::BuiltDsn> built = templates::BuildDsn(spec);
      if (!built.ok()) {
        log::Error("submitted message {}: DSN not built: {}", w.submission_id,
                   built.status().message());
      } else {
        size_t at = w.mail_from.rfind('@');
        std::string domain = at == std::string::npos ? "" : DomainKey(w.mail_from.substr(at + 1));
        db::NewSubmission s;
        s.user = w.user;
        s.mail_from = "";  // null sender: no DSN about a DSN
        s.bytes = std::move(built->bytes);
        s.message_id = built->message_id;
        s.recipients.push_back({w.mail_from, domain, "NEVER", ""});
        s.dsn_for = w.submission_id;
        s.dsn_action = w.action;
        dsn = std::move(s);
      }
    }
    Result<int64_t> id = store.RecordDsn(w, dsn);
    if (!id.ok()) {
      if (id.status().code() == Status::Code::kIoError) return id.status();
      log::Error("submitted message {}: {} DSN not stored: {}", w.submission_id, w.action,
                 id.status().message());
      ++out.skipped;
      // Not asked again every round: the recipients are marked reported.
      Result<int64_t> cleared = store.RecordDsn(w, std::nullopt);
      if (!cleared.ok() && cleared.status().code() == Status::Code::kIoError) {
        return cleared.status();
      }
      continue;
    }
    if (*id > 0) {
      ++out.stored;
      log::Info("submitted message {}: {} DSN for {} recipient(s) queued to <{}> (message {})",
                w.submission_id, w.action, w.recipients.size(), w.mail_from, *id);
    } else {
      ++out.skipped;
    }
  }
  return out;
}

}  // namespace postino::scheduler
