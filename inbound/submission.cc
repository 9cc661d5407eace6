// submission.cc: SubmissionHandler (see submission.h): AUTH with throttling,
// sender ownership, per-user rate and daily quota, headers, and the group
// commit of accepted messages.
#include "inbound/submission.h"

#include <fmt/format.h>

#include <algorithm>

#include "address/address.h"
#include "common/log.h"
#include "common/metric_families.h"
#include "common/strings.h"
#include "inbound/headers.h"
#include "inbound/password.h"

namespace postino::inbound {

namespace {

constexpr size_t kMaxUserName = 256;
constexpr size_t kMaxPassword = 1024;

smtp::ServerReply R(int code, const char* enhanced, std::string text) {
  return smtp::ServerReply{code, enhanced, std::move(text)};
}

std::string DomainKey(std::string_view domain) {
  Result<std::string> ascii = address::DomainToAscii(domain);
  return ascii.ok() ? *ascii : AsciiLower(domain);
}

}  // namespace

bool SenderAllowed(const db::UserRow& user, std::string_view sender) {
  size_t at = sender.rfind('@');
  if (sender.empty() || at == std::string_view::npos) return false;
  std::string domain = DomainKey(sender.substr(at + 1));
  std::string normalized = std::string(sender.substr(0, at + 1)) + domain;
  for (const std::string& a : user.addresses) {
    size_t aat = a.rfind('@');
    if (aat == std::string::npos) continue;
    std::string an = a.substr(0, aat + 1) + DomainKey(std::string_view(a).substr(aat + 1));
    if (EqualsIgnoreCase(an, normalized)) return true;
  }
  for (const std::string& d : user.domains) {
    if (DomainKey(d) == domain) return true;
  }
  return false;
}

struct SubmissionHandler::DelayedReply {
  uv_timer_t timer;
  SubmissionHandler* owner;
  std::function<void()> fn;
};

SubmissionHandler::SubmissionHandler(uv_loop_t* loop, SubmissionOptions options, DbWorkers* auth,
                                     DbWorkers* store_workers, SubmissionStore* store,
                                     const Clock* clock)
    : loop_(loop),
      options_(std::move(options)),
      auth_(auth),
      store_workers_(store_workers),
      store_(store),
      clock_(clock),
      throttle_(options_.throttle, clock) {}

SubmissionHandler::~SubmissionHandler() { CancelTimers(); }

void SubmissionHandler::CancelTimers() {
  for (DelayedReply* d : delayed_) {
    d->fn = nullptr;
    uv_timer_stop(&d->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
             [](uv_handle_t* h) { delete static_cast<DelayedReply*>(h->data); });
  }
  delayed_.clear();
}

void SubmissionHandler::Later(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto* d = new DelayedReply{};
  d->owner = this;
  d->fn = std::move(fn);
  uv_timer_init(loop_, &d->timer);
  d->timer.data = d;
  delayed_.insert(d);
  uv_timer_start(
      &d->timer,
      [](uv_timer_t* t) {
        auto* self = static_cast<DelayedReply*>(t->data);
        self->owner->delayed_.erase(self);
        std::function<void()> fn = std::move(self->fn);
        uv_close(reinterpret_cast<uv_handle_t*>(&self->timer),
                 [](uv_handle_t* h) { delete static_cast<DelayedReply*>(h->data); });
        if (fn) fn();
      },
      static_cast<uint64_t>(delay.count()), 0);
}

int64_t SubmissionHandler::Today() const {
  return std::chrono::duration_cast<std::chrono::hours>(clock_->WallNow().time_since_epoch())
             .count() /
         24;
}

void SubmissionHandler::Authenticate(const SessionInfo& session, std::string user,
                                     std::string password, std::function<void(AuthOutcome)> done) {
  const std::string ip = session.peer_ip;
  switch (throttle_.Check(ip, user)) {
    case AuthThrottle::Verdict::kIpLocked:
      ++stats_.auth_throttled;
      log::Warn("submission: AUTH refused for {}: too many failures from this address", ip);
      return done(AuthOutcome{
          false, R(421, "4.7.0", options_.hostname +
                                     " Too many authentication failures from your address, "
                                     "try again later")});
    case AuthThrottle::Verdict::kUserLocked:
      ++stats_.auth_throttled;
      log::Warn("submission: AUTH refused for user {} from {}: too many failures for this user",
                user, ip);
      return done(AuthOutcome{
          false, R(454, "4.7.0", "Too many authentication failures, try again later")});
    case AuthThrottle::Verdict::kAllow:
      break;
  }
  if (user.size() > kMaxUserName || password.size() > kMaxPassword) {
    OnAuthChecked(ip, user, false, false, std::nullopt, 0, std::move(done));
    return;
  }
  int64_t day = Today();
  auth_->Post([this, ip, user, password = std::move(password), day,
               done = std::move(done)](db::Database* db) mutable -> std::function<void()> {
    bool ok = false, temporary = false;
    std::optional<db::UserRow> row;
    int64_t today = 0;
    if (db == nullptr) {
      temporary = true;
    } else {
      Result<std::optional<db::UserRow>> u = db->GetUser(user);
      if (!u.ok()) {
        temporary = true;
        DbWorkers::ReportBroken();
        log::Warn("submission: AUTH lookup failed: {}", u.status().message());
      } else if (!u->has_value()) {
        VerifyPassword(DummyHash(), password);  // same time as for a known user
      } else {
        ok = VerifyPassword((*u)->password_hash, password) && !(*u)->disabled;
        if (ok) row = std::move(*u);
      }
      if (ok && store_ != nullptr) {
        Result<int64_t> n = store_->CountToday(*db, user);
        if (n.ok()) today = *n;
      }
    }
    std::fill(password.begin(), password.end(), '\0');
    (void)day;
    return [this, ip, user, ok, temporary, row = std::move(row), today,
            done = std::move(done)]() mutable {
      OnAuthChecked(ip, user, ok, temporary, std::move(row), today, std::move(done));
    };
  });
}

void SubmissionHandler::OnAuthChecked(const std::string& ip, const std::string& user, bool ok,
                                      bool temporary, std::optional<db::UserRow> row,
                                      int64_t today, std::function<void(AuthOutcome)> done) {
  if (temporary) {
    return done(AuthOutcome{false, R(454, "4.7.0", "Temporary authentication failure")});
  }
  if (ok && row) {
    throttle_.Success(ip, user);
    ++stats_.auth_ok;
    UserState& st = users_[user];
    st.row = std::move(*row);
    st.rate.reset();
    if (!st.row.rate.empty()) {
      Result<Rate> rate = ParseRate(st.row.rate);
      if (rate.ok()) st.rate = *rate;
    }
    int64_t day = Today();
    if (st.day != day) {
      st.day = day;
      st.today = 0;
    }
    st.today = std::max(st.today, today);
    log::Info("submission: {} authenticated as {}", ip, user);
    return done(AuthOutcome{true, std::nullopt});
  }
  ++stats_.auth_failed;
  std::chrono::milliseconds delay = throttle_.Failure(ip, user);
  log::Warn("submission: authentication failed for user {} from {} (reply delayed {} ms)", user, ip,
            delay.count());
  Later(delay, [done = std::move(done)] { done(AuthOutcome{false, std::nullopt}); });
}

std::optional<smtp::ServerReply> SubmissionHandler::CheckSender(const SessionInfo& session,
                                                                const Envelope& env) {
  if (!options_.require_auth && session.user.empty()) return std::nullopt;
  auto it = users_.find(session.user);
  if (it == users_.end()) return R(530, "5.7.0", "Authentication required");
  UserState& st = it->second;
  if (env.mail_from.empty() || !SenderAllowed(st.row, env.mail_from)) {
    ++stats_.sender_refused;
    log::Info("submission: user {} from {} may not send as <{}>", session.user, session.peer_ip,
              env.mail_from);
    return R(553, "5.7.1", fmt::format("Sender address <{}> not allowed for user {}",
                                       env.mail_from, session.user));
  }
  int64_t day = Today();
  if (st.day != day) {
    st.day = day;
    st.today = 0;
  }
  if (st.row.daily_quota && st.today >= *st.row.daily_quota) {
    ++stats_.rate_limited;
    return R(452, "4.7.1", fmt::format("Daily quota of {} messages reached, try again tomorrow",
                                       *st.row.daily_quota));
  }
  if (st.rate) {
    MonoTime now = clock_->Now();
    while (!st.recent.empty() && st.recent.front() + st.rate->period <= now) st.recent.pop_front();
    if (st.recent.size() >= st.rate->count) {
      ++stats_.rate_limited;
      return R(451, "4.7.1",
               fmt::format("Rate limit of {} exceeded, try again later", st.rate->ToString()));
    }
  }
  return std::nullopt;
}

std::optional<smtp::ServerReply> SubmissionHandler::CheckRecipient(
    const SessionInfo&, const Envelope&, const smtp::ServerRecipient& rcpt) {
  size_t at = rcpt.address.rfind('@');
  std::string_view domain = std::string_view(rcpt.address).substr(at + 1);
  if (!domain.empty() && domain.front() == '[') {
    return R(550, "5.1.3", "Address literals are not accepted as recipients");
  }
  if (!address::DomainToAscii(domain).ok()) {
    return R(553, "5.1.3", "Bad recipient domain");
  }
  return std::nullopt;
}

void SubmissionHandler::Accept(const SessionInfo& session, Envelope env, std::string bytes,
                               std::function<void(smtp::ServerReply)> done) {
  if (store_ == nullptr) {
    return done(R(451, "4.3.0", "Message store not available, try again later"));
  }
  std::string queue_id = fmt::format("{:x}{:06x}", std::chrono::duration_cast<std::chrono::seconds>(
                                                       clock_->WallNow().time_since_epoch())
                                                       .count(),
                                     ++next_queue_id_ & 0xffffff);
  AddedHeaders added =
      AddSubmissionHeaders(bytes, session, env, options_.hostname, queue_id, clock_->WallNow());
  Submission s;
  s.user = session.user.empty() ? options_.anonymous_user : session.user;
  s.mail_from = env.mail_from;
  s.envid = env.envid;
  s.ret = env.ret;
  s.bytes = std::move(added.bytes);
  s.message_id = std::move(added.message_id);
  s.client_ip = session.peer_ip;
  s.body_8bitmime = env.body == "8BITMIME";
  s.smtputf8 = env.smtputf8;
  for (const smtp::ServerRecipient& r : env.rcpts) {
    size_t at = r.address.rfind('@');
    s.recipients.push_back(
        {r.address, DomainKey(std::string_view(r.address).substr(at + 1)), r.notify, r.orcpt});
  }
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    pending_.push_back(PendingStore{std::move(s), std::move(done)});
  }
  store_workers_->Post([this](db::Database* db) { return StoreBatch(db); });
}

