// submission_test.cc: the submission listener (`postino serve`) against
// clients nobody here wrote, over loopback with real TLS: swaks (STARTTLS +
// AUTH PLAIN and LOGIN, --tls-on-connect), curl (smtp:// --ssl-reqd and
// smtps://), Python smtplib (starttls + login, and the refusal probes in
// probes.py: open relay, AUTH before TLS, wrong password, foreign sender,
// too many recipients, oversize, bare LF and smuggling). Every accepted
// message is in PostgreSQL with one delivery row per recipient; every
// refused one left nothing behind.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include <map>
#include <sstream>

#include "tests/integration/postino_fixture.h"
#include "tests/support/testdata.h"

namespace postino::testing {
namespace {

constexpr const char* kPassword = "correct horse battery";

class SubmissionTest : public PostinoTest {
 protected:
  void SetUp() override {
    PostinoTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    ProcessResult gen = RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                    "-keyout", key_, "-out", cert_, "-days", "2", "-subj",
                                    "/CN=submit.test", "-addext", "subjectAltName=DNS:submit.test"});
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    port_ = FreePort();
    tls_port_ = FreePort();
    while (tls_port_ == port_) tls_port_ = FreePort();
    WriteConfig(FreePort(), fmt::format(R"(
[submission]
listen = ["127.0.0.1:{}"]
tls_listen = ["127.0.0.1:{}"]
cert_file = "{}"
key_file = "{}"
hostname = "submit.test"
max_message_size = 20000
max_recipients = 3
max_errors = 20
max_connections_per_ip = 4
)",
                                        port_, tls_port_, cert_, key_));
    ProcessResult m = Postino({"db", "migrate"});
    ASSERT_EQ(m.exit_code, 0) << m.err;
    ProcessResult add = Shell(fmt::format(
        "printf '%s\\n' '{}' | {} --config {} user add alice --domain example.com "
        "--address boss@partner.test --password-stdin",
        kPassword, Binary(), config_path_));
    ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
    EXPECT_EQ(add.out.find(kPassword), std::string::npos);
    server_ = StartPostino({"serve"}, "serve.log");
    ASSERT_TRUE(WaitForPort(port_, std::chrono::seconds(30))) << ReadFile(dir_ + "/serve.log");
    ASSERT_TRUE(WaitForPort(tls_port_, std::chrono::seconds(10)));
  }

  void TearDown() override {
    if (server_) {
      server_->Signal(SIGTERM);
      EXPECT_EQ(server_->Wait(std::chrono::seconds(30)), 0) << ReadFile(dir_ + "/serve.log");
      // The password never reaches the log.
      EXPECT_EQ(ReadFile(dir_ + "/serve.log").find(kPassword), std::string::npos);
    }
  }

  static ProcessResult Shell(const std::string& cmd) { return RunProcess({"sh", "-c", cmd}); }

  int Stored() { return std::stoi(Sql("SELECT count(*) FROM submitted_messages")); }
  int Rows() {
    return std::stoi(Sql("SELECT count(*) FROM deliveries WHERE submission_id IS NOT NULL"));
  }

  ProcessResult Swaks(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"swaks", "--server", "127.0.0.1", "--helo", "client.test",
                                     "--from", "news@example.com", "--to", "reader@dest.test",
                                     "--timeout", "30"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunProcess(argv, {}, std::chrono::seconds(60));
  }

  std::string cert_, key_;
  int port_ = 0, tls_port_ = 0;
  std::unique_ptr<BackgroundProcess> server_;
};

