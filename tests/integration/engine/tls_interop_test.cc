// tls_interop_test.cc: the fake MX's STARTTLS, implicit TLS and AUTH checked
// by clients that are not ours, over 127.0.0.1 only: Postfix's posttls-finger
// (TLS version, cipher, certificate verification with the test CA and the
// expected name, failure with a wrong name) and swaks (whole transactions
// with AUTH PLAIN and AUTH LOGIN after STARTTLS and over implicit TLS). The
// negative cases (no STARTTLS offered, AUTH refused, wrong name) show that
// the assertions can fail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fakemx/fake_mx.h"
#include "tests/support/process.h"

namespace postino::testing {
namespace {

using namespace std::chrono_literals;
using fakemx::FakeMx;
using fakemx::Script;

constexpr std::chrono::seconds kClientTimeout{60};

// Finds an executable in PATH, then in /usr/sbin and /usr/bin (posttls-finger
// lives in /usr/sbin, often not in a non-root PATH); "" when absent.
std::string FindProgram(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  dirs.push_back("/usr/sbin");
  dirs.push_back("/usr/bin");
  for (const auto& dir : dirs) {
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string Describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.signal) +
         "\n--- stdout ---\n" + r.out + "\n--- stderr ---\n" + r.err;
}

// POSTINO_INTEROP_VERBOSE=1 prints every client transcript.
void MaybeShow(const ProcessResult& r) {
  if (std::getenv("POSTINO_INTEROP_VERBOSE") != nullptr) std::cerr << Describe(r) << "\n";
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// posttls-finger reads main.cf; give it a private, nearly empty one so the
// test needs no Postfix configuration on the machine.
class PosttlsFinger {
 public:
  PosttlsFinger() : binary_(FindProgram("posttls-finger")) {
    if (binary_.empty()) return;
    config_dir_ = MakeTempDir("postino-posttls-finger");
    std::ofstream cf(config_dir_ + "/main.cf");
    cf << "# main.cf for posttls-finger in postino's TLS interop test\n"
       << "myhostname = posttls-finger.postino.test\n"
       << "mydomain = postino.test\n"
       << "compatibility_level = 3.6\n";
  }
  bool available() const { return !binary_.empty(); }

  // Runs it against [127.0.0.1]:port with extra options before the
  // destination and `match` names after it; `chat` logs the SMTP dialogue
  // too (-c turns it off). The result's `out` holds both streams.
  ProcessResult Run(uint16_t port, const std::vector<std::string>& options,
                    const std::vector<std::string>& match = {}, bool chat = false) const {
    std::vector<std::string> argv = {binary_};
    if (!chat) argv.push_back("-c");
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("[127.0.0.1]:" + std::to_string(port));
    argv.insert(argv.end(), match.begin(), match.end());
    ProcessResult r = RunProcess(argv, {{"MAIL_CONFIG", config_dir_}}, kClientTimeout);
    r.out += r.err;
    MaybeShow(r);
    return r;
  }

 private:
  std::string binary_;
  std::string config_dir_;
};

// "…TLS connection established to 127.0.0.1[127.0.0.1]:PORT: TLSv1.3 with
// cipher TLS_AES_256_GCM_SHA384 (256/256 bits)…"
const std::regex kEstablished(
    R"((Anonymous|Untrusted|Trusted|Verified) TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: (TLSv1\.[23]) with cipher ([A-Za-z0-9_-]+))");

class TlsInteropTest : public ::testing::Test {
 protected:
  void RequirePosttlsFinger() {
    if (!finger_.available()) GTEST_SKIP() << "posttls-finger is missing (Debian package postfix)";
  }
  // swaks itself, and its TLS support (Net::SSLeay, Debian package
  // libnet-ssleay-perl, which swaks only recommends).
  void RequireSwaksWithTls() {
    swaks_ = FindProgram("swaks");
    if (swaks_.empty()) GTEST_SKIP() << "swaks is missing (Debian package swaks)";
    ProcessResult support = RunProcess({swaks_, "--support"}, {}, kClientTimeout);
    if (!Contains(support.out + support.err, "=== TLS supported")) {
      GTEST_SKIP() << "swaks has no TLS support: Net::SSLeay is missing (Debian package "
                      "libnet-ssleay-perl)\n"
                   << support.out << support.err;
    }
  }

  // One swaks transaction to 127.0.0.1:port; `extra` selects TLS and AUTH.
  ProcessResult Swaks(uint16_t port, const std::vector<std::string>& extra) const {
    std::vector<std::string> argv = {swaks_,
                                     "--to",
                                     "a@example.test",
                                     "--from",
                                     "sender@postino.test",
                                     "--helo",
                                     "swaks.postino.test",
                                     "--server",
                                     "127.0.0.1",
                                     "--port",
                                     std::to_string(port),
                                     "--timeout",
                                     "20",
                                     "--header",
                                     "Subject: postino TLS interop"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ProcessResult r = RunProcess(argv, {}, kClientTimeout);
    MaybeShow(r);
    return r;
  }

  static Script TlsAuthScript() {
    Script script;
    script.offer_starttls = true;
    script.offer_auth = true;
    script.auth_prompts = true;
    return script;
  }

  // The swaks transcript shows a 250 reply to the end of data, read over TLS
  // ("<~" marks lines received over TLS).
  static void ExpectQueuedOverTls(const ProcessResult& r) {
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(~> \.\r?\n<~ +250 2\.0\.0 Ok: queued)")))
        << Describe(r);
  }

  // The fake MX got one accepted message over TLS for a@example.test, on a
  // connection that authenticated as u/p with `mechanism`.
  static void ExpectRecorded(const FakeMx& mx, const std::string& mechanism) {
    ASSERT_TRUE(mx.WaitForMessages(1, 5s));
    auto messages = mx.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_TRUE(messages[0].tls);
    EXPECT_TRUE(messages[0].accepted);
    EXPECT_EQ(messages[0].mail_from, "<sender@postino.test>");
    ASSERT_EQ(messages[0].rcpts.size(), 1u);
    EXPECT_EQ(messages[0].rcpts[0], "<a@example.test>");
    EXPECT_TRUE(Contains(messages[0].data, "Subject: postino TLS interop")) << messages[0].data;
    auto conns = mx.connections();
    ASSERT_EQ(conns.size(), 1u);
    EXPECT_TRUE(conns[0].tls);
    EXPECT_EQ(conns[0].ehlo_name, "swaks.postino.test");
    EXPECT_EQ(conns[0].auth_mechanism, mechanism);
    EXPECT_EQ(conns[0].auth_user, "u");
    EXPECT_EQ(conns[0].auth_password, "p");
  }

  PosttlsFinger finger_;
  std::string swaks_;
};

// --- posttls-finger ---------------------------------------------------------

TEST_F(TlsInteropTest, PosttlsFingerNegotiatesStartTls) {
  RequirePosttlsFinger();
  if (IsSkipped()) return;
  Script script;
  script.offer_starttls = true;
  FakeMx mx(script);
  ProcessResult r = finger_.Run(mx.port(), {"-l", "may"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, kEstablished)) << Describe(r);
  // No CA file: the certificate is seen but not trusted.
  EXPECT_TRUE(m[1].str() == "Untrusted" || m[1].str() == "Anonymous") << Describe(r);
  EXPECT_TRUE(Contains(r.out, "subject_CN=localhost, issuer_CN=localhost")) << Describe(r);
  EXPECT_FALSE(m[3].str().empty());
  auto conns = mx.connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_TRUE(conns[0].tls);
  ASSERT_GE(conns[0].commands.size(), 2u);
  EXPECT_EQ(conns[0].commands[0].line.rfind("EHLO ", 0), 0u);
  EXPECT_EQ(conns[0].commands[1].line, "STARTTLS");
}

TEST_F(TlsInteropTest, PosttlsFingerNegotiatesTls12WhenTls13IsExcluded) {
  RequirePosttlsFinger();
  if (IsSkipped()) return;
  Script script;
  script.offer_starttls = true;
  FakeMx mx(script);
  ProcessResult r = finger_.Run(mx.port(), {"-l", "may", "-p", "<=TLSv1.2"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, kEstablished)) << Describe(r);
  EXPECT_EQ(m[2].str(), "TLSv1.2") << Describe(r);
  EXPECT_FALSE(m[3].str().empty());
}

TEST_F(TlsInteropTest, PosttlsFingerVerifiesWithCaFileAndName) {
  RequirePosttlsFinger();
  if (IsSkipped()) return;
  Script script;
  script.offer_starttls = true;
  FakeMx mx(script);
  std::string ca = mx.WriteCertFile();
  for (const char* level : {"secure", "verify"}) {
    SCOPED_TRACE(level);
    ProcessResult r = finger_.Run(mx.port(), {"-l", level, "-F", ca}, {"localhost"});
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, kEstablished)) << Describe(r);
    EXPECT_EQ(m[1].str(), "Verified") << Describe(r);
    EXPECT_FALSE(Contains(r.out, "verification failed")) << Describe(r);
  }
  unlink(ca.c_str());
}

TEST_F(TlsInteropTest, PosttlsFingerRejectsWrongName) {
  RequirePosttlsFinger();
  if (IsSkipped()) return;
  Script script;
  script.offer_starttls = true;
  FakeMx mx(script);
  std::string ca = mx.WriteCertFile();
  ProcessResult r = finger_.Run(mx.port(), {"-l", "secure", "-F", ca}, {"wrong.example.test"});
  EXPECT_FALSE(std::regex_search(r.out, std::regex("(Verified|Trusted) TLS connection")))
      << Describe(r);
  EXPECT_TRUE(Contains(r.out, "verification failed")) << Describe(r);
  EXPECT_TRUE(Contains(r.out, "hostname mismatch")) << Describe(r);
  unlink(ca.c_str());
}

TEST_F(TlsInteropTest, PosttlsFingerRejectsUnknownCa) {
  RequirePosttlsFinger();
  if (IsSkipped()) return;
  Script script;
  script.offer_starttls = true;
  FakeMx mx(script);
  // Trust a different self-signed certificate with the same name.
  FakeMx other(script);
  std::string ca = other.WriteCertFile();
  ProcessResult r = finger_.Run(mx.port(), {"-l", "secure", "-F", ca}, {"localhost"});
  EXPECT_FALSE(std::regex_search(r.out, std::regex("(Verified|Trusted) TLS connection")))
      << Describe(r);
  EXPECT_TRUE(Contains(r.out, "verification failed")) << Describe(r);
  unlink(ca.c_str());
}

TEST_F(TlsInteropTest, PosttlsFingerSeesNoTlsWhenStartTlsIsNotOffered) {
  RequirePosttlsFinger();
  if (IsSkipped()) return;
  FakeMx mx(Script{});
  ProcessResult r = finger_.Run(mx.port(), {"-l", "may"}, {}, /*chat=*/true);
  EXPECT_TRUE(Contains(r.out, "250 SIZE 10240000")) << Describe(r);  // it read the EHLO reply
  EXPECT_FALSE(Contains(r.out, "STARTTLS")) << Describe(r);
  EXPECT_FALSE(std::regex_search(r.out, kEstablished)) << Describe(r);
  auto conns = mx.connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_FALSE(conns[0].tls);
}

// --- swaks ------------------------------------------------------------------

TEST_F(TlsInteropTest, SwaksStartTlsAuthPlain) {
  RequireSwaksWithTls();
  if (IsSkipped()) return;
  FakeMx mx(TlsAuthScript());
  ProcessResult r =
      Swaks(mx.port(), {"--tls", "--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p"});
  ExpectQueuedOverTls(r);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(<~ +235 )"))) << Describe(r);
  ExpectRecorded(mx, "PLAIN");
  EXPECT_EQ(mx.connections()[0].auth_plain, std::string("\0u\0p", 4));
}

TEST_F(TlsInteropTest, SwaksStartTlsAuthLogin) {
  RequireSwaksWithTls();
  if (IsSkipped()) return;
  FakeMx mx(TlsAuthScript());
  ProcessResult r =
      Swaks(mx.port(), {"--tls", "--auth", "LOGIN", "--auth-user", "u", "--auth-password", "p"});
  ExpectQueuedOverTls(r);
  // The two 334 prompts (Username:, Password:) were read over TLS.
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(<~ +334 VXNlcm5hbWU6)"))) << Describe(r);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(<~ +334 UGFzc3dvcmQ6)"))) << Describe(r);
  ExpectRecorded(mx, "LOGIN");
}

