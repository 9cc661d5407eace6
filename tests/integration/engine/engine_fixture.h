// engine_fixture.h: the one gtest fixture of the engine and shaping
// integration tests: runs a delivery Engine on its own libuv loop against
// fake MXs, smtp-sink or dnsmasq, collects Outcomes and PathEvents; plus the
// helpers those tests share (fake MX records, rate windows, a loop ticker).
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/rate.h"
#include "engine/delivery/engine.h"
#include "tests/fakemx/fake_mx.h"
#include "tests/support/process.h"  // FreePort, WaitForPort

namespace postino::testing {

using SteadyTime = std::chrono::steady_clock::time_point;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A config with one source (127.0.0.1) and short timeouts.
  delivery::EngineConfig BaseConfig() const;
  // A static route for `domain` to 127.0.0.1:port.
  static delivery::Route StaticRoute(const std::string& domain, uint16_t port,
                                     smtp::TlsMode tls = smtp::TlsMode::kOpportunistic);
  void StartEngine(delivery::EngineConfig config);
  // BaseConfig with a static route for `domain` to the fake MX, started.
  void StartRoutedTo(const fakemx::FakeMx& mx, const std::string& domain = "example.com");
  // Records every PathEvent in events_ (call after StartEngine).
  void RecordPathEvents();
  // Submits a message to rcpt@domain; returns its id.
  uint64_t Send(const std::string& domain, const std::string& local = "user",
                const std::string& pool = "");
  // Submits one message to every "local@domain" in `rcpts`; returns their
  // ids in order.
  std::vector<uint64_t> SendGroup(const std::vector<std::string>& rcpts,
                                  const std::string& pool = "");
  // Runs the loop until `n` outcomes arrived (or the time limit: test fails).
  bool WaitForOutcomes(size_t n, std::chrono::milliseconds limit = std::chrono::seconds(20));
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit);
  // Runs the loop for `d` (a guard timer keeps it from blocking longer).
  void RunFor(std::chrono::milliseconds d);
  // RunUntil with a guard timer, for waits on things other than Outcomes.
  bool RunUntilGuarded(const std::function<bool()>& done, std::chrono::milliseconds limit);
  // Shuts the engine down and runs the loop until it reports done.
  bool ShutdownEngine(std::chrono::milliseconds limit = std::chrono::seconds(20));
  const delivery::Outcome* OutcomeFor(uint64_t id) const;

  struct TimedEvent {
    SteadyTime at;
    delivery::PathEvent event;
  };

  uv_loop_t loop_;
  std::unique_ptr<delivery::Engine> engine_;
  std::vector<delivery::Outcome> outcomes_;
  std::vector<TimedEvent> events_;  // with RecordPathEvents
  uint64_t next_id_ = 1;
  std::shared_ptr<const std::string> body_;
};

// A rate from its text ("10/s"); fails the test when it does not parse.
Rate RateOf(const char* text);
// True when some connection to `mx` sent a command starting with `prefix`.
bool SawCommand(const fakemx::FakeMx& mx, const std::string& prefix);
// When `mx` accepted each message from `peer` (source address).
std::vector<SteadyTime> ReceivedFrom(const fakemx::FakeMx& mx, const std::string& peer);
// The most events in any window of length `window`.
size_t MaxInWindow(std::vector<SteadyTime> times, std::chrono::nanoseconds window);

// Runs `fn` every `ms` on the loop until destroyed.
class Ticker {
 public:
  Ticker(uv_loop_t* loop, uint64_t ms, std::function<void()> fn);
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  struct Box {
    uv_timer_t timer;
    std::function<void()> fn;
  };
  Box* box_;
};

// A child process, killed (SIGTERM, then SIGKILL) when destroyed.
class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();
  bool running() const;
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
};

}  // namespace postino::testing
