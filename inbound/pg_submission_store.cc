// pg_submission_store.cc: SubmissionStore on db::Database (see
// pg_submission_store.h).
#include "inbound/pg_submission_store.h"

namespace postino::inbound {

namespace {

class PgSubmissionStore final : public SubmissionStore {
 public:
  std::vector<Result<int64_t>> Store(db::Database& db,
                                     const std::vector<Submission>& batch) override {
    std::vector<db::NewSubmission> rows;
    rows.reserve(batch.size());
    for (const Submission& s : batch) {
      db::NewSubmission n;
      n.user = s.user;
      n.mail_from = s.mail_from;
      n.envid = s.envid;
      n.ret = s.ret;
      n.bytes = s.bytes;
      n.message_id = s.message_id;
      n.client_ip = s.client_ip;
      n.body_8bitmime = s.body_8bitmime;
      n.smtputf8 = s.smtputf8;
      for (const SubmissionRecipient& r : s.recipients) {
        n.recipients.push_back(db::NewRecipient{r.address, r.domain, r.notify, r.orcpt});
      }
      rows.push_back(std::move(n));
    }
    if (rows.size() == 1) return {db.StoreSubmission(rows[0])};
    return db.StoreSubmissions(rows);
  }

  Result<int64_t> CountToday(db::Database& db, const std::string& user) override {
    return db.SubmittedToday(user);
  }
};

}  // namespace

std::unique_ptr<SubmissionStore> MakePgSubmissionStore() {
  return std::make_unique<PgSubmissionStore>();
}

}  // namespace postino::inbound
