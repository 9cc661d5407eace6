// engine_fixture.h: a gtest fixture that runs a delivery Engine on its own
// libuv loop against fake MXs, smtp-sink or dnsmasq, and collects Outcomes.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/delivery/engine.h"

namespace postino::testing {

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
  // Shuts the engine down and runs the loop until it reports done.
  bool ShutdownEngine(std::chrono::milliseconds limit = std::chrono::seconds(20));
  const delivery::Outcome* OutcomeFor(uint64_t id) const;

  uv_loop_t loop_;
  std::unique_ptr<delivery::Engine> engine_;
  std::vector<delivery::Outcome> outcomes_;
  uint64_t next_id_ = 1;
  std::shared_ptr<const std::string> body_;
};

// Picks a free TCP port on 127.0.0.1.
uint16_t FreePort();
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
// Waits until something accepts TCP connections on 127.0.0.1:port.
bool WaitForPort(uint16_t port, std::chrono::milliseconds limit);

}  // namespace postino::testing
