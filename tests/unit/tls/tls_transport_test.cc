// tls_transport_test.cc: TlsTransport client against the fake MX (implicit
// TLS) and against our own server mode, over loopback TCP: handshake info,
// data both ways, verification success and failure (never plain text).
#include "engine/tls/tls_transport.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>

#include "engine/net/address.h"
#include "engine/net/tcp_transport.h"
#include "tests/fakemx/fake_mx.h"

namespace postino::tls {
namespace {

using namespace std::chrono_literals;

bool RunUntil(uv_loop_t* loop, const std::function<bool()>& done,
              std::chrono::milliseconds limit = 5s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(500);
  }
  return true;
}

struct Recorder : net::TransportHandler {
  bool connected = false;
  bool closed = false;
  Status close_reason;
  std::string data;
  std::function<void(std::string_view)> on_data;
  void OnTransportConnected() override { connected = true; }
  void OnTransportData(std::string_view bytes) override {
    data.append(bytes);
    if (on_data) on_data(bytes);
  }
  void OnTransportClosed(const Status& reason) override {
    closed = true;
    close_reason = reason;
  }
};

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { uv_loop_init(&loop_); }
  void TearDown() override {
    for (int i = 0; i < 5; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "handles leaked";
  }
  std::unique_ptr<net::TcpTransport> Dial(uint16_t port, net::TransportHandler* h) {
    net::ConnectOptions o;
    EXPECT_TRUE(net::MakeSockaddr("127.0.0.1", port, &o.peer).ok());
    o.timeout = 2s;
    return net::TcpTransport::Connect(&loop_, o, h);
  }
  uv_loop_t loop_;
  uv_tcp_t listener_;  // outlives the test body until TearDown runs its close
};

TEST_F(TlsTransportTest, ImplicitTlsToFakeMxWithoutVerification) {
  fakemx::Script script;
  script.implicit_tls = true;
  fakemx::FakeMx mx(script);
  auto ctx = TlsContext::NewClient({});
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  Recorder r;
  auto tls = TlsTransport::NewClient(Dial(mx.port(), nullptr), *ctx,
                                     ClientParams{"localhost", false, ""}, &r);
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.data.find("\r\n") != std::string::npos || r.closed; }));
  EXPECT_TRUE(r.connected);
  EXPECT_EQ(r.data, "220 fakemx.test ESMTP\r\n");
  EXPECT_EQ((*tls)->version(), "TLSv1.3");
  EXPECT_FALSE((*tls)->cipher().empty());
  EXPECT_FALSE((*tls)->verified());  // self-signed, not in the trust store
  r.data.clear();
  (*tls)->Write("QUIT\r\n");
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.closed; }));
  EXPECT_EQ(r.data, "221 2.0.0 Bye\r\n");
  ASSERT_EQ(mx.connections().size(), 1u);
  EXPECT_TRUE(mx.connections()[0].tls);
}

TEST_F(TlsTransportTest, VerificationAgainstUnknownCertFails) {
  fakemx::Script script;
  script.implicit_tls = true;
  fakemx::FakeMx mx(script);
  auto ctx = TlsContext::NewClient({});
  ASSERT_TRUE(ctx.ok());
  Recorder r;
  auto tls = TlsTransport::NewClient(Dial(mx.port(), nullptr), *ctx,
                                     ClientParams{"localhost", true, "localhost"}, &r);
  ASSERT_TRUE(tls.ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.closed; }));
  EXPECT_FALSE(r.connected);
  EXPECT_TRUE(r.data.empty());
  EXPECT_NE(r.close_reason.message().find("certificate verification failed"), std::string::npos)
      << r.close_reason.message();
}