// On a store worker thread: every message queued now, in one transaction.
std::function<void()> SubmissionHandler::StoreBatch(db::Database* db) {
  std::vector<PendingStore> batch;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    while (!pending_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
  }
  if (batch.empty()) return nullptr;
  std::vector<Result<int64_t>> results;
  if (db == nullptr) {
    results.assign(batch.size(), Result<int64_t>(Status::IoError("database unreachable")));
  } else {
    // The bytes move to the store; the envelope fields stay for the log line.
    std::vector<Submission> subs;
    subs.reserve(batch.size());
    for (PendingStore& p : batch) {
      subs.push_back(std::move(p.submission));
      p.submission.user = subs.back().user;
      p.submission.mail_from = subs.back().mail_from;
      p.submission.message_id = subs.back().message_id;
      p.submission.recipients = subs.back().recipients;
    }
    results = store_->Store(*db, subs);
    results.resize(batch.size(), Result<int64_t>(Status::Internal("no result from the store")));
    for (const auto& r : results) {
      if (!r.ok() && r.status().code() == Status::Code::kIoError) DbWorkers::ReportBroken();
    }
  }
  return [this, batch = std::move(batch), results = std::move(results)]() mutable {
    for (size_t i = 0; i < batch.size(); ++i) {
      PendingStore& p = batch[i];
      if (results[i].ok()) {
        ++stats_.accepted;
        metrics::families::SubmissionMessages().With({"accepted"}).Inc();
        auto it = users_.find(p.submission.user);
        if (it != users_.end()) {
          ++it->second.today;
          if (it->second.rate) it->second.recent.push_back(clock_->Now());
        }
        log::Info("submission: stored message {} from <{}> of user {} for {} recipient(s), "
                  "message-id <{}>",
                  *results[i], p.submission.mail_from, p.submission.user,
                  p.submission.recipients.size(), p.submission.message_id);
        p.done(R(250, "2.0.0", fmt::format("Ok: queued as {}", *results[i])));
      } else {
        ++stats_.store_failed;
        metrics::families::SubmissionMessages().With({"refused"}).Inc();
        const Status& st = results[i].status();
        log::Warn("submission: message from <{}> of user {} not stored: {}",
                  p.submission.mail_from, p.submission.user, st.message());
        if (st.code() == Status::Code::kInvalidArgument) {
          p.done(R(554, "5.6.0", "Message refused: " + st.message()));
        } else {
          p.done(R(451, "4.3.0", "Temporary failure storing the message, try again later"));
        }
      }
    }
  };
}

}  // namespace postino::inbound
