// listener.h: inbound SMTP listeners on the one libuv loop. A Listener
// binds its addresses, accepts connections (plain with STARTTLS offered,
// plain only, or implicit TLS), runs one smtp::ServerSession per connection
// and enforces the per-listener limits: connections in total and per
// client IP, idle and total session time. What a message is for and where
// it goes is the InboundHandler's business: the submission service
// (inbound/submission.h) and the bounce intake (inbound/returns/) each
// bring their own.
//
// CONTRACT (CONTRACTS.md "Inbound SMTP listener"): InboundHandler and
// SessionInfo are shared by submit-server, returns and the lead.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/smtp/server_session.h"
#include "engine/tls/tls_context.h"

namespace postino::inbound {

// The envelope of one message, as the client gave it (MAIL/RCPT params too).
using Envelope = smtp::ServerEnvelope;

// Who is talking, for the handler's decisions and the Received header.
struct SessionInfo {
  uint64_t id = 0;          // unique per process
  std::string peer_ip;      // "192.0.2.7", "::1"
  std::string local_ip;
  std::string helo;         // EHLO/HELO argument ("" before it)
  bool esmtp = true;        // EHLO rather than HELO
  bool tls = false;         // the session is encrypted now
  std::string tls_version;  // "TLSv1.3" when tls
  std::string tls_cipher;
  std::string user;         // the authenticated user, "" before/without AUTH
};

// The answer to Authenticate: ok, or a refusal. `reply` overrides the
// default reply (235 2.7.0 / 535 5.7.8): 454 4.7.0 for a throttled user,
// 421 4.7.0 (closes the connection) for a locked-out client.
struct AuthOutcome {
  bool ok = false;
  std::optional<smtp::ServerReply> reply;
};

// Called on the loop thread; never blocks it (slow work runs on worker or
// DB threads and answers through the callbacks, on the loop). A callback
// may be called after the connection is gone: it is then ignored.
class InboundHandler {
 public:
  virtual ~InboundHandler() = default;
  // MAIL needs a successful AUTH first (530 5.7.0); AUTH is advertised (only
  // over TLS). The bounce intake says false.
  virtual bool RequiresAuth() const = 0;
  // Checks the credentials of AUTH PLAIN/LOGIN. Default: refuses (454).
  virtual void Authenticate(const SessionInfo& session, std::string user, std::string password,
                            std::function<void(AuthOutcome)> done);
  // MAIL FROM / RCPT TO checks: a refusal reply (code, enhanced, text), or
  // nullopt to accept.
  virtual std::optional<smtp::ServerReply> CheckSender(const SessionInfo& session,
                                                       const Envelope& env) = 0;
  virtual std::optional<smtp::ServerReply> CheckRecipient(const SessionInfo& session,
                                                          const Envelope& env,
                                                          const smtp::ServerRecipient& rcpt) = 0;
  // The whole message after DATA (CRLF lines, dot-unstuffed, no final ".").
  // `done` is called on the loop once it is durably stored (250) or refused
  // (4xx/5xx); the client gets nothing before.
  virtual void Accept(const SessionInfo& session, Envelope env, std::string bytes,
                      std::function<void(smtp::ServerReply)> done) = 0;
  // The connection ended (any reason); forget per-session state.
  virtual void SessionClosed(const SessionInfo& session) {}
};

enum class ListenerTls { kNone, kStartTls, kImplicit };

struct ListenerOptions {
  std::string name = "submission";   // in log lines
  std::vector<std::string> addresses;  // "127.0.0.1:587", "[::1]:587"; port 0 = any free port
  ListenerTls tls = ListenerTls::kStartTls;
  std::string hostname = "localhost";  // banner, EHLO, Received
  smtp::ServerLimits smtp;             // per session and message
  size_t max_connections = 1000;
  size_t max_connections_per_ip = 20;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds session_timeout{std::chrono::minutes(30)};
};

class Listener {
 public:
  // Binds and listens on every address (all or nothing). `tls` is required
  // for kStartTls and kImplicit. `handler` must outlive the listener.
  static Result<std::unique_ptr<Listener>> Start(uv_loop_t* loop, ListenerOptions options,
                                                 std::shared_ptr<tls::TlsContext> tls,
                                                 InboundHandler* handler);
  ~Listener();  // Stop() first; destroying a running listener aborts sessions
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // New sessions use this certificate; running ones keep theirs (SIGHUP).
  void SetTlsContext(std::shared_ptr<tls::TlsContext> tls);
  // Stops accepting, ends every session with 421 4.3.2 and calls `done` on
  // the loop once every handle is closed.
  void Stop(std::function<void()> done);

  size_t connections() const;
  // The bound ports, in the order of `addresses` (useful with port 0).
  std::vector<uint16_t> ports() const;

  class Impl;

 private:
  explicit Listener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postino::inbound
