// submission_delivery_test.cc: submitted messages stored with the store API
// and delivered by the real `postino run`: DKIM-signed (verified by
// python3-dkim), grouped per domain, and DSNs (RFC 3464) to the sender for a
// 550 from a fake MX, for expiry, for a delay and for NOTIFY=SUCCESS, parsed
// by Python's email package; none for NOTIFY=NEVER, a null sender, or a
// sender the user does not own.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "db/database.h"
#include "tests/fakemx/fake_mx.h"
#include "tests/integration/postino_fixture.h"
#include "tests/support/testdata.h"

namespace postino::testing {
namespace {

class SubmissionDeliveryTest : public PostinoTest {
 protected:
  void SetUp() override {
    PostinoTest::SetUp();
    if (HasFatalFailure()) return;
    msg_dir_ = MakeTempDir("postino-sub-msgs");
    sink_ = std::make_unique<SmtpSink>(std::vector<std::string>{"-d", msg_dir_ + "/m."});
    fakemx::Script script;
    // bad.example: every RCPT refused for good; slow.example: for now.
    script.rcpt = fakemx::Reply("550 5.1.1 <x>: Recipient address rejected: User unknown");
    script.override = [](std::string_view verb, std::string_view arg,
                         int) -> std::optional<fakemx::Step> {
      if (verb == "RCPT" && arg.find("slow.example") != std::string_view::npos) {
        return fakemx::Reply("451 4.7.1 Greylisted, try again later");
      }
      return std::nullopt;
    };
    mx_ = std::make_unique<fakemx::FakeMx>(script);
  }

  // Config: "*" to the sink, bad.example and slow.example to the fake MX,
  // a DKIM key for sender.example, `extra` appended.
  void Configure(const std::string& extra = "") {
    ProcessResult k = Postino({"dkim", "keygen", "--domain", "sender.example", "--selector", "s1",
                               "--out", dir_ + "/s1.pem"});
    ASSERT_EQ(k.exit_code, 0) << k.err;
    records_ = Write("records.txt", k.out);
    WriteConfig(sink_->port(), fmt::format(R"(
[[routes]]
domain = "bad.example"
to = "127.0.0.1:{0}"
tls = "none"

[[routes]]
domain = "slow.example"
to = "127.0.0.1:{0}"
tls = "none"

[dkim]
[[dkim.keys]]
domain = "sender.example"
selector = "s1"
key_file = "{1}/s1.pem"
{2}
)",
                                           mx_->port(), dir_, extra));
    ProcessResult m = Postino({"db", "migrate"});
    ASSERT_EQ(m.exit_code, 0) << m.err;
    Sql("INSERT INTO users (name, password_hash, domains) VALUES ('alice', 'x', "
        "'{sender.example}'), ('mallory', 'x', '{mallory.example}')");
    Result<std::unique_ptr<db::Database>> d = db::Database::Connect(db_url_);
    ASSERT_TRUE(d.ok()) << d.status().message();
    db_ = std::move(d).value();
  }

  int64_t Store(const std::string& user, const std::string& from,
                const std::vector<db::NewRecipient>& rcpts, const std::string& subject,
                const std::string& ret = "") {
    db::NewSubmission s;
    s.user = user;
    s.mail_from = from;
    s.ret = ret;
    s.envid = "ENV-" + subject;
    s.bytes = fmt::format(
        "Received: from client ([192.0.2.1]) by mta.test with ESMTPSA; Wed, 02 Dec 2026 "
        "09:00:00 +0000\r\nFrom: Alice <alice@sender.example>\r\nTo: someone@dest.example\r\n"
        "Subject: {0}\r\nDate: Wed, 02 Dec 2026 09:00:00 +0000\r\nMessage-ID: "
        "<{0}@sender.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello "
        "{0}\r\n.leading dot\r\n",
        subject);
    s.recipients = rcpts;
    Result<int64_t> id = db_->StoreSubmission(s);
    EXPECT_TRUE(id.ok()) << id.status().message();
    return id.ok() ? *id : 0;
  }

  // Every message the sink received: (envelope sender line, CRLF bytes).
  std::vector<std::pair<std::string, std::string>> Received() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& entry : std::filesystem::directory_iterator(msg_dir_)) {
      std::string raw = ReadFile(entry.path());
      std::string crlf, mail_from;
      for (char c : raw) {
        if (c == '\n') crlf += '\r';
        crlf += c;
      }
      size_t at = crlf.find("X-Mail-Args: ");
      if (at != std::string::npos) mail_from = crlf.substr(at + 13, crlf.find("\r\n", at) - at - 13);
      out.emplace_back(mail_from, crlf);
    }
    return out;
  }

  // A DSN file parsed by check_dsn.py.
  std::string CheckDsn(const std::string& bytes) {
    // smtp-sink's own X- fields come first: they parse as more header fields.
    std::string path = Write("dsn.eml", bytes);
    ProcessResult r =
        RunProcess({"/usr/bin/python3", SourceDir() + "/tests/support/check_dsn.py", path});
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    return r.out;
  }

  std::string msg_dir_, records_;
  std::unique_ptr<SmtpSink> sink_;
  std::unique_ptr<fakemx::FakeMx> mx_;
  std::unique_ptr<db::Database> db_;
};

