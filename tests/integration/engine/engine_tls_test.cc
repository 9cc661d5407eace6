// engine_tls_test.cc: TLS modes of the delivery engine against the fake MX
// with a self-signed certificate made at test time: opportunistic STARTTLS,
// plain-text retry after a failed handshake, required TLS (verified, never
// plain), implicit TLS (port 465 style) and AUTH PLAIN to a smarthost only
// over TLS whose certificate was verified (or with the explicit opt-out).
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/fakemx/fake_mx.h"
#include "tests/integration/engine/engine_fixture.h"

namespace postino::testing {
namespace {

using namespace std::chrono_literals;
using delivery::Disposition;
using fakemx::FakeMx;
using fakemx::Script;

TEST_F(EngineTest, OpportunisticStartTlsWithSelfSignedCert) {
  Script script;
  script.offer_starttls = true;
  FakeMx mx(script);
  StartRoutedTo(mx);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  const auto* o = OutcomeFor(id);
  EXPECT_EQ(o->disposition, Disposition::kDelivered) << o->reply.ToString();
  EXPECT_EQ(o->tls_version, "TLSv1.3");
  EXPECT_FALSE(o->tls_cipher.empty());
  auto messages = mx.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].tls);
  // EHLO again after STARTTLS (RFC 3207).
  auto conns = mx.connections();
  int ehlos = 0;
  for (const auto& c : conns[0].commands) ehlos += c.line.rfind("EHLO", 0) == 0;
  EXPECT_EQ(ehlos, 2);
}

TEST_F(EngineTest, FailedStartTlsHandshakeIsRetriedOnceInPlainText) {
  Script script;
  script.offer_starttls = true;
  script.override = [](std::string_view verb, std::string_view,
                       int conn) -> std::optional<fakemx::Step> {
    if (verb == "STARTTLS" && conn == 0) {
      // "220" then, a moment later, bytes that are not a TLS ServerHello.
      fakemx::Step s;
      s.reply = "220 2.0.0 go ahead\r\nthis is not TLS at all\r\n";
      s.raw = true;
      s.split_at = std::string("220 2.0.0 go ahead\r\n").size();
      return s;
    }
    return std::nullopt;
  };
  FakeMx mx(script);
  StartRoutedTo(mx);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  const auto* o = OutcomeFor(id);
  EXPECT_EQ(o->disposition, Disposition::kDelivered) << o->reply.ToString();
  EXPECT_TRUE(o->tls_version.empty());
  EXPECT_EQ(mx.total_connections(), 2);
  auto conns = mx.connections();
  ASSERT_EQ(conns.size(), 2u);
  for (const auto& c : conns[1].commands) EXPECT_NE(c.line, "STARTTLS");
}

TEST_F(EngineTest, RequiredTlsWithVerificationAgainstSelfSignedIsDeferredNeverPlain) {
  Script script;
  script.offer_starttls = true;
  FakeMx mx(script);
  auto config = BaseConfig();
  auto route = StaticRoute("example.com", mx.port(), smtp::TlsMode::kRequired);
  route.tls_verify = true;
  config.routes.push_back(route);
  StartEngine(config);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  const auto* o = OutcomeFor(id);
  EXPECT_EQ(o->disposition, Disposition::kDeferred);
  EXPECT_NE(o->reply.Text().find("certificate"), std::string::npos) << o->reply.ToString();
  EXPECT_FALSE(SawCommand(mx, "MAIL"));
  EXPECT_EQ(mx.messages().size(), 0u);
}

TEST_F(EngineTest, RequiredTlsVerifiedWithExtraCaFileDelivers) {
  Script script;
  script.offer_starttls = true;
  FakeMx mx(script);
  std::string ca = mx.WriteCertFile();
  auto config = BaseConfig();
  config.ca_file = ca;
  auto route = StaticRoute("example.com", mx.port(), smtp::TlsMode::kRequired);
  route.tls_verify = true;  // the certificate names 127.0.0.1 too
  config.routes.push_back(route);
  StartEngine(config);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
      << OutcomeFor(id)->reply.ToString();
  EXPECT_FALSE(OutcomeFor(id)->tls_version.empty());
  unlink(ca.c_str());
}

TEST_F(EngineTest, RequiredTlsToServerWithoutStartTlsIsDeferred) {
  FakeMx mx(Script{});  // no STARTTLS offered
  auto config = BaseConfig();
  auto route = StaticRoute("example.com", mx.port(), smtp::TlsMode::kRequired);
  route.tls_verify = false;
  config.routes.push_back(route);
  StartEngine(config);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDeferred);
  EXPECT_NE(OutcomeFor(id)->reply.Text().find("STARTTLS"), std::string::npos)
      << OutcomeFor(id)->reply.ToString();
  EXPECT_FALSE(SawCommand(mx, "MAIL"));
}

TEST_F(EngineTest, ImplicitTlsRoute) {
  Script script;
  script.implicit_tls = true;
  FakeMx mx(script);
  auto config = BaseConfig();
  auto route = StaticRoute("example.com", mx.port(), smtp::TlsMode::kImplicit);
  route.tls_verify = false;
  config.routes.push_back(route);
  StartEngine(config);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  const auto* o = OutcomeFor(id);
  EXPECT_EQ(o->disposition, Disposition::kDelivered) << o->reply.ToString();
  EXPECT_EQ(o->tls_version, "TLSv1.3");
  EXPECT_FALSE(SawCommand(mx, "STARTTLS"));
  ASSERT_EQ(mx.messages().size(), 1u);
  EXPECT_TRUE(mx.messages()[0].tls);
}