TEST_F(SubmissionTest, SwaksStartTlsAuthPlainAndLoginAndImplicitTls) {
  std::string p = std::to_string(port_);
  ProcessResult plain = Swaks({"--port", p, "--tls", "--auth", "PLAIN", "--auth-user", "alice",
                               "--auth-password", kPassword});
  EXPECT_EQ(plain.exit_code, 0) << plain.out << plain.err;
  EXPECT_NE(plain.out.find("<~  250 2.0.0 Ok: queued as"), std::string::npos) << plain.out;
  ProcessResult login = Swaks({"--port", p, "--tls", "--auth", "LOGIN", "--auth-user", "alice",
                               "--auth-password", kPassword, "--to",
                               "a@dest.test,b@dest.test"});
  EXPECT_EQ(login.exit_code, 0) << login.out << login.err;
  ProcessResult implicit =
      Swaks({"--port", std::to_string(tls_port_), "--tls-on-connect", "--auth", "PLAIN",
             "--auth-user", "alice", "--auth-password", kPassword, "--from", "boss@partner.test"});
  EXPECT_EQ(implicit.exit_code, 0) << implicit.out << implicit.err;
  EXPECT_EQ(Stored(), 3);
  EXPECT_EQ(Rows(), 4);
  // Received was added; Message-ID and Date were added when missing.
  std::string bytes = Sql("SELECT convert_from(body, 'UTF8') FROM submitted_messages ORDER BY id LIMIT 1");
  EXPECT_NE(bytes.find("Received: from client.test ([127.0.0.1])"), std::string::npos) << bytes;
  EXPECT_NE(bytes.find("with ESMTPSA id"), std::string::npos) << bytes;
  EXPECT_NE(bytes.find("Message-Id: <"), std::string::npos) << bytes;  // swaks's own, kept
  EXPECT_EQ(bytes.find("Message-ID: <"), std::string::npos) << bytes;  // none added
  std::string user = Sql("SELECT user_name FROM submitted_messages ORDER BY id LIMIT 1");
  EXPECT_EQ(user, "alice");
  // Open relay probe with swaks: no AUTH, refused, nothing stored.
  ProcessResult relay = Swaks({"--port", p, "--tls"});
  EXPECT_NE(relay.exit_code, 0);
  EXPECT_NE(relay.out.find("530 5.7.0"), std::string::npos) << relay.out;
  EXPECT_EQ(Stored(), 3);
}

TEST_F(SubmissionTest, CurlSmtpStartTlsAndSmtps) {
  std::string mail = Write("mail.txt",
                           "From: news@example.com\r\nTo: c@dest.test\r\nSubject: curl\r\n"
                           "Date: Wed, 02 Dec 2026 09:00:00 +0000\r\nMessage-ID: <curl-1@example.com>\r\n"
                           "\r\n.leading dot\r\nbody\r\n");
  std::string user = fmt::format("alice:{}", kPassword);
  ProcessResult starttls = RunProcess(
      {"curl", "-sS", "--ssl-reqd", "-k", fmt::format("smtp://127.0.0.1:{}", port_),
       "--mail-from", "news@example.com", "--mail-rcpt", "c@dest.test", "--mail-rcpt",
       "d@dest.test", "--upload-file", mail, "--user", user},
      {}, std::chrono::seconds(60));
  EXPECT_EQ(starttls.exit_code, 0) << starttls.err;
  ProcessResult smtps = RunProcess(
      {"curl", "-sS", "-k", fmt::format("smtps://127.0.0.1:{}", tls_port_), "--mail-from",
       "news@example.com", "--mail-rcpt", "e@dest.test", "--upload-file", mail, "--user", user},
      {}, std::chrono::seconds(60));
  EXPECT_EQ(smtps.exit_code, 0) << smtps.err;
  EXPECT_EQ(Stored(), 2);
  EXPECT_EQ(Rows(), 3);
  // The client's Message-ID is kept (not added twice); dot-unstuffed body.
  std::string bytes = Sql("SELECT convert_from(body, 'UTF8') FROM submitted_messages ORDER BY id LIMIT 1");
  EXPECT_EQ(bytes.find("Message-ID: <curl-1@example.com>"),
            bytes.find("Message-ID:")) << bytes;
  EXPECT_NE(bytes.find("\n.leading dot"), std::string::npos) << bytes;
  EXPECT_EQ(bytes.find("..leading dot"), std::string::npos) << bytes;
  // curl over plain text without TLS: AUTH is not offered, so login fails.
  ProcessResult plain = RunProcess(
      {"curl", "-sS", fmt::format("smtp://127.0.0.1:{}", port_), "--mail-from",
       "news@example.com", "--mail-rcpt", "f@dest.test", "--upload-file", mail, "--user", user},
      {}, std::chrono::seconds(60));
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_EQ(Stored(), 2);
}

