// submission_store_test.cc: the store API of submitted mail (db/submissions.cc)
// against a real PostgreSQL: one message and its recipients in one
// transaction, nothing stored when any part fails, group commit, and the
// read APIs of `postino submitted ls|show`.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "db/database.h"
#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

class SubmissionStoreTest : public PostinoTest {
 protected:
  void SetUp() override {
    PostinoTest::SetUp();
    if (HasFatalFailure()) return;
    WriteConfig(25);
    ProcessResult m = Postino({"db", "migrate"});
    ASSERT_EQ(m.exit_code, 0) << m.err;
    Result<std::unique_ptr<db::Database>> d = db::Database::Connect(db_url_);
    ASSERT_TRUE(d.ok()) << d.status().message();
    db_ = std::move(d).value();
  }

  static db::NewSubmission Message(const std::string& subject, int recipients) {
    db::NewSubmission s;
    s.user = "alice";
    s.mail_from = "alice@sender.example";
    s.envid = "env-1";
    s.ret = "hdrs";
    s.client_ip = "192.0.2.7";
    s.bytes = fmt::format(
        "Received: from client (client [192.0.2.7]) by test; Wed, 2 Dec 2026 09:00:00 +0000\r\n"
        "From: Alice <alice@sender.example>\r\nTo: x@y.example\r\nSubject: {}\r\n"
        "Message-ID:\r\n <{}@sender.example>\r\n\r\nHello\r\n",
        subject, subject);
    for (int i = 0; i < recipients; ++i) {
      s.recipients.push_back({fmt::format("r{}@dest{}.example", i, i % 2),
                              fmt::format("dest{}.example", i % 2), i == 0 ? "failure,delay" : "",
                              i == 0 ? "rfc822;orig@dest0.example" : ""});
    }
    return s;
  }

  std::unique_ptr<db::Database> db_;
};

TEST_F(SubmissionStoreTest, StoresMessageAndOneDeliveryPerRecipient) {
  Result<int64_t> id = db_->StoreSubmission(Message("one", 3));
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(Sql(fmt::format("SELECT user_name || ' ' || mail_from || ' ' || envid || ' ' || ret "
                            "|| ' ' || message_id || ' ' || client_ip FROM submitted_messages "
                            "WHERE id = {}",
                            *id)),
            "alice alice@sender.example env-1 HDRS one@sender.example 192.0.2.7");
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE submission_id IS NOT NULL AND status = "
                "'pending' AND campaign_id IS NULL AND next_attempt_at <= now()"),
            "3");
  EXPECT_EQ(Sql("SELECT dsn_notify || ' ' || dsn_orcpt || ' ' || domain FROM deliveries WHERE "
                "email = 'r0@dest0.example'"),
            "FAILURE,DELAY rfc822;orig@dest0.example dest0.example");
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE dsn_notify IS NULL"), "2");
  // Bytes come back unchanged.
  Result<db::SubmittedMessage> m = db_->GetSubmittedMessage(*id);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->bytes, Message("one", 3).bytes);
  EXPECT_EQ(m->message_id, "one@sender.example");
  // The CHECK: a delivery has exactly one origin.
  EXPECT_NE(Sql("INSERT INTO deliveries (email, domain) VALUES ('a@b', 'b')"), "INSERT 0 1");
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries"), "3");
}