TEST_F(TlsInteropTest, SwaksImplicitTlsAuthPlain) {
  RequireSwaksWithTls();
  if (IsSkipped()) return;
  Script script = TlsAuthScript();
  script.offer_starttls = false;
  script.implicit_tls = true;
  FakeMx mx(script);
  ProcessResult r = Swaks(mx.port(), {"--tls-on-connect", "--auth", "PLAIN", "--auth-user", "u",
                                      "--auth-password", "p"});
  ExpectQueuedOverTls(r);
  // The banner itself came over TLS.
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(<~ +220 fakemx\.test)"))) << Describe(r);
  ExpectRecorded(mx, "PLAIN");
}

TEST_F(TlsInteropTest, SwaksStartTlsWithTls12) {
  RequireSwaksWithTls();
  if (IsSkipped()) return;
  FakeMx mx(TlsAuthScript());
  ProcessResult r = Swaks(mx.port(), {"--tls", "--tls-protocol", "tlsv1_2", "--auth", "PLAIN",
                                      "--auth-user", "u", "--auth-password", "p"});
  ExpectQueuedOverTls(r);
  EXPECT_TRUE(Contains(r.out, "TLS started with cipher TLSv1.2:")) << Describe(r);
  ExpectRecorded(mx, "PLAIN");
}

