// client_session.h: the SMTP client as a pure state machine (after
// OpenSMTPD's smtp_client.c). It does no I/O: the driver feeds it inputs
// (connected, bytes received, TLS ready, timeout, closed) and carries out the
// actions it queues (write bytes, start TLS, arm a timer, close, report a
// recipient's result, ask for the next transaction). Tests drive it with
// strings.
//
// CONTRACT shared by engine/smtp (implementation) and engine/delivery (driver).
// Extend it; do not change the meaning of what is here without updating both.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/smtp/reply.h"

namespace postino::smtp {

// SMTP phases; each has a timeout. Defaults follow RFC 5321 §4.5.3.2.
enum class Phase {
  kConnect,
  kBanner,
  kEhlo,
  kHelo,
  kStartTls,
  kTlsHandshake,
  kAuth,
  kMail,
  kRcpt,
  kData,
  kBody,
  kEndOfData,
  kRset,
  kQuit,
};
std::string_view PhaseName(Phase phase);

struct Timeouts {
  std::chrono::milliseconds connect{std::chrono::seconds(30)};
  std::chrono::milliseconds banner{std::chrono::minutes(5)};
  std::chrono::milliseconds ehlo{std::chrono::minutes(5)};
  std::chrono::milliseconds starttls{std::chrono::minutes(2)};
  std::chrono::milliseconds tls_handshake{std::chrono::minutes(1)};
  std::chrono::milliseconds auth{std::chrono::minutes(2)};
  std::chrono::milliseconds mail{std::chrono::minutes(5)};
  std::chrono::milliseconds rcpt{std::chrono::minutes(5)};
  std::chrono::milliseconds data{std::chrono::minutes(2)};
  std::chrono::milliseconds body{std::chrono::minutes(3)};  // per write of the body
  std::chrono::milliseconds end_of_data{std::chrono::minutes(10)};
  std::chrono::milliseconds rset{std::chrono::minutes(2)};
  std::chrono::milliseconds quit{std::chrono::seconds(30)};
  std::chrono::milliseconds For(Phase phase) const;
};

enum class TlsMode {
  kNone,           // never STARTTLS
  kOpportunistic,  // STARTTLS when offered; plain otherwise
  kRequired,       // STARTTLS must be offered and succeed, else the session fails (defer)
  kImplicit,       // the transport is already TLS when OnConnected() is called (port 465)
};

struct AuthCredentials {
  std::string username;
  std::string password;  // never logged
};

struct SessionParams {
  std::string helo_name;  // announced in EHLO/HELO
  TlsMode tls = TlsMode::kOpportunistic;
  std::optional<AuthCredentials> auth;
  bool auth_requires_tls = true;  // refuse to send credentials in plain text
  // Send credentials only over TLS whose certificate chain and name were
  // verified (TlsInfo::verified); else the session fails before AUTH with a
  // local 4.7.0 reply. The driver must run TLS with verification then.
  bool auth_requires_verified_tls = false;
  bool pipelining = true;         // use PIPELINING when the server offers it
  int max_transactions = 100;     // per connection; then QUIT
  Timeouts timeouts;
  // Named in this session's log lines: the caller's connection id and the
  // peer ("mx.example.com [192.0.2.1]:25"); 0 / "" = not given.
  uint64_t log_connection = 0;
  std::string log_host;
};

// EHLO keywords the client understands.
struct Capabilities {
  bool esmtp = false;  // EHLO accepted (false after HELO fallback)
  bool pipelining = false;
  bool starttls = false;
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool enhancedstatuscodes = false;
  bool auth_plain = false;
  bool auth_login = false;
  uint64_t size = 0;            // SIZE limit, 0 = none announced
  bool size_announced = false;  // SIZE keyword present (with or without a limit)
};

// One message to one or more recipients.
struct Transaction {
  uint64_t id = 0;                 // caller's id, echoed in results
  std::string mail_from;           // envelope sender (may be empty: null sender)
  std::vector<std::string> rcpts;  // envelope recipients
  // The message: RFC 5322 bytes with CRLF line ends, NOT dot-stuffed and
  // without the final ".". Shared so a retry need not copy it.
  std::shared_ptr<const std::string> data;
  bool smtputf8 = false;  // needs SMTPUTF8 (non-ASCII addresses)
  bool eightbit = false;  // body is 8BITMIME
};

struct TlsInfo {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
  bool verified = false;
};

struct Action {
  enum class Kind {
    kWrite,            // write `bytes` to the transport
    kStartTls,         // begin the TLS handshake; answer with OnTlsReady/OnTlsFailed
    kArmTimer,         // (re)arm the single session timer: `phase`, `timeout`
    kClose,            // close the transport; the session is over
    kRecipientResult,  // final result of one recipient: txn_id, rcpt_index, reply, phase
    kReady,            // idle, ready for Submit() or Quit()
  };
  Kind kind;
  std::string bytes;
  Phase phase = Phase::kConnect;
  std::chrono::milliseconds timeout{0};
  uint64_t txn_id = 0;
  size_t rcpt_index = 0;
  Reply reply;
};

class ClientSession {
 public:
  explicit ClientSession(SessionParams params);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Inputs.
  void Start();                          // before connecting: arms the connect timer
  void OnConnected();                    // TCP (or implicit TLS) is up; expect the banner
  void OnBytes(std::string_view bytes);  // bytes read from the peer, any split
  void OnTlsReady(const TlsInfo& info);
  void OnTlsFailed(std::string_view reason);
  void OnTimeout();                        // the armed timer fired
  void OnClosed(std::string_view reason);  // the peer or the network closed the connection

  // Start a transaction; only after a kReady action. Recipients each get one
  // kRecipientResult later, whatever happens (including connection loss).
  void Submit(Transaction txn);
  // End the session politely (QUIT) when idle.
  void Quit();
  // Fail every pending recipient with a local reply and close at once.
  void Abort(std::string_view reason);

  // Drains the queued actions, in order.
  std::vector<Action> TakeActions();

  bool finished() const;  // kClose was emitted
  const Capabilities& capabilities() const;
  const std::optional<TlsInfo>& tls() const;  // set once TLS is up
  int transactions_done() const;
  // The reply that ended the session early (banner refused, EHLO/TLS/AUTH
  // failure, 421, timeout, connection lost, protocol error, Abort), or
  // nullopt while healthy or after a clean QUIT. Recipients submitted after
  // the session ended get this reply at once.
  const std::optional<Reply>& failure() const;
  // The phase `failure()` happened in.
  Phase failure_phase() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace postino::smtp
