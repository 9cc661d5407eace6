// submission_store.h: where the submission service puts an accepted
// message: the message bytes, its envelope and one delivery row per
// recipient, in one transaction. The PostgreSQL implementation lives in the
// db module (submit-queue's Database::StoreSubmissions, migration 9) and is
// adapted in pg_submission_store.cc; tests may use a fake.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "db/database.h"

namespace postino::inbound {

struct SubmissionRecipient {
  std::string address;  // as given (UTF-8 with SMTPUTF8)
  std::string domain;   // A-label, lower case
  std::string notify;   // RFC 3461 NOTIFY ("" = not given)
  std::string orcpt;    // RFC 3461 ORCPT, xtext-decoded ("" = not given)
};

struct Submission {
  std::string user;        // the authenticated user
  std::string mail_from;   // envelope sender
  std::string envid;       // RFC 3461 ENVID ("" = none)
  std::string ret;         // "", "FULL" or "HDRS"
  std::string bytes;       // with the Received (and any added Message-ID/Date) header
  std::string message_id;  // without <>
  std::string client_ip;
  bool body_8bitmime = false;
  bool smtputf8 = false;
  std::vector<SubmissionRecipient> recipients;
};

class SubmissionStore {
 public:
  virtual ~SubmissionStore() = default;
  // Runs on a DB worker thread with that thread's connection. Stores every
  // valid message of `batch` in ONE transaction (group commit); one entry
  // per input, in order: the stored id, or why it was not stored. Only an
  // OK entry may be answered with 250.
  virtual std::vector<Result<int64_t>> Store(db::Database& db,
                                             const std::vector<Submission>& batch) = 0;
  // Messages `user` submitted since 00:00 UTC today (for the daily quota).
  virtual Result<int64_t> CountToday(db::Database& db, const std::string& user) = 0;
};

}  // namespace postino::inbound
