// submission_service.h: the whole submission listener as one object: the
// certificate, the 587-style (STARTTLS) and 465-style (implicit TLS)
// Listeners, the SubmissionHandler and its AUTH and store worker threads.
// `postino run` starts it on the engine's loop, `postino serve` on its own;
// both reload the certificate on SIGHUP (new sessions get the new one,
// running sessions keep theirs).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "inbound/listener.h"
#include "inbound/submission.h"
#include "inbound/submission_store.h"

namespace postino::inbound {

struct SubmissionServiceOptions {
  std::vector<std::string> listen;      // STARTTLS offered
  std::vector<std::string> tls_listen;  // implicit TLS
  std::string cert_file, key_file;      // PEM
  std::string hostname;
  smtp::ServerLimits limits;
  size_t max_connections = 1000;
  size_t max_connections_per_ip = 20;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds session_timeout{std::chrono::minutes(30)};
  int auth_threads = 2;
  int store_threads = 4;
  std::string database_url;
  AuthThrottleOptions throttle;
  // Benchmarks only (see SubmissionOptions): no AUTH, stored as this user.
  bool require_auth = true;
  std::string anonymous_user;
};

class SubmissionService {
 public:
  // Loads the certificate, connects the workers and binds every address.
  static Result<std::unique_ptr<SubmissionService>> Start(uv_loop_t* loop,
                                                          SubmissionServiceOptions options,
                                                          std::unique_ptr<SubmissionStore> store);
  ~SubmissionService();

  // Re-reads cert_file/key_file; on error the running certificate stays.
  Status ReloadCertificate();
  // Stops accepting, ends sessions with 421, finishes stores in flight,
  // then calls `done` on the loop.
  void Stop(std::function<void()> done);

  std::vector<uint16_t> listen_ports() const;
  std::vector<uint16_t> tls_ports() const;
  const SubmissionStats& stats() const;

 private:
  SubmissionService() = default;
  void OneStopped();

  uv_loop_t* loop_ = nullptr;
  SubmissionServiceOptions options_;
  std::unique_ptr<SubmissionStore> store_;
  std::unique_ptr<DbWorkers> auth_workers_;
  std::unique_ptr<DbWorkers> store_workers_;
  std::unique_ptr<SubmissionHandler> handler_;
  std::unique_ptr<Listener> plain_;
  std::unique_ptr<Listener> implicit_;
  int running_ = 0;
  std::function<void()> stop_done_;
};

// Reads a PEM certificate chain and key into a server TLS context; errors
// name the file.
Result<std::shared_ptr<tls::TlsContext>> LoadServerCertificate(const std::string& cert_file,
                                                               const std::string& key_file);

}  // namespace postino::inbound
