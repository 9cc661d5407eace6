// inbound_test.cc: the pure parts of the submission listener: AUTH
// throttling on a fake clock, sender ownership, the added headers, and
// Argon2id hashes.
#include <gtest/gtest.h>

#include "inbound/auth_throttle.h"
#include "inbound/headers.h"
#include "inbound/password.h"
#include "inbound/submission.h"

namespace postino::inbound {
namespace {

using std::chrono::milliseconds;

TEST(AuthThrottleTest, DelaysGrowThenTheUserAndTheIpAreLockedOut) {
  FakeClock clock;
  AuthThrottleOptions o;
  o.user_failures = 3;
  o.ip_failures = 5;
  AuthThrottle t(o, &clock);
  EXPECT_EQ(t.Check("192.0.2.1", "alice"), AuthThrottle::Verdict::kAllow);
  EXPECT_EQ(t.Failure("192.0.2.1", "alice"), milliseconds(250));
  EXPECT_EQ(t.Failure("192.0.2.1", "alice"), milliseconds(500));
  EXPECT_EQ(t.Failure("192.0.2.1", "alice"), milliseconds(1000));
  EXPECT_EQ(t.Check("192.0.2.9", "alice"), AuthThrottle::Verdict::kUserLocked);
  EXPECT_EQ(t.Check("192.0.2.1", "bob"), AuthThrottle::Verdict::kAllow);
  t.Failure("192.0.2.1", "bob");
  EXPECT_EQ(t.Failure("192.0.2.1", "carol"), milliseconds(4000));  // 5th from this IP
  EXPECT_EQ(t.Check("192.0.2.1", "dave"), AuthThrottle::Verdict::kIpLocked);
  // The lockout ends.
  clock.Advance(std::chrono::minutes(16));
  EXPECT_EQ(t.Check("192.0.2.1", "alice"), AuthThrottle::Verdict::kAllow);
  EXPECT_EQ(t.Failure("192.0.2.1", "alice"), milliseconds(250));  // window restarted
}

TEST(AuthThrottleTest, SuccessClearsAndDelayIsCapped) {
  FakeClock clock;
  AuthThrottleOptions o;
  o.user_failures = 100;
  o.ip_failures = 100;
  AuthThrottle t(o, &clock);
  milliseconds d{0};
  for (int i = 0; i < 20; ++i) d = t.Failure("192.0.2.1", "alice");
  EXPECT_EQ(d, milliseconds(8000));
  t.Success("192.0.2.1", "alice");
  EXPECT_EQ(t.Failure("192.0.2.1", "alice"), milliseconds(250));
}

TEST(AuthThrottleTest, MemoryIsBounded) {
  FakeClock clock;
  AuthThrottleOptions o;
  o.max_entries = 10;
  AuthThrottle t(o, &clock);
  for (int i = 0; i < 1000; ++i) t.Failure("10.0.0." + std::to_string(i), "u" + std::to_string(i));
  EXPECT_EQ(t.Check("10.0.0.999", "u999"), AuthThrottle::Verdict::kAllow);
}

TEST(SenderAllowedTest, DomainsAndAddresses) {
  db::UserRow u;
  u.domains = {"example.com", "xn--mnchen-3ya.de"};
  u.addresses = {"boss@partner.test"};
  EXPECT_TRUE(SenderAllowed(u, "news@example.com"));
  EXPECT_TRUE(SenderAllowed(u, "News@EXAMPLE.com"));
  EXPECT_TRUE(SenderAllowed(u, "a@m\xc3\xbcnchen.de"));
  EXPECT_TRUE(SenderAllowed(u, "boss@partner.test"));
  EXPECT_FALSE(SenderAllowed(u, "other@partner.test"));
  EXPECT_FALSE(SenderAllowed(u, "a@sub.example.com"));
  EXPECT_FALSE(SenderAllowed(u, "a@example.com.evil.test"));
  EXPECT_FALSE(SenderAllowed(u, ""));
}

TEST(HeadersTest, ReceivedAlwaysMessageIdAndDateOnlyWhenMissing) {
  SessionInfo s;
  s.peer_ip = "192.0.2.7";
  s.helo = "client.test";
  s.tls = true;
  s.tls_version = "TLSv1.3";
  s.tls_cipher = "TLS_AES_256_GCM_SHA384";
  s.user = "alice";
  Envelope env;
  env.rcpts.push_back({"r@dest.test", "", ""});
  WallTime t = WallTime(std::chrono::seconds(1796202000));  // 2026-12-02 09:00:00 UTC
  AddedHeaders a = AddSubmissionHeaders("Subject: x\r\n\r\nbody\r\n", s, env, "mx.test", "q1", t);
  EXPECT_EQ(a.bytes.rfind("Received: from client.test ([192.0.2.7])\r\n\tby mx.test (postino) with "
                          "ESMTPSA id q1\r\n\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\r\n\t"
                          "for <r@dest.test>;\r\n\tWed, 02 Dec 2026 09:00:00 +0000\r\n",
                          0),
            0u)
      << a.bytes;
  EXPECT_NE(a.bytes.find("Message-ID: <q1."), std::string::npos);
  EXPECT_NE(a.bytes.find("@mx.test>\r\n"), std::string::npos);
  EXPECT_NE(a.bytes.find("Date: Wed, 02 Dec 2026 09:00:00 +0000\r\n"), std::string::npos);
  EXPECT_FALSE(a.message_id.empty());

  AddedHeaders b = AddSubmissionHeaders(
      "message-id: <abc@x>\r\nDATE: Tue, 1 Dec 2026 00:00:00 +0000\r\n\r\nMessage-ID: <no>\r\n", s,
      env, "mx.test", "q2", t);
  EXPECT_EQ(b.message_id, "abc@x");
  EXPECT_EQ(b.bytes.find("Message-ID: <q2"), std::string::npos);
  EXPECT_EQ(b.bytes.find("Date: Wed"), std::string::npos);
}

TEST(PasswordTest, Argon2idHashesVerifyAndAreSalted) {
  Result<std::string> h1 = HashPassword("correct horse");
  Result<std::string> h2 = HashPassword("correct horse");
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_EQ(h1->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *h1;
  EXPECT_NE(*h1, *h2);
  EXPECT_TRUE(VerifyPassword(*h1, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*h1, "correct horsE"));
  EXPECT_FALSE(VerifyPassword("plain", "plain"));
  EXPECT_FALSE(VerifyPassword(DummyHash(), ""));
}

}  // namespace
}  // namespace postino::inbound