TEST_F(EngineTest, ImplicitTlsVerifiedByHostName) {
  Script script;
  script.implicit_tls = true;
  FakeMx mx(script);
  std::string ca = mx.WriteCertFile();
  auto config = BaseConfig();
  config.ca_file = ca;
  auto route = StaticRoute("example.com", mx.port(), smtp::TlsMode::kImplicit);
  route.host = "localhost";  // resolved through /etc/hosts, checked against the certificate
  config.routes.push_back(route);
  StartEngine(config);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
      << OutcomeFor(id)->reply.ToString();
  EXPECT_EQ(OutcomeFor(id)->mx_host, "localhost");
  unlink(ca.c_str());
}

TEST_F(EngineTest, AuthPlainOverVerifiedTlsToSmarthost) {
  Script script;
  script.offer_starttls = true;
  script.offer_auth = true;
  FakeMx mx(script);
  std::string ca = mx.WriteCertFile();
  auto config = BaseConfig();
  config.ca_file = ca;
  // Opportunistic (the default): with credentials the certificate is
  // verified all the same; this one is trusted through ca_file.
  auto route = StaticRoute("*", mx.port(), smtp::TlsMode::kOpportunistic);
  route.auth = smtp::AuthCredentials{"relayuser", "s3cret"};
  config.routes.push_back(route);
  StartEngine(config);
  uint64_t id = Send("anywhere.example");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
      << OutcomeFor(id)->reply.ToString();
  auto conns = mx.connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_TRUE(conns[0].tls);
  EXPECT_EQ(conns[0].auth_plain, std::string("\0relayuser\0s3cret", 17));
  unlink(ca.c_str());
}

// Issue 11 item 3: opportunistic TLS to a server with a self-signed
// certificate used to receive AUTH PLAIN with the password.
TEST_F(EngineTest, AuthIsNeverSentToAnUnverifiedServer) {
  for (smtp::TlsMode mode : {smtp::TlsMode::kOpportunistic, smtp::TlsMode::kRequired}) {
    SCOPED_TRACE(mode == smtp::TlsMode::kRequired ? "required" : "opportunistic");
    Script script;
    script.offer_starttls = true;
    script.offer_auth = true;
    FakeMx mx(script);  // self-signed, not in any trust store
    auto config = BaseConfig();
    auto route = StaticRoute("*", mx.port(), mode);
    route.tls_verify = false;  // does not lift the rule for credentials
    route.auth = smtp::AuthCredentials{"relayuser", "s3cret"};
    config.routes.push_back(route);
    StartEngine(config);
    uint64_t id = Send("anywhere.example");
    ASSERT_TRUE(WaitForOutcomes(1));
    const auto* o = OutcomeFor(id);
    EXPECT_EQ(o->disposition, Disposition::kDeferred) << o->reply.ToString();
    EXPECT_TRUE(o->reply.local);
    EXPECT_NE(o->reply.Text().find("AUTH"), std::string::npos) << o->reply.ToString();
    EXPECT_NE(o->reply.Text().find("auth_without_verified_tls"), std::string::npos)
        << o->reply.ToString();
    EXPECT_FALSE(SawCommand(mx, "AUTH"));
    EXPECT_FALSE(SawCommand(mx, "MAIL"));
    for (const auto& c : mx.connections()) EXPECT_TRUE(c.auth_plain.empty());
    ASSERT_TRUE(ShutdownEngine());
    engine_.reset();
    outcomes_.clear();
  }
}

TEST_F(EngineTest, AuthWithoutVerifiedTlsIsAnExplicitOptOut) {
  Script script;
  script.offer_starttls = true;
  script.offer_auth = true;
  FakeMx mx(script);
  auto config = BaseConfig();
  auto route = StaticRoute("*", mx.port(), smtp::TlsMode::kOpportunistic);
  route.auth = smtp::AuthCredentials{"relayuser", "s3cret"};
  route.auth_without_verified_tls = true;
  config.routes.push_back(route);
  StartEngine(config);
  uint64_t id = Send("anywhere.example");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
      << OutcomeFor(id)->reply.ToString();
  auto conns = mx.connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_TRUE(conns[0].tls);
  EXPECT_EQ(conns[0].auth_plain, std::string("\0relayuser\0s3cret", 17));
}

TEST_F(EngineTest, AuthIsNeverSentInPlainText) {
  Script script;
  script.offer_auth = true;  // no STARTTLS
  FakeMx mx(script);
  auto config = BaseConfig();
  auto route = StaticRoute("*", mx.port(), smtp::TlsMode::kOpportunistic);
  route.auth = smtp::AuthCredentials{"relayuser", "s3cret"};
  config.routes.push_back(route);
  StartEngine(config);
  uint64_t id = Send("anywhere.example");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDeferred);
  EXPECT_FALSE(SawCommand(mx, "AUTH"));
}

}  // namespace
}  // namespace postino::testing
