// returns_service.h: the intake listener for mail that comes back — DSN
// bounces to the VERP return paths and complaint (ARF/FBL) or mailto
// unsubscribe reports to the feedback addresses — on port 25 or behind an
// MX that forwards. It accepts only those recipients (550 5.1.1 otherwise,
// so it can never relay), needs no AUTH (mail servers send bounces), offers
// STARTTLS when a certificate is configured, and answers 250 only after
// inbound::returns::ProcessReturnedMessage has recorded the report in
// PostgreSQL (on a DB worker thread; 451 4.3.0 when the database fails, so
// the sending server retries). `postino run` starts it on the engine's loop,
// `postino serve` on its own.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "inbound/listener.h"
#include "inbound/returns/intake.h"

namespace postino::inbound {

class DbWorkers;

struct ReturnsServiceOptions {
  std::vector<std::string> listen;  // "IP:port"
  std::string hostname = "localhost";
  std::string cert_file, key_file;  // both set: STARTTLS offered
  smtp::ServerLimits limits;        // max_message_size from [returns]
  returns::ReturnsConfig intake;    // domains, addresses, secret, suppression rule
  std::string database_url;
  int threads = 2;
  size_t max_connections = 200;
  size_t max_connections_per_ip = 20;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds session_timeout{std::chrono::minutes(15)};
};

class ReturnsService {
 public:
  static Result<std::unique_ptr<ReturnsService>> Start(uv_loop_t* loop,
                                                       ReturnsServiceOptions options);
  ~ReturnsService();
  ReturnsService(const ReturnsService&) = delete;
  ReturnsService& operator=(const ReturnsService&) = delete;

  // Re-reads cert_file/key_file (SIGHUP); on error the running one stays.
  Status ReloadCertificate();
  // Stops accepting, ends sessions with 421, lets reports in flight finish,
  // then calls `done` on the loop.
  void Stop(std::function<void()> done);
  std::vector<uint16_t> ports() const;

  class Handler;

 private:
  ReturnsService() = default;
  ReturnsServiceOptions options_;
  std::unique_ptr<DbWorkers> workers_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<Listener> listener_;
};

}  // namespace postino::inbound