TEST_F(SubmissionStoreTest, AFailureInsideTheTransactionStoresNothing) {
  // A recipient the database refuses (after the message row was inserted).
  Sql("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "IF NEW.email = 'r2@dest0.example' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; "
      "END $$; CREATE TRIGGER refuse BEFORE INSERT ON deliveries FOR EACH ROW EXECUTE "
      "FUNCTION refuse();");
  Result<int64_t> id = db_->StoreSubmission(Message("two", 3));
  EXPECT_FALSE(id.ok());
  EXPECT_EQ(Sql("SELECT count(*) FROM submitted_messages"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries"), "0");
  // Group commit: one bad row refuses the whole group, nothing is stored.
  std::vector<db::NewSubmission> group = {Message("a", 1), Message("b", 3), Message("c", 1)};
  std::vector<Result<int64_t>> r = db_->StoreSubmissions(group);
  ASSERT_EQ(r.size(), 3u);
  for (const auto& x : r) EXPECT_FALSE(x.ok());
  EXPECT_EQ(Sql("SELECT count(*) FROM submitted_messages"), "0");
}

TEST_F(SubmissionStoreTest, InvalidEnvelopesAreRefusedAloneInAGroup) {
  db::NewSubmission no_rcpt = Message("x", 0);
  db::NewSubmission bad_notify = Message("y", 1);
  bad_notify.recipients[0].notify = "NEVER,SUCCESS";
  db::NewSubmission bad_domain = Message("z", 1);
  bad_domain.recipients[0].domain = "Dest.EXAMPLE";
  db::NewSubmission bad_ret = Message("w", 1);
  bad_ret.ret = "ALL";
  std::vector<Result<int64_t>> r = db_->StoreSubmissions(
      {Message("ok1", 2), no_rcpt, bad_notify, bad_domain, bad_ret, Message("ok2", 1)});
  ASSERT_EQ(r.size(), 6u);
  EXPECT_TRUE(r[0].ok());
  EXPECT_TRUE(r[5].ok());
  for (int i = 1; i <= 4; ++i) {
    ASSERT_FALSE(r[i].ok()) << i;
    EXPECT_EQ(r[i].status().code(), Status::Code::kInvalidArgument) << r[i].status().message();
  }
  EXPECT_NE(r[2].status().message().find("NOTIFY"), std::string::npos);
  EXPECT_NE(r[3].status().message().find("A-label"), std::string::npos);
  EXPECT_EQ(Sql("SELECT count(*) FROM submitted_messages"), "2");
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries"), "3");
  EXPECT_LT(*r[0], *r[5]);
}

TEST_F(SubmissionStoreTest, GroupCommitAndReadApis) {
  std::vector<db::NewSubmission> group;
  for (int i = 0; i < 50; ++i) group.push_back(Message(fmt::format("m{}", i), 2));
  group[7].user = "bob";
  std::vector<Result<int64_t>> r = db_->StoreSubmissions(group);
  for (const auto& x : r) ASSERT_TRUE(x.ok()) << x.status().message();
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries"), "100");
  Sql(fmt::format("UPDATE deliveries SET status = 'delivered' WHERE submission_id = {}", *r[3]));
  Sql(fmt::format("UPDATE deliveries SET status = 'bounced', last_code = 550, last_reply = "
                  "'550 5.1.1 no such user' WHERE submission_id = {} AND email LIKE 'r0%'",
                  *r[4]));
  Sql(fmt::format("UPDATE deliveries SET status = 'delivered' WHERE submission_id = {} AND "
                  "email LIKE 'r1%'",
                  *r[4]));

  db::SubmissionFilter f;
  f.user = "bob";
  Result<std::vector<db::SubmissionListRow>> bob = db_->ListSubmissions(f);
  ASSERT_TRUE(bob.ok()) << bob.status().message();
  ASSERT_EQ(bob->size(), 1u);
  EXPECT_EQ(bob->front().id, *r[7]);
  EXPECT_EQ(bob->front().status, "queued");
  f = {};
  f.status = "delivered";
  Result<std::vector<db::SubmissionListRow>> done = db_->ListSubmissions(f);
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ(done->front().id, *r[3]);
  EXPECT_EQ(done->front().delivered, 2);
  f.status = "partial";
  Result<std::vector<db::SubmissionListRow>> partial = db_->ListSubmissions(f);
  ASSERT_TRUE(partial.ok());
  ASSERT_EQ(partial->size(), 1u);
  EXPECT_EQ(partial->front().id, *r[4]);
  f.status = "bogus";
  EXPECT_FALSE(db_->ListSubmissions(f).ok());

  Result<db::SubmissionDetail> d = db_->GetSubmission(*r[4]);
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->recipients.size(), 2u);
  EXPECT_EQ(d->recipients[0].status, "bounced");
  EXPECT_EQ(d->recipients[0].code, 550);
  EXPECT_EQ(d->envid, "env-1");
  EXPECT_FALSE(db_->GetSubmission(999999).ok());
  // Loading for sending: in id order, within a byte budget (the first always).
  Result<std::vector<db::SubmittedMessage>> some =
      db_->GetSubmittedMessages({*r[5], *r[3], *r[4], 999999}, 1);
  ASSERT_TRUE(some.ok()) << some.status().message();
  ASSERT_EQ(some->size(), 1u);
  EXPECT_EQ(some->front().id, *r[3]);
  some = db_->GetSubmittedMessages({*r[5], *r[3], *r[4], 999999}, 1 << 20);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->size(), 3u);
  // The analyst view.
  EXPECT_EQ(Sql("SELECT user_name || ' ' || domain || ' ' || messages || ' ' || recipients || "
                "' ' || delivered || ' ' || bounced FROM submission_summary WHERE user_name = "
                "'alice' AND domain = 'dest0.example'"),
            "alice dest0.example 49 49 1 1");
}

}  // namespace
}  // namespace postino::testing