TEST_F(TlsTransportTest, VerificationWithExtraCaFileAndNameSucceeds) {
  fakemx::Script script;
  script.implicit_tls = true;
  fakemx::FakeMx mx(script);
  std::string ca = mx.WriteCertFile();
  auto ctx = TlsContext::NewClient({true, ca});
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  Recorder r;
  auto tls = TlsTransport::NewClient(Dial(mx.port(), nullptr), *ctx,
                                     ClientParams{"localhost", true, "localhost"}, &r);
  ASSERT_TRUE(tls.ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return !r.data.empty() || r.closed; }));
  EXPECT_TRUE(r.connected) << r.close_reason.ToString();
  EXPECT_TRUE((*tls)->verified());
  (*tls)->Close();

  // Same CA, wrong name: refused.
  Recorder r2;
  auto tls2 = TlsTransport::NewClient(Dial(mx.port(), nullptr), *ctx,
                                      ClientParams{"mx.other.test", true, "mx.other.test"}, &r2);
  ASSERT_TRUE(tls2.ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r2.closed; }));
  EXPECT_FALSE(r2.connected);
  // IP literal names are checked against the IP SAN.
  Recorder r3;
  auto tls3 = TlsTransport::NewClient(Dial(mx.port(), nullptr), *ctx,
                                      ClientParams{"127.0.0.1", true, "127.0.0.1"}, &r3);
  ASSERT_TRUE(tls3.ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r3.connected || r3.closed; }));
  EXPECT_TRUE(r3.connected) << r3.close_reason.ToString();
  (*tls3)->Close();
  unlink(ca.c_str());
}

TEST_F(TlsTransportTest, ClientAndServerModeTalkBothWays) {
  fakemx::CertAndKey cert = fakemx::GenerateSelfSignedCert();
  auto server_ctx = TlsContext::NewServer(cert.cert_pem, cert.key_pem);
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status().ToString();
  EXPECT_FALSE(TlsContext::NewServer(cert.cert_pem, "garbage").ok());

  uv_tcp_t& listener = listener_;
  uv_tcp_init(&loop_, &listener);
  sockaddr_storage addr;
  ASSERT_TRUE(net::MakeSockaddr("127.0.0.1", 0, &addr).ok());
  ASSERT_EQ(uv_tcp_bind(&listener, reinterpret_cast<sockaddr*>(&addr), 0), 0);
  int len = sizeof(addr);
  uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&addr), &len);
  uint16_t port = net::SockaddrPort(reinterpret_cast<sockaddr*>(&addr));

  struct ServerSide {
    std::shared_ptr<TlsContext> ctx;
    Recorder rec;
    std::unique_ptr<TlsTransport> tls;
  } server{*server_ctx, {}, nullptr};
  listener.data = &server;
  server.rec.on_data = [&](std::string_view) {
    if (server.rec.data.find("\r\n") != std::string::npos) {
      server.tls->Write("echo " + server.rec.data);
      server.rec.data.clear();
    }
  };
  ASSERT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 8,
                      [](uv_stream_t* s, int status) {
                        auto* sv = static_cast<ServerSide*>(s->data);
                        auto tcp = net::TcpTransport::Accept(s, nullptr);
                        ASSERT_TRUE(tcp.ok());
                        auto tls = TlsTransport::NewServer(std::move(*tcp), sv->ctx, &sv->rec);
                        ASSERT_TRUE(tls.ok());
                        sv->tls = std::move(*tls);
                        sv->tls->StartHandshake();
                      }),
            0);

  auto client_ctx = TlsContext::NewClient({false, ""});
  ASSERT_TRUE(client_ctx.ok());
  Recorder client;
  auto tls = TlsTransport::NewClient(Dial(port, nullptr), *client_ctx,
                                     ClientParams{"localhost", false, ""}, &client);
  ASSERT_TRUE(tls.ok());
  (*tls)->Write("hello\r\n");  // before the handshake: buffered
  ASSERT_TRUE(RunUntil(&loop_, [&] { return client.data == "echo hello\r\n" || client.closed; }));
  EXPECT_TRUE(client.connected);
  EXPECT_TRUE(server.rec.connected);
  EXPECT_EQ(server.tls->version(), (*tls)->version());
  (*tls)->Close();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return server.rec.closed; }));
  server.tls.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
  for (int i = 0; i < 3; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
}

TEST_F(TlsTransportTest, HandshakeWithPlainServerFails) {
  fakemx::FakeMx mx(fakemx::Script{});  // speaks plain SMTP
  auto ctx = TlsContext::NewClient({});
  ASSERT_TRUE(ctx.ok());
  Recorder r;
  auto tls = TlsTransport::NewClient(Dial(mx.port(), nullptr), *ctx,
                                     ClientParams{"localhost", false, ""}, &r);
  ASSERT_TRUE(tls.ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.closed; }));
  EXPECT_FALSE(r.connected);
  EXPECT_NE(r.close_reason.message().find("TLS handshake failed"), std::string::npos)
      << r.close_reason.message();
}

}  // namespace
}  // namespace postino::tls
