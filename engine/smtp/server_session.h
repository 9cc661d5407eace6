// server_session.h: the SMTP server side as a pure state machine (the
// mirror of client_session.h). It does no I/O: the driver (inbound/) feeds it
// inputs (connected, bytes, TLS ready, auth result, message stored, timeout)
// and carries out the actions it queues (write bytes, start TLS, close,
// verify credentials, store a message). Tests drive it with strings.
//
// What it enforces on its own: RFC 5321 command syntax and sequence, the
// ESMTP extensions it advertises (PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
// ENHANCEDSTATUSCODES, DSN, STARTTLS, AUTH PLAIN LOGIN), every bound of
// ServerLimits, no MAIL before AUTH when auth is required, and DATA that is
// strictly CRLF: a bare CR or LF anywhere in the message (every SMTP
// smuggling shape: "\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n", ...) refuses the
// whole message once the real "<CRLF>.<CRLF>" arrives; nothing is stored.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postino::smtp {

// One reply of the server: "250 2.1.0 Sender OK". `text` may hold several
// lines separated by '\n' (sent as a multi-line reply).
struct ServerReply {
  int code = 0;
  std::string enhanced;  // "2.1.0"; "" for none (the banner, 354)
  std::string text;

  // The reply on the wire: "code[-| ]enhanced text\r\n" per line.
  std::string Format() const;
  bool positive() const { return code >= 200 && code < 400; }
};

struct ServerLimits {
  uint64_t max_message_size = 50ull * 1024 * 1024;  // octets after dot-unstuffing
  size_t max_recipients = 100;                      // per message
  size_t max_commands = 10000;                      // per session
  size_t max_errors = 10;                           // 4xx/5xx replies; then 421 and close
  size_t max_pending_input = 256 * 1024;  // bytes buffered while waiting for a result
};

enum class ServerTls {
  kNone,      // plain text only; STARTTLS not offered
  kStartTls,  // plain text, STARTTLS offered (587)
  kImplicit,  // the connection is TLS from the first byte (465)
};

struct ServerParams {
  std::string hostname = "localhost";  // in the banner and EHLO reply
  ServerTls tls = ServerTls::kStartTls;
  bool auth_required = true;  // MAIL needs a successful AUTH first (530 5.7.0)
  bool auth_offered = true;   // AUTH PLAIN LOGIN advertised (only over TLS)
  ServerLimits limits;
};

// A recipient with its RFC 3461 parameters.
struct ServerRecipient {
  std::string address;  // without angle brackets
  std::string notify;   // "" (none given), "NEVER" or e.g. "SUCCESS,FAILURE"
  std::string orcpt;    // "rfc822;user@example.com" (xtext decoded), or ""
};

struct ServerEnvelope {
  std::string mail_from;  // "" = null sender <>
  std::string body;       // "7BIT" (default) or "8BITMIME"
  bool smtputf8 = false;
  std::string ret;    // "", "FULL" or "HDRS" (RFC 3461)
  std::string envid;  // xtext decoded, "" when absent
  std::optional<uint64_t> size;  // SIZE= the client declared
  std::vector<ServerRecipient> rcpts;
};

struct ServerAction {
  enum class Kind {
    kWrite,       // write `bytes`
    kStartTls,    // start the TLS handshake; answer with OnTlsReady (or close)
    kClose,       // close the connection; the session is over
    kVerifyAuth,  // check `username`/`password`; answer with OnAuthResult
    kMessage,     // store `envelope` + `data`; answer with OnMessageResult
  };
  Kind kind = Kind::kWrite;
  std::string bytes;
  std::string mechanism;  // kVerifyAuth: "PLAIN" or "LOGIN"
  std::string username;   // kVerifyAuth
  std::string password;   // kVerifyAuth; never log it
  ServerEnvelope envelope;  // kMessage
  std::string data;         // kMessage: the message, CRLF lines, unstuffed, no final "."
};

// Synchronous checks of the envelope (on the loop thread; must not block).
class ServerPolicy {
 public:
  virtual ~ServerPolicy() = default;
  // A refusal reply for MAIL FROM, or nullopt to accept.
  virtual std::optional<ServerReply> CheckSender(const ServerEnvelope& env) = 0;
  // A refusal reply for one RCPT TO, or nullopt to accept.
  virtual std::optional<ServerReply> CheckRecipient(const ServerEnvelope& env,
                                                    const ServerRecipient& rcpt) = 0;
};

class ServerSession {
 public:
  // `policy` may be null (accept every envelope); it must outlive the session.
  ServerSession(ServerParams params, ServerPolicy* policy);
  ~ServerSession();
  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  // Inputs.
  void OnConnected();                    // sends the 220 banner (after the TLS handshake for implicit TLS)
  void OnBytes(std::string_view bytes);  // from the peer, any split
  void OnTlsReady();                     // the STARTTLS handshake completed
  // The answer to kVerifyAuth: `ok`, or a refusal; `reply` overrides the
  // default (235 2.7.0 / 535 5.7.8), e.g. 454 4.7.0 when throttled. A 421
  // reply closes the session.
  void OnAuthResult(bool ok, std::optional<ServerReply> reply = std::nullopt);
  // The answer to kMessage: 250 only once durably stored; 4xx/5xx otherwise.
  void OnMessageResult(const ServerReply& reply);
  // Idle or session time ran out: 421 4.4.2 and close.
  void OnTimeout();
  // Ends the session with a 421 (shutdown, too many connections).
  void Shutdown(const ServerReply& reply);

  // Drains the queued actions, in order.
  std::vector<ServerAction> TakeActions();

  bool closed() const;
  bool tls_active() const;
  bool waiting() const;  // a kVerifyAuth or kMessage is outstanding
  const std::string& helo() const;
  bool esmtp() const;  // the client said EHLO (not HELO)
  const std::string& auth_user() const;  // "" until AUTH succeeded
  size_t messages_accepted() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Parses "<path> [params]" after "MAIL FROM:" / "RCPT TO:". Exposed for tests.
// Returns false when the path is malformed. `path` excludes the brackets,
// source routes are dropped.
bool ParseSmtpPath(std::string_view arg, std::string* path, std::string* params);
// RFC 3461 xtext decoding ("+2B" -> "+"); false when malformed.
bool DecodeXtext(std::string_view in, std::string* out);

}  // namespace postino::smtp