TEST_F(SubmissionTest, SmtplibSendsAndEveryProbeIsRefused) {
  std::string script = SourceDir() + "/tests/integration/submission/probes.py";
  ProcessResult r = RunProcess({"python3", script, std::to_string(port_),
                                std::to_string(tls_port_), "alice", kPassword},
                               {}, std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::map<std::string, std::string> got;
  std::istringstream in(r.out);
  std::string name, code, enhanced;
  while (in >> name >> code >> enhanced) got[name] = code + " " + enhanced;
  EXPECT_EQ(got["relay_plain"], "530 5.7.0");
  EXPECT_EQ(got["relay_tls"], "530 5.7.0");
  EXPECT_EQ(got["auth_advertised_plain"], "0 -");
  EXPECT_EQ(got["auth_before_tls"], "538 5.7.11");
  EXPECT_EQ(got["wrong_password"], "535 5.7.8");
  EXPECT_EQ(got["smtplib_send"], "250 2.0.0");
  EXPECT_EQ(got["foreign_sender"], "553 5.7.1");
  EXPECT_EQ(got["too_many_rcpts"], "452 4.5.3");
  EXPECT_EQ(got["oversize"], "552 5.3.4");
  EXPECT_EQ(got["size_param"], "552 5.3.4");
  for (const char* shape : {"bare_lf", "smuggle_lf_dot_lf", "smuggle_lf_dot_crlf",
                            "smuggle_cr_dot_cr", "smuggle_crlf_dot_lf"}) {
    EXPECT_EQ(got[shape], "550 5.6.0") << shape;
  }
  EXPECT_EQ(got["implicit_auth_advertised"], "1 -");
  EXPECT_EQ(got["smtps_send"], "250 2.0.0");
  // smtplib's message had neither Message-ID nor Date: both were added.
  std::string bytes = Sql(
      "SELECT convert_from(body, 'UTF8') FROM submitted_messages WHERE convert_from(body, "
      "'UTF8') LIKE '%hello from smtplib%'");
  EXPECT_NE(bytes.find("Message-ID: <"), std::string::npos) << bytes;
  EXPECT_NE(bytes.find("@submit.test>"), std::string::npos) << bytes;
  EXPECT_NE(bytes.find("Date: "), std::string::npos) << bytes;
  // Exactly the two good messages, nothing smuggled, no oversize remains.
  EXPECT_EQ(Stored(), 2);
  EXPECT_EQ(Rows(), 2);
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE submission_id IS NOT NULL AND "
                "email IN ('victim@dest.test', 'smuggled@dest.test', 'big@dest.test')"),
            "0");
}

std::string CertSubject(int port) {
  ProcessResult r = RunProcess(
      {"sh", "-c",
       fmt::format("openssl s_client -connect 127.0.0.1:{} </dev/null 2>/dev/null | openssl x509 "
                   "-noout -subject",
                   port)},
      {}, std::chrono::seconds(30));
  return r.out;
}

TEST_F(SubmissionTest, SighupReloadsTheCertificateWithoutDroppingSessions) {
  EXPECT_NE(CertSubject(tls_port_).find("submit.test"), std::string::npos);
  std::string ready = dir_ + "/ready", go = dir_ + "/go";
  BackgroundProcess held({"python3", SourceDir() + "/tests/integration/submission/hold_session.py",
                          std::to_string(port_), "alice", kPassword, ready, go},
                         {}, dir_ + "/hold.log");
  ASSERT_TRUE(WaitFor([&] { return access(ready.c_str(), F_OK) == 0; },
                      std::chrono::seconds(60)))
      << ReadFile(dir_ + "/hold.log");
  ProcessResult gen = RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                  "-keyout", key_ + ".new", "-out", cert_ + ".new", "-days", "2",
                                  "-subj", "/CN=renewed.test"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  ASSERT_EQ(rename((key_ + ".new").c_str(), key_.c_str()), 0);
  ASSERT_EQ(rename((cert_ + ".new").c_str(), cert_.c_str()), 0);
  server_->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return CertSubject(tls_port_).find("renewed.test") != std::string::npos; },
                      std::chrono::seconds(20)));
  Write("go", "");
  EXPECT_EQ(held.Wait(std::chrono::seconds(60)), 0) << ReadFile(dir_ + "/hold.log");
  EXPECT_EQ(Stored(), 1);
  EXPECT_NE(ReadFile(dir_ + "/serve.log").find("certificate reloaded"), std::string::npos);
}

TEST_F(SubmissionTest, ConnectionsPerClientIpAreLimited) {
  std::string script = R"(
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    held.append((s, s.recv(512)))
extra = socket.create_connection(("127.0.0.1", port), timeout=10)
print(held[0][1].decode().split(" ")[0], extra.recv(512).decode().strip())
)";
  ProcessResult r = RunProcess({"python3", "-c", script, std::to_string(port_)}, {},
                               std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 4), "220 ");
  EXPECT_NE(r.out.find("421 4.7.0 submit.test Too many connections from your address"),
            std::string::npos)
      << r.out;
}