TEST_F(SubmissionDeliveryTest, DeliversSignedAndReportsFailuresAsTheSenderAsked) {
  if (RunProcess({"/usr/bin/python3", "-c", "import dkim"}).exit_code != 0) {
    GTEST_SKIP() << "python3-dkim is not installed (deploy/install-deps.sh installs it)";
  }
  ASSERT_NO_FATAL_FAILURE(Configure());
  int64_t m1 = Store("alice", "alice@sender.example",
                     {{"ok1@dest.example", "dest.example", "", ""},
                      {"ok2@dest.example", "dest.example", "", ""},
                      {"nouser@bad.example", "bad.example", "", "rfc822;NoUser@bad.example"}},
                     "first");
  int64_t never = Store("alice", "alice@sender.example",
                        {{"nouser2@bad.example", "bad.example", "NEVER", ""}}, "never");
  int64_t null_sender =
      Store("alice", "", {{"nouser3@bad.example", "bad.example", "", ""}}, "null");
  int64_t not_owned = Store("mallory", "alice@sender.example",
                            {{"nouser4@bad.example", "bad.example", "", ""}}, "mallory");
  int64_t success = Store("alice", "alice@sender.example",
                          {{"ok3@dest.example", "dest.example", "SUCCESS,FAILURE", ""}}, "success");
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;

  EXPECT_EQ(Sql("SELECT string_agg(email || '=' || status, ' ' ORDER BY email) FROM deliveries "
                "WHERE submission_id IN (SELECT id FROM submitted_messages WHERE dsn_action IS "
                "NULL)"),
            "nouser2@bad.example=bounced nouser3@bad.example=bounced nouser4@bad.example=bounced "
            "nouser@bad.example=bounced ok1@dest.example=delivered ok2@dest.example=delivered "
            "ok3@dest.example=delivered");
  // Exactly two DSNs: the failure of m1 and the success report; nothing
  // for NOTIFY=NEVER, the null sender, or mallory (who does not own alice's address).
  EXPECT_EQ(Sql("SELECT string_agg(dsn_for || ':' || dsn_action, ' ' ORDER BY dsn_for) FROM "
                "submitted_messages WHERE dsn_action IS NOT NULL"),
            fmt::format("{}:failed {}:relayed", m1, success));
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE dsn_pending IS NOT NULL"), "0");
  (void)never;
  (void)null_sender;
  (void)not_owned;
  // The DSNs were delivered to alice at the sink, from the null sender.
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries d JOIN submitted_messages m ON m.id = "
                "d.submission_id WHERE m.dsn_action IS NOT NULL AND d.status = 'delivered' AND "
                "d.email = 'alice@sender.example'"),
            "2");

  int signed_ok = 0, dsns = 0;
  for (const auto& [mail_from, bytes] : Received()) {
    if (bytes.find("multipart/report") != std::string::npos) {
      ++dsns;
      EXPECT_EQ(mail_from, "<>");
      std::string out = CheckDsn(bytes);
      EXPECT_NE(out.find("\"content_type\": \"multipart/report\""), std::string::npos) << out;
      EXPECT_NE(out.find("\"report_type\": \"delivery-status\""), std::string::npos) << out;
      if (out.find("\"Action\": \"failed\"") != std::string::npos) {
        EXPECT_NE(out.find("\"Final-Recipient\": \"rfc822;nouser@bad.example\""),
                  std::string::npos) << out;
        EXPECT_NE(out.find("\"Original-Recipient\": \"rfc822;NoUser@bad.example\""),
                  std::string::npos) << out;
        EXPECT_NE(out.find("\"Status\": \"5.1.1\""), std::string::npos) << out;
        EXPECT_NE(out.find("\"Original-Envelope-Id\": \"ENV-first\""), std::string::npos) << out;
        EXPECT_NE(out.find("smtp; 550 5.1.1"), std::string::npos) << out;
        EXPECT_NE(out.find("\"subject\": \"first\""), std::string::npos) << out;  // RET=HDRS
        EXPECT_EQ(out.find("ok1@dest.example"), std::string::npos) << out;  // delivered: not listed
      } else {
        EXPECT_NE(out.find("\"Action\": \"relayed\""), std::string::npos) << out;
        EXPECT_NE(out.find("\"Final-Recipient\": \"rfc822;ok3@dest.example\""),
                  std::string::npos) << out;
      }
      continue;
    }
    // A submitted message: the stored bytes, DKIM-signed for sender.example.
    EXPECT_EQ(mail_from, "<alice@sender.example>");
    EXPECT_NE(bytes.find(".leading dot"), std::string::npos);
    std::string path = Write("verify.eml", bytes);
    ProcessResult v = RunProcess(
        {"/usr/bin/python3", SourceDir() + "/tests/unit/templates/dkim_verify.py", path, records_});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err << bytes.substr(0, 2000);
    ++signed_ok;
  }
  EXPECT_EQ(dsns, 2);
  EXPECT_EQ(signed_ok, 2);  // ok1+ok2 in one transaction, ok3
  for (const auto& [from, bytes] : Received()) {
    if (bytes.find("Subject: first") != std::string::npos &&
        bytes.find("multipart/report") == std::string::npos) {
      EXPECT_NE(bytes.find("ok1@dest.example"), std::string::npos);
      EXPECT_NE(bytes.find("ok2@dest.example"), std::string::npos);
    }
  }

  // `postino submitted ls|show`.
  ProcessResult ls = Postino({"submitted", "ls", "--user", "alice", "--format", "json"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find("\"status\": \"partial\""), std::string::npos) << ls.out;
  ProcessResult show = Postino({"submitted", "show", std::to_string(m1)});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("nouser@bad.example"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("550 5.1.1"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("(failed)"), std::string::npos) << show.out;
  ProcessResult missing = Postino({"submitted", "show", "999999"});
  EXPECT_NE(missing.exit_code, 0);
  ProcessResult bad = Postino({"submitted", "ls", "--status", "weird"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--status"), std::string::npos) << bad.err;
}

TEST_F(SubmissionDeliveryTest, ExpiryAndDelayProduceDsns) {
  ASSERT_NO_FATAL_FAILURE(Configure("[submission]\nenabled = false\nmax_queue_time = \"2d\"\ndelay_warning = \"1h\"\n"));
  // Queued for three days already (older than max_queue_time): the next
  // temporary failure expires it.
  int64_t old = Store("alice", "alice@sender.example",
                      {{"grey@slow.example", "slow.example", "", ""}}, "old", "FULL");
  Sql(fmt::format("UPDATE submitted_messages SET received_at = now() - interval '3 days' WHERE "
                  "id = {0}; UPDATE deliveries SET first_attempt_at = now() - interval '3 days' "
                  "WHERE submission_id = {0}",
                  old));
  // Queued two hours ago: past delay_warning, still within max_queue_time.
  int64_t late = Store("alice", "alice@sender.example",
                       {{"grey2@slow.example", "slow.example", "", ""}}, "late");
  Sql(fmt::format("UPDATE submitted_messages SET received_at = now() - interval '2 hours' WHERE "
                  "id = {0}; UPDATE deliveries SET first_attempt_at = now() - interval '2 hours' "
                  "WHERE submission_id = {0}",
                  late));
  // NOTIFY=FAILURE: no delay warning for this one.
  int64_t no_delay = Store("alice", "alice@sender.example",
                           {{"grey3@slow.example", "slow.example", "FAILURE", ""}}, "nodelay");
  Sql(fmt::format("UPDATE submitted_messages SET received_at = now() - interval '2 hours' WHERE "
                  "id = {0}",
                  no_delay));
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Sql("SELECT string_agg(email || '=' || status, ' ' ORDER BY email) FROM deliveries "
                "WHERE email LIKE 'grey%'"),
            "grey2@slow.example=deferred grey3@slow.example=deferred grey@slow.example=expired");
  // The delay check runs with housekeeping; a second run finds and sends it
  // if the first ended before (until-idle does not wait for warnings).
  if (Sql("SELECT count(*) FROM submitted_messages WHERE dsn_action = 'delayed'") == "0") {
    run = Postino({"run", "--until-idle"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }
  EXPECT_EQ(Sql("SELECT string_agg(dsn_for || ':' || dsn_action, ' ' ORDER BY dsn_for) FROM "
                "submitted_messages WHERE dsn_action IS NOT NULL"),
            fmt::format("{}:failed {}:delayed", old, late));
  int found = 0;
  for (const auto& [from, bytes] : Received()) {
    if (bytes.find("multipart/report") == std::string::npos) continue;
    std::string out = CheckDsn(bytes);
    if (out.find("\"Action\": \"failed\"") != std::string::npos) {
      ++found;
      EXPECT_NE(out.find("\"Status\": \"4.4.7\""), std::string::npos) << out;
      EXPECT_NE(out.find("smtp; 451 4.7.1"), std::string::npos) << out;
      // RET=FULL: the whole message comes back.
      EXPECT_NE(out.find("\"kind\": \"full\""), std::string::npos) << out;
      EXPECT_NE(out.find("Hello old"), std::string::npos) << out;
    } else {
      ++found;
      EXPECT_NE(out.find("\"Action\": \"delayed\""), std::string::npos) << out;
      EXPECT_NE(out.find("Will-Retry-Until"), std::string::npos) << out;
      EXPECT_NE(out.find("\"Final-Recipient\": \"rfc822;grey2@slow.example\""),
                std::string::npos) << out;
    }
  }
  EXPECT_EQ(found, 2);
  // A second delay warning is never sent.
  run = Postino({"run", "--until-idle"});
  EXPECT_EQ(Sql("SELECT count(*) FROM submitted_messages WHERE dsn_action = 'delayed'"), "1");
}

}  // namespace
}  // namespace postino::testing
