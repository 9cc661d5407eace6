// engine_fixture.cc: the engine test fixture, its shared helpers and the
// process helpers.
#include "tests/integration/engine/engine_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

namespace postino::testing {

using namespace std::chrono_literals;

void EngineTest::SetUp() {
  uv_loop_init(&loop_);
  std::string body =
      "From: sender@example.org\r\nTo: user@example.com\r\nSubject: test\r\n\r\nHello.\r\n"
      ".leading dot line\r\n";
  body_ = std::make_shared<const std::string>(body);
}

void EngineTest::TearDown() {
  if (engine_) {
    ShutdownEngine();
    engine_.reset();
  }
  for (int i = 0; i < 10; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  int rc = uv_loop_close(&loop_);
  if (rc != 0) {
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          ADD_FAILURE() << "leaked libuv handle of type " << uv_handle_type_name(h->type);
        },
        nullptr);
  }
}

delivery::EngineConfig EngineTest::BaseConfig() const {
  delivery::EngineConfig c;
  c.sources.push_back(delivery::Source{"ip1", "127.0.0.1", "client.postino.test", 1, ""});
  c.max_connections_per_destination = 2;
  c.max_messages_per_connection = 100;
  c.idle_timeout = 200ms;
  c.timeouts.connect = 2s;
  c.timeouts.banner = 2s;
  c.timeouts.ehlo = 2s;
  c.timeouts.starttls = 2s;
  c.timeouts.tls_handshake = 2s;
  c.timeouts.auth = 2s;
  c.timeouts.mail = 2s;
  c.timeouts.rcpt = 2s;
  c.timeouts.data = 2s;
  c.timeouts.body = 2s;
  c.timeouts.end_of_data = 2s;
  c.timeouts.rset = 2s;
  c.timeouts.quit = 2s;
  c.dns_timeout = 1s;
  return c;
}

delivery::Route EngineTest::StaticRoute(const std::string& domain, uint16_t port,
                                        smtp::TlsMode tls) {
  delivery::Route r;
  r.domain_pattern = domain;
  r.kind = delivery::Route::Kind::kStatic;
  r.host = "127.0.0.1";
  r.port = port;
  r.tls = tls;
  return r;
}

void EngineTest::StartEngine(delivery::EngineConfig config) {
  engine_ = std::make_unique<delivery::Engine>(
      &loop_, std::move(config), [this](delivery::Outcome o) { outcomes_.push_back(std::move(o)); });
}

void EngineTest::StartRoutedTo(const fakemx::FakeMx& mx, const std::string& domain) {
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute(domain, mx.port()));
  StartEngine(config);
}

void EngineTest::RecordPathEvents() {
  engine_->SetPathEventHandler([this](delivery::PathEvent e) {
    events_.push_back({std::chrono::steady_clock::now(), std::move(e)});
  });
}

uint64_t EngineTest::Send(const std::string& domain, const std::string& local,
                          const std::string& pool) {
  delivery::OutboundMessage m;
  m.mail_from = "bounces@example.org";
  m.recipients.push_back({next_id_++, local + "@" + domain, domain});
  m.data = body_;
  m.pool = pool;
  engine_->Submit(std::move(m));
  return next_id_ - 1;
}

std::vector<uint64_t> EngineTest::SendGroup(const std::vector<std::string>& rcpts,
                                            const std::string& pool) {
  delivery::OutboundMessage m;
  m.mail_from = "bounces@example.org";
  std::vector<uint64_t> ids;
  for (const std::string& r : rcpts) {
    ids.push_back(next_id_);
    m.recipients.push_back({next_id_++, r, r.substr(r.find('@') + 1)});
  }
  m.data = body_;
  m.pool = pool;
  engine_->Submit(std::move(m));
  return ids;
}

bool EngineTest::RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    uv_run(&loop_, UV_RUN_ONCE);
  }
  return true;
}

bool EngineTest::RunUntilGuarded(const std::function<bool()>& done,
                                 std::chrono::milliseconds limit) {
  // A guard timer keeps UV_RUN_ONCE from blocking past the deadline.
  uv_timer_t guard;
  uv_timer_init(&loop_, &guard);
  uv_timer_start(&guard, [](uv_timer_t*) {}, 20, 20);
  bool ok = RunUntil(done, limit);
  uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);
  return ok;
}

void EngineTest::RunFor(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  RunUntilGuarded([&] { return std::chrono::steady_clock::now() >= until; }, d + 1s);
}

bool EngineTest::WaitForOutcomes(size_t n, std::chrono::milliseconds limit) {
  return RunUntilGuarded([&] { return outcomes_.size() >= n; }, limit);
}

bool EngineTest::ShutdownEngine(std::chrono::milliseconds limit) {
  bool done = false;
  engine_->Shutdown([&] { done = true; });
  return RunUntilGuarded([&] { return done; }, limit);
}

const delivery::Outcome* EngineTest::OutcomeFor(uint64_t id) const {
  for (const auto& o : outcomes_) {
    if (o.id == id) return &o;
  }
  return nullptr;
}

Rate RateOf(const char* text) {
  auto r = ParseRate(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : Rate{};
}

bool SawCommand(const fakemx::FakeMx& mx, const std::string& prefix) {
  for (const auto& c : mx.connections()) {
    for (const auto& cmd : c.commands) {
      if (cmd.line.rfind(prefix, 0) == 0) return true;
    }
  }
  return false;
}

std::vector<SteadyTime> ReceivedFrom(const fakemx::FakeMx& mx, const std::string& peer) {
  std::vector<SteadyTime> out;
  for (const auto& m : mx.messages()) {
    if (m.accepted && m.peer == peer) out.push_back(m.received_at);
  }
  return out;
}

size_t MaxInWindow(std::vector<SteadyTime> times, std::chrono::nanoseconds window) {
  std::sort(times.begin(), times.end());
  size_t best = 0;
  size_t lo = 0;
  for (size_t hi = 0; hi < times.size(); ++hi) {
    while (times[hi] - times[lo] >= window) ++lo;
    best = std::max(best, hi - lo + 1);
  }
  return best;
}

Ticker::Ticker(uv_loop_t* loop, uint64_t ms, std::function<void()> fn) {
  box_ = new Box{{}, std::move(fn)};
  uv_timer_init(loop, &box_->timer);
  box_->timer.data = box_;
  uv_timer_start(
      &box_->timer, [](uv_timer_t* t) { static_cast<Box*>(t->data)->fn(); }, ms, ms);
}

Ticker::~Ticker() {
  uv_timer_stop(&box_->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&box_->timer),
           [](uv_handle_t* h) { delete static_cast<Box*>(h->data); });
}

ChildProcess::ChildProcess(std::vector<std::string> argv) {
  pid_ = fork();
  if (pid_ == 0) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(20ms);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

bool ChildProcess::running() const { return pid_ > 0 && kill(pid_, 0) == 0; }

}  // namespace postino::testing