// The listener inside `postino run`, end to end: 20 concurrent smtplib
// sessions (STARTTLS + AUTH) submit; `postino run` is killed with SIGKILL in
// the middle and restarted; every message that got 250 reaches the sink
// (delivered by the engine from PostgreSQL), and nothing reaches it that
// was not submitted.
class SubmissionRunTest : public SubmissionTest {
 protected:
  void SetUp() override {
    PostinoTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    sink_ = std::make_unique<SmtpSink>();
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    ProcessResult gen = RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                    "-keyout", key_, "-out", cert_, "-days", "2", "-subj",
                                    "/CN=submit.test"});
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    port_ = FreePort();
    WriteConfig(sink_->port(), fmt::format(R"(
[submission]
listen = ["127.0.0.1:{}"]
cert_file = "{}"
key_file = "{}"
hostname = "submit.test"
)",
                                           port_, cert_, key_));
    ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
    ProcessResult add = Shell(fmt::format(
        "printf '%s\\n' '{}' | {} --config {} user add alice --domain example.com "
        "--password-stdin",
        kPassword, Binary(), config_path_));
    ASSERT_EQ(add.exit_code, 0) << add.err;
  }
  void TearDown() override {}
  std::unique_ptr<SmtpSink> sink_;
};

TEST_F(SubmissionRunTest, KilledMidStreamLosesNoAcceptedMessage) {
  auto run = StartPostino({"run"}, "run1.log");
  ASSERT_TRUE(WaitForPort(port_, std::chrono::seconds(30))) << ReadFile(dir_ + "/run1.log");
  std::string out = dir_ + "/clients.out";
  BackgroundProcess clients(
      {"python3", SourceDir() + "/tests/integration/submission/send_many.py",
       std::to_string(port_), "alice", kPassword, "20", "25"},
      {}, out);
  auto ok_lines = [&] {
    std::vector<std::string> ok;
    std::istringstream in(ReadFile(out));
    std::string word, rcpt;
    while (in >> word) {
      if (word == "OK" && in >> rcpt) ok.push_back(rcpt);
    }
    return ok;
  };
  ASSERT_TRUE(WaitFor([&] { return ok_lines().size() >= 150; }, std::chrono::seconds(120)))
      << ReadFile(out) << ReadFile(dir_ + "/run1.log");
  run->Signal(SIGKILL);
  run->Wait(std::chrono::seconds(30));
  clients.Wait(std::chrono::seconds(120));
  std::vector<std::string> accepted = ok_lines();
  ASSERT_GE(accepted.size(), 150u);
  auto run2 = StartPostino({"run"}, "run2.log");
  std::map<std::string, int> seen;
  bool all = WaitFor(
      [&] {
        seen = Multiplicity(sink_->Recipients());
        for (const std::string& r : accepted) {
          if (seen.count(r) == 0) return false;
        }
        return true;
      },
      std::chrono::seconds(180));
  run2->Signal(SIGTERM);
  EXPECT_EQ(run2->Wait(std::chrono::seconds(60)), 0) << ReadFile(dir_ + "/run2.log");
  EXPECT_TRUE(all) << "accepted " << accepted.size() << ", at the sink " << seen.size();
  for (const auto& [rcpt, n] : seen) {
    EXPECT_EQ(rcpt.rfind("r-", 0), 0u) << rcpt;  // nothing that was not submitted
  }
}

TEST_F(SubmissionTest, UserCommandsNeverShowThePassword) {
  ProcessResult ls = Postino({"user", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find("alice"), std::string::npos);
  EXPECT_NE(ls.out.find("@example.com"), std::string::npos);
  EXPECT_EQ(ls.out.find("argon2"), std::string::npos);
  EXPECT_EQ(Sql("SELECT password_hash LIKE '$argon2id$%' FROM users WHERE name = 'alice'"), "t");
  ProcessResult dup = Shell(fmt::format(
      "printf 'another-password\\n' | {} --config {} user add alice --domain example.com "
      "--password-stdin",
      Binary(), config_path_));
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;
  // --password as a flag does not exist.
  ProcessResult flag = Postino({"user", "add", "bob", "--domain", "example.com", "--password", "x"});
  EXPECT_EQ(flag.exit_code, 2);
  ProcessResult rm = Postino({"user", "rm", "alice"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM users"), "0");
}

}  // namespace
}  // namespace postino::testing
