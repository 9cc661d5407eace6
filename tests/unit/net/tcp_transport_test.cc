// tcp_transport_test.cc: TcpTransport over loopback against the fake MX:
// connect, read, write, close, source binding, refused and timed-out connects.
#include "engine/net/tcp_transport.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>

#include "engine/net/address.h"
#include "tests/fakemx/fake_mx.h"

namespace postino::net {
namespace {

using namespace std::chrono_literals;

// Runs the loop until `done` or a deadline (then the test fails).
bool RunUntil(uv_loop_t* loop, const std::function<bool()>& done,
              std::chrono::milliseconds limit = 5s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  return true;
}

struct Recorder : TransportHandler {
  bool connected = false;
  bool closed = false;
  Status close_reason;
  std::string data;
  std::function<void()> on_data;
  void OnTransportConnected() override { connected = true; }
  void OnTransportData(std::string_view bytes) override {
    data.append(bytes);
    if (on_data) on_data();
  }
  void OnTransportClosed(const Status& reason) override {
    closed = true;
    close_reason = reason;
  }
};

class TcpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { uv_loop_init(&loop_); }
  void TearDown() override {
    uv_run(&loop_, UV_RUN_NOWAIT);  // run close callbacks
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "handles leaked";
  }
  ConnectOptions To(const std::string& ip, uint16_t port) {
    ConnectOptions o;
    EXPECT_TRUE(MakeSockaddr(ip, port, &o.peer).ok());
    o.timeout = 2s;
    return o;
  }
  uv_loop_t loop_;
};

TEST_F(TcpTransportTest, ConnectsReadsWritesAndCloses) {
  fakemx::FakeMx mx(fakemx::Script{});
  Recorder r;
  auto t = TcpTransport::Connect(&loop_, To("127.0.0.1", mx.port()), &r);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.data.find("\r\n") != std::string::npos; }));
  EXPECT_TRUE(r.connected);
  EXPECT_EQ(r.data, "220 fakemx.test ESMTP\r\n");
  EXPECT_EQ(t->local_address(), "127.0.0.1");
  EXPECT_EQ(t->peer_address(), "127.0.0.1");
  r.data.clear();
  t->Write("NOOP\r\nQUIT\r\n");
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.closed; }));
  EXPECT_EQ(r.data, "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n");
  EXPECT_FALSE(t->open());
  t.reset();
}

TEST_F(TcpTransportTest, BindsTheChosenSourceAddress) {
  fakemx::FakeMx mx(fakemx::Script{});
  Recorder r;
  ConnectOptions o = To("127.0.0.1", mx.port());
  sockaddr_storage src;
  ASSERT_TRUE(MakeSockaddr("127.0.0.2", 0, &src).ok());
  o.source = src;
  auto t = TcpTransport::Connect(&loop_, o, &r);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return !r.data.empty(); }));
  EXPECT_EQ(t->local_address(), "127.0.0.2");
  ASSERT_EQ(mx.connections().size(), 1u);
  EXPECT_EQ(mx.connections()[0].peer, "127.0.0.2");
  t->Close();
}

TEST_F(TcpTransportTest, BindFailureIsReportedAsynchronously) {
  Recorder r;
  ConnectOptions o = To("127.0.0.1", 9);
  sockaddr_storage src;
  ASSERT_TRUE(MakeSockaddr("192.0.2.77", 0, &src).ok());  // not a local address
  o.source = src;
  auto t = TcpTransport::Connect(&loop_, o, &r);
  EXPECT_FALSE(r.closed);  // never synchronously
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.closed; }));
  EXPECT_NE(r.close_reason.message().find("bind"), std::string::npos) << r.close_reason.message();
}

TEST_F(TcpTransportTest, RefusedConnectionIsReported) {
  // A port with nothing listening: take one and close it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  Recorder r;
  auto t = TcpTransport::Connect(&loop_, To("127.0.0.1", ntohs(a.sin_port)), &r);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.closed; }));
  EXPECT_FALSE(r.connected);
  EXPECT_NE(r.close_reason.message().find("refused"), std::string::npos)
      << r.close_reason.message();
}

TEST_F(TcpTransportTest, DestroyingInsideACallbackIsSafe) {
  fakemx::FakeMx mx(fakemx::Script{});
  Recorder r;
  std::unique_ptr<TcpTransport> t = TcpTransport::Connect(&loop_, To("127.0.0.1", mx.port()), &r);
  r.on_data = [&] { t.reset(); };
  ASSERT_TRUE(RunUntil(&loop_, [&] { return t == nullptr; }));
}

TEST_F(TcpTransportTest, PeerCloseIsReported) {
  fakemx::Script script;
  script.banner.close = true;
  fakemx::FakeMx mx(script);
  Recorder r;
  auto t = TcpTransport::Connect(&loop_, To("127.0.0.1", mx.port()), &r);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.closed; }));
  EXPECT_TRUE(r.connected);
  EXPECT_EQ(r.close_reason.code(), Status::Code::kIoError);
}

TEST_F(TcpTransportTest, ConnectTimeoutFires) {
  // A listener with a full backlog that never accepts: further SYNs are
  // dropped, so a connect hangs until our timeout.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(lfd, 0), 0);
  socklen_t len = sizeof(a);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    fillers.push_back(fd);
  }
  usleep(100000);
  Recorder r;
  ConnectOptions o = To("127.0.0.1", ntohs(a.sin_port));
  o.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto t = TcpTransport::Connect(&loop_, o, &r);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return r.closed || r.connected; }));
  for (int fd : fillers) close(fd);
  close(lfd);
  if (r.connected) GTEST_SKIP() << "the kernel accepted despite the full backlog";
  EXPECT_EQ(r.close_reason.code(), Status::Code::kTimeout) << r.close_reason.ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

}  // namespace
}  // namespace postino::net
