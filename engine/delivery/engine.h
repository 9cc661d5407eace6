// engine.h: the delivery engine facade used by `postino run` and the
// submission listener. It owns, on one libuv loop, the connection pools per
// egress path, the SMTP session drivers, the MX resolver and TLS. Callers
// submit messages on the loop thread and receive exactly one Outcome per
// message recipient.
//
// CONTRACT shared by engine/delivery (implementation) and cli/ (caller).
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/smtp/client_session.h"

namespace postino::delivery {

// Where the engine sends mail for a recipient domain.
struct Route {
  std::string domain_pattern;  // "example.com", "*.example.com" or "*" (most specific wins)
  enum class Kind { kMx, kStatic } kind = Kind::kMx;
  std::string host;            // kStatic: host name or IP literal
  uint16_t port = 25;          // kStatic: port
  smtp::TlsMode tls = smtp::TlsMode::kOpportunistic;
  std::optional<smtp::AuthCredentials> auth;  // smarthost credentials
  bool auth_requires_tls = true;
  // kRequired / kImplicit only: verify the certificate chain (system store +
  // EngineConfig::ca_file) and that it names `host` (or the MX host name).
  // Opportunistic TLS never verifies (it would fall back to plain anyway).
  bool tls_verify = true;
};

struct Source {
  std::string name;     // "ip1"
  std::string address;  // bind address, "127.0.0.10" or "::1"
  std::string ehlo;     // EHLO name announced from this source
  int weight = 1;
  std::string pool;     // pool this source belongs to ("" = only reachable by name)
};

struct EngineConfig {
  std::vector<Source> sources;           // at least one
  std::vector<Route> routes;             // no match => MX delivery
  std::vector<std::string> dns_servers;  // "127.0.0.1:5353"; empty = system resolv.conf
  uint16_t mx_port = 25;                 // port used for MX deliveries (override for tests)
  int max_connections_per_destination = 20;  // per (source, destination)
  int max_messages_per_connection = 100;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(5)};  // QUIT an idle connection
  smtp::Timeouts timeouts;
  std::string ca_file;                   // extra CA bundle for verification (tests); "" = system store
  // A host that failed before any transaction (refused, timeout, 4xx banner,
  // TLS) is skipped for this long; a host whose STARTTLS handshake failed is
  // retried once in plain text and remembered as plain-only as long.
  std::chrono::milliseconds host_failure_ttl{std::chrono::seconds(60)};
  std::chrono::milliseconds dns_timeout{std::chrono::seconds(5)};
};

struct OutboundMessage {
  uint64_t id = 0;                // caller's id (delivery row), echoed in the Outcome
  std::string mail_from;          // envelope sender
  std::string rcpt;               // envelope recipient
  std::string domain;             // recipient domain, lowercase, A-label (ASCII)
  std::shared_ptr<const std::string> data;  // RFC 5322 bytes, CRLF, not dot-stuffed
  std::string pool;               // source pool name ("" = all sources); matches
                                  // Source::pool, or Source::name for a single source
};

enum class Disposition {
  kDelivered,  // 2xx after end of data
  kDeferred,   // temporary: retry later
  kBounced,    // permanent: do not retry
};

struct Outcome {
  uint64_t id = 0;
  Disposition disposition = Disposition::kDeferred;
  smtp::Reply reply;           // the reply that decided it (possibly local)
  smtp::Phase phase = smtp::Phase::kConnect;  // where it was decided
  std::string source_address;  // "" when no connection was made
  std::string mx_host;         // host name or IP connected to
  std::string tls_version;     // "" when plain text
  std::string tls_cipher;
  std::chrono::system_clock::time_point finished_at;
};

class Engine {
 public:
  using OutcomeHandler = std::function<void(Outcome)>;

  // The loop must outlive the engine. The handler runs on the loop thread.
  Engine(uv_loop_t* loop, EngineConfig config, OutcomeHandler handler);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queue a message for delivery (loop thread only). Never blocks.
  void Submit(OutboundMessage message);
  // Messages submitted whose Outcome has not been reported yet.
  size_t in_flight() const;
  // Takes back every queued message (not yet handed to an SMTP session) for
  // which `pred(id)` is true, and returns their ids; no Outcome is reported
  // for them. Used to pause or cancel a campaign within a second.
  std::vector<uint64_t> Withdraw(const std::function<bool(uint64_t id)>& pred);
  // Stop taking new work: messages not yet handed to a session get a
  // kDeferred Outcome ("shutting down"), sessions finish their current
  // transaction and QUIT; `done` runs when every connection is closed.
  void Shutdown(std::function<void()> done);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace postino::delivery