TEST_F(TlsInteropTest, SwaksVerifiesCertificateWithCaFile) {
  RequireSwaksWithTls();
  if (IsSkipped()) return;
  Script script;
  script.offer_starttls = true;
  FakeMx mx(script);
  std::string ca = mx.WriteCertFile();
  ProcessResult r = Swaks(mx.port(), {"--tls", "--tls-verify", "--tls-ca-path", ca});
  ExpectQueuedOverTls(r);
  EXPECT_EQ(mx.accepted_messages(), 1u);
  unlink(ca.c_str());
}

// --- negative checks: the assertions above can fail ------------------------

TEST_F(TlsInteropTest, SwaksTlsFailsWhenStartTlsIsNotOffered) {
  RequireSwaksWithTls();
  if (IsSkipped()) return;
  Script script;
  script.offer_auth = true;
  script.auth_prompts = true;
  FakeMx mx(script);
  ProcessResult r =
      Swaks(mx.port(), {"--tls", "--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_FALSE(std::regex_search(r.out, std::regex(R"(<~ +250 2\.0\.0 Ok: queued)")))
      << Describe(r);
  EXPECT_TRUE(mx.messages().empty());
  auto conns = mx.connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_FALSE(conns[0].tls);
  EXPECT_TRUE(conns[0].auth_user.empty());  // no credentials sent in the clear
}

TEST_F(TlsInteropTest, SwaksFailsWhenAuthIsRefused) {
  RequireSwaksWithTls();
  if (IsSkipped()) return;
  Script script = TlsAuthScript();
  script.auth = fakemx::Reply("535 5.7.8 Authentication credentials invalid");
  FakeMx mx(script);
  ProcessResult r =
      Swaks(mx.port(), {"--tls", "--auth", "LOGIN", "--auth-user", "u", "--auth-password", "p"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(<~\* +535 )"))) << Describe(r);
  EXPECT_TRUE(mx.messages().empty());
  auto conns = mx.connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0].auth_user, "u");  // the credentials arrived; the server said no
}

}  // namespace
}  // namespace postino::testing
