// fake_mx.h: a scriptable fake SMTP server for tests. Listens on
// 127.0.0.x:<ephemeral>, one thread per connection with blocking sockets
// (independent of the engine's libuv code), answers each step from a script
// (any reply, delays, split segments, garbage, closing mid-DATA), offers
// STARTTLS or implicit TLS with a self-signed certificate generated at test
// time, and records what it received.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace postino::fakemx {

// A PEM certificate and key; the certificate names "localhost" and 127.0.0.1.
struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};
CertAndKey GenerateSelfSignedCert(const std::string& common_name = "localhost");

// How the server answers one step.
struct Step {
  std::string reply;  // "250 ok" or multi-line "250-a\r\n250 b"; CRLF appended unless raw
  bool raw = false;   // send `reply` byte for byte
  std::chrono::milliseconds delay{0};  // wait before answering
  bool close = false;                  // close the connection instead of answering (after delay)
  size_t split_at = 0;  // > 0: send the reply in two segments split here, 50 ms apart
  bool silent = false;  // never answer (the client must time out); the connection stays open
};

inline Step Reply(std::string text) { return Step{std::move(text)}; }

struct Script {
  Step banner = Reply("220 fakemx.test ESMTP");
  Step ehlo;  // reply empty = built from the keywords below
  std::vector<std::string> ehlo_keywords = {"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
                                            "SIZE 10240000"};
  bool offer_starttls = false;  // adds STARTTLS to EHLO (before TLS only)
  bool implicit_tls = false;    // TLS from the first byte (port 465 style)
  bool offer_auth = false;      // adds "AUTH PLAIN LOGIN"
  // AUTH LOGIN, and AUTH PLAIN without an initial response, prompt for the
  // credentials with 334 replies (as real servers do) before the `auth`
  // reply. Off: every AUTH is answered with `auth` at once.
  bool auth_prompts = false;
  Step helo = Reply("250 fakemx.test");
  Step starttls = Reply("220 2.0.0 Ready to start TLS");
  Step auth = Reply("235 2.7.0 Authentication successful");
  Step mail = Reply("250 2.1.0 Ok");
  Step rcpt = Reply("250 2.1.5 Ok");
  Step data = Reply("354 End data with <CR><LF>.<CR><LF>");
  Step end_of_data = Reply("250 2.0.0 Ok: queued");
  Step rset = Reply("250 2.0.0 Ok");
  Step noop = Reply("250 2.0.0 Ok");
  Step quit = Reply("221 2.0.0 Bye");
  // Close the connection after this many body bytes of a DATA (0 = never).
  size_t close_mid_data_after = 0;
  // Called for every command ("MAIL", "RCPT", "DATA", "EOD" for the end of
  // data, ...) with its argument and the connection's index (0-based); a
  // returned Step replaces the default one.
  std::function<std::optional<Step>(std::string_view verb, std::string_view arg, int connection)>
      override;
};

struct Command {
  std::string line;  // as received, without CRLF
  int read_index;    // which recv() on this connection delivered it (PIPELINING checks)
};

struct Message {
  std::string mail_from;  // the MAIL FROM argument, e.g. "<a@b>"
  std::vector<std::string> rcpts;
  std::string data;       // un-dot-stuffed, without the final "."
  std::string peer;       // client address
  bool tls = false;
  bool accepted = false;  // end-of-data reply was 2xx
  int connection = 0;
  std::chrono::steady_clock::time_point received_at;  // when the final "." arrived
};

struct ConnectionRecord {
  std::string peer;
  std::string ehlo_name;
  std::vector<Command> commands;
  bool tls = false;
  std::string auth_plain;  // decoded "\0user\0pass" of AUTH PLAIN
  // The mechanism named in the last AUTH, upper-cased ("PLAIN", "LOGIN").
  std::string auth_mechanism;
  // Decoded credentials of the last AUTH PLAIN (with or without an initial
  // response) or prompted AUTH LOGIN; empty when not received.
  std::string auth_user, auth_password;
  std::chrono::steady_clock::time_point opened_at;  // accepted
  std::chrono::steady_clock::time_point closed_at;  // closed (default value while open)
};

class FakeMx {
 public:
  // Listens on `address`:0 (or `port` when non-zero).
  explicit FakeMx(Script script, std::string address = "127.0.0.1", uint16_t port = 0);
  ~FakeMx();  // stops
  FakeMx(const FakeMx&) = delete;
  FakeMx& operator=(const FakeMx&) = delete;

  uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }
  const CertAndKey& cert() const { return cert_; }
  // Writes the certificate to a temporary file (for ca_file) and returns its path.
  std::string WriteCertFile() const;

  void Stop();

  // Snapshots of what was received so far.
  std::vector<Message> messages() const;
  std::vector<ConnectionRecord> connections() const;
  size_t accepted_messages() const;
  int total_connections() const { return total_connections_.load(); }
  int max_concurrent_connections() const { return max_concurrent_.load(); }
  int open_connections() const { return open_connections_.load(); }
  // The most connections from one client address open at the same time.
  int max_concurrent_from(const std::string& peer) const;
  // Waits until `n` messages were accepted or the timeout passes.
  bool WaitForMessages(size_t n, std::chrono::milliseconds timeout) const;

 private:
  void AcceptLoop();
  void Serve(int fd, int index);

  Script script_;
  std::string address_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  CertAndKey cert_;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::thread> threads_;
  std::vector<int> fds_;
  std::vector<Message> messages_;
  std::vector<ConnectionRecord> connections_;
  std::unordered_map<std::string, int> open_per_peer_;  // guarded by mu_
  std::unordered_map<std::string, int> max_per_peer_;   // guarded by mu_
  std::atomic<int> total_connections_{0};
  std::atomic<int> open_connections_{0};
  std::atomic<int> max_concurrent_{0};
};

}  // namespace postino::fakemx
