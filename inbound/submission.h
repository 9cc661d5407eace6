// submission.h: the InboundHandler of the submission listener (587/465).
// AUTH is checked on an auth worker thread (user row + Argon2id) with
// failures slowed down per IP and per user (auth_throttle.h); a user may
// send only from its own domains/addresses (553 5.7.1), within its rate
// (451 4.7.1) and daily quota (452 4.7.1); accepted messages get Received
// (and Message-ID/Date when missing) and are stored through the
// SubmissionStore on the store worker threads, many messages per
// transaction; the client's 250 comes only after that commit.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/rate.h"
#include "db/database.h"
#include "inbound/auth_throttle.h"
#include "inbound/db_workers.h"
#include "inbound/listener.h"
#include "inbound/submission_store.h"

namespace postino::inbound {

struct SubmissionOptions {
  std::string hostname = "localhost";
  AuthThrottleOptions throttle;
  size_t max_batch = 512;  // messages per store transaction
  // Benchmarks only (never from postino.toml): accept MAIL without AUTH and
  // store as `anonymous_user`, because smtp-source cannot authenticate.
  bool require_auth = true;
  std::string anonymous_user;
};

struct SubmissionStats {
  uint64_t auth_ok = 0, auth_failed = 0, auth_throttled = 0;
  uint64_t accepted = 0, store_failed = 0, sender_refused = 0, rate_limited = 0;
};

class SubmissionHandler final : public InboundHandler {
 public:
  // `auth` and `store_workers` run the slow parts; `store` may be null (then
  // every message is refused with 451 4.3.0: nothing to store into).
  SubmissionHandler(uv_loop_t* loop, SubmissionOptions options, DbWorkers* auth,
                    DbWorkers* store_workers, SubmissionStore* store, const Clock* clock);
  ~SubmissionHandler() override;

  bool RequiresAuth() const override { return options_.require_auth; }
  void Authenticate(const SessionInfo& session, std::string user, std::string password,
                    std::function<void(AuthOutcome)> done) override;
  std::optional<smtp::ServerReply> CheckSender(const SessionInfo& session,
                                               const Envelope& env) override;
  std::optional<smtp::ServerReply> CheckRecipient(const SessionInfo& session, const Envelope& env,
                                                  const smtp::ServerRecipient& rcpt) override;
  void Accept(const SessionInfo& session, Envelope env, std::string bytes,
              std::function<void(smtp::ServerReply)> done) override;

  // Drops delayed AUTH replies (shutdown).
  void CancelTimers();
  const SubmissionStats& stats() const { return stats_; }

 private:
  struct UserState {
    db::UserRow row;
    std::optional<Rate> rate;
    int64_t today = 0;          // messages stored today (UTC)
    int64_t day = 0;            // the UTC day `today` counts
    std::deque<MonoTime> recent;  // accept times inside the rate period
  };
  struct PendingStore {
    Submission submission;
    std::function<void(smtp::ServerReply)> done;
  };
  struct DelayedReply;

  void OnAuthChecked(const std::string& ip, const std::string& user, bool ok, bool temporary,
                     std::optional<db::UserRow> row, int64_t today,
                     std::function<void(AuthOutcome)> done);
  void Later(std::chrono::milliseconds delay, std::function<void()> fn);
  std::function<void()> StoreBatch(db::Database* db);
  int64_t Today() const;

  uv_loop_t* loop_;
  SubmissionOptions options_;
  DbWorkers* auth_;
  DbWorkers* store_workers_;
  SubmissionStore* store_;
  const Clock* clock_;
  AuthThrottle throttle_;
  std::unordered_map<std::string, UserState> users_;
  std::unordered_set<DelayedReply*> delayed_;
  std::mutex pending_mu_;
  std::deque<PendingStore> pending_;  // guarded by pending_mu_
  SubmissionStats stats_;
  uint64_t next_queue_id_ = 0;
};

// True when `sender` (an envelope address) is one `user` may use: one of
// its addresses, or an address of one of its domains (ASCII case-insensitive;
// IDN domains compared as A-labels).
bool SenderAllowed(const db::UserRow& user, std::string_view sender);

}  // namespace postino::inbound
