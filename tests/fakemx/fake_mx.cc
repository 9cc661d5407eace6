// fake_mx.cc: the scriptable fake SMTP server (see fake_mx.h).
#include "tests/fakemx/fake_mx.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace postino::fakemx {

namespace {

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

void AddExt(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext != nullptr) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Base64Encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Base64Decode(std::string_view in) {
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return "";
  size_t len = static_cast<size_t>(n);
  if (in.size() >= 1 && in[in.size() - 1] == '=') --len;
  if (in.size() >= 2 && in[in.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

// One client connection: buffered line reads over a socket or TLS.
class Conn {
 public:
  explicit Conn(int fd) : fd_(fd) {}
  ~Conn() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }
  bool StartTls(SSL_CTX* ctx) {
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    buffer_.clear();
    if (SSL_accept(ssl_) != 1) {
      ERR_clear_error();
      return false;
    }
    return true;
  }
  bool tls() const { return ssl_ != nullptr; }
  // Reads one line (without CRLF); false on EOF/error. Lines longer than 1 MB fail.
  bool ReadLine(std::string* line) {
    for (;;) {
      size_t pos = buffer_.find("\r\n");
      if (pos != std::string::npos) {
        line->assign(buffer_, 0, pos);
        buffer_.erase(0, pos + 2);
        return true;
      }
      if (buffer_.size() > (1 << 20) || !Fill()) return false;
    }
  }
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()))
                                  : ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  int reads() const { return reads_; }
  size_t buffered() const { return buffer_.size(); }

 private:
  bool Fill() {
    char buf[16384];
    ssize_t n = ssl_ != nullptr ? SSL_read(ssl_, buf, sizeof(buf)) : ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    ++reads_;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  SSL* ssl_ = nullptr;
  std::string buffer_;
  int reads_ = 0;
};

}  // namespace

CertAndKey GenerateSelfSignedCert(const std::string& common_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) throw std::runtime_error("EVP_EC_gen failed");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(std::rand() % 100000 + 1));
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  std::string san = "DNS:" + common_name + ",IP:127.0.0.1";
  AddExt(cert, NID_subject_alt_name, san.c_str());
  AddExt(cert, NID_basic_constraints, "critical,CA:TRUE");
  X509_sign(cert, key, EVP_sha256());

  CertAndKey out;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  out.cert_pem = BioToString(bio);
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = BioToString(bio);
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

FakeMx::FakeMx(Script script, std::string address, uint16_t port)
    : script_(std::move(script)), address_(std::move(address)) {
  if (script_.offer_starttls || script_.implicit_tls) {
    cert_ = GenerateSelfSignedCert();
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    BIO* bio = BIO_new_mem_buf(cert_.cert_pem.data(), static_cast<int>(cert_.cert_pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    bio = BIO_new_mem_buf(cert_.key_pem.data(), static_cast<int>(cert_.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    ssl_ctx_ = ctx;
  }
  bool v6 = address_.find(':') != std::string::npos;
  listen_fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, address_.c_str(), &a->sin6_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, address_.c_str(), &a->sin_addr);
    len = sizeof(*a);
  }
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(listen_fd_, 512) != 0) {
    throw std::runtime_error("fakemx: cannot listen on " + address_ + ": " + strerror(errno));
  }
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = v6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
             : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

FakeMx::~FakeMx() {
  Stop();
  if (ssl_ctx_ != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

void FakeMx::Stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

std::string FakeMx::WriteCertFile() const {
  char path[] = "/tmp/fakemx-ca-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ssize_t n = ::write(fd, cert_.cert_pem.data(), cert_.cert_pem.size());
  (void)n;
  ::close(fd);
  return path;
}

std::vector<Message> FakeMx::messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_;
}

std::vector<ConnectionRecord> FakeMx::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

int FakeMx::max_concurrent_from(const std::string& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = max_per_peer_.find(peer);
  return it == max_per_peer_.end() ? 0 : it->second;
}

size_t FakeMx::accepted_messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(std::count_if(messages_.begin(), messages_.end(),
                                           [](const Message& m) { return m.accepted; }));
}

bool FakeMx::WaitForMessages(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return static_cast<size_t>(std::count_if(messages_.begin(), messages_.end(),
                                             [](const Message& m) { return m.accepted; })) >= n;
  });
}

void FakeMx::AcceptLoop() {
  while (!stopping_) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = ::accept(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    if (fd < 0) {
      if (stopping_) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    char ip[INET6_ADDRSTRLEN] = {0};
    if (ss.ss_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, ip, sizeof(ip));
    } else {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, ip, sizeof(ip));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    int index = static_cast<int>(connections_.size());
    ConnectionRecord record;
    record.peer = ip;
    record.opened_at = std::chrono::steady_clock::now();
    connections_.push_back(std::move(record));
    int from_peer = ++open_per_peer_[ip];
    int& peer_max = max_per_peer_[ip];
    peer_max = std::max(peer_max, from_peer);
    fds_.push_back(fd);
    ++total_connections_;
    int now = ++open_connections_;
    int prev = max_concurrent_.load();
    while (now > prev && !max_concurrent_.compare_exchange_weak(prev, now)) {
    }
    threads_.emplace_back([this, fd, index] { Serve(fd, index); });
  }
}

void FakeMx::Serve(int fd, int index) {
  Conn conn(fd);
  // Counts the session as over, once (at QUIT or when the connection ends).
  bool counted = true;
  auto end_session = [&] {
    if (!counted) return;
    counted = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      connections_[index].closed_at = std::chrono::steady_clock::now();
      --open_per_peer_[connections_[index].peer];
    }
    --open_connections_;
  };
  auto record_command = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    connections_[index].commands.push_back(Command{line, conn.reads()});
  };
  // Answers with a step; false when the connection should end.
  auto answer = [&](const Step& step) -> bool {
    if (step.delay.count() > 0) std::this_thread::sleep_for(step.delay);
    if (step.silent) {
      // Hold the connection open until the client gives up or we stop.
      std::string ignored;
      while (conn.ReadLine(&ignored)) {
      }
      return false;
    }
    if (step.close) return false;
    std::string bytes = step.reply;
    if (!step.raw) bytes += "\r\n";
    if (step.split_at > 0 && step.split_at < bytes.size()) {
      if (!conn.Send(std::string_view(bytes).substr(0, step.split_at))) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return conn.Send(std::string_view(bytes).substr(step.split_at));
    }
    return conn.Send(bytes);
  };
  auto pick = [&](const Step& def, std::string_view verb, std::string_view arg) -> Step {
    if (script_.override) {
      if (auto s = script_.override(verb, arg, index)) return *s;
    }
    return def;
  };
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx_);

  bool ok = true;
  if (script_.implicit_tls) {
    ok = conn.StartTls(ctx);
    std::lock_guard<std::mutex> lock(mu_);
    connections_[index].tls = ok;
  }
  if (ok) ok = answer(pick(script_.banner, "BANNER", ""));
  Message current;
  bool in_txn = false;
  std::string line;
  while (ok && conn.ReadLine(&line)) {
    record_command(line);
    std::string verb = Upper(line.substr(0, std::min<size_t>(line.find(' '), line.size())));
    std::string arg = line.size() > verb.size() + 1 ? line.substr(verb.size() + 1) : "";
    if (verb == "EHLO") {
      {
        std::lock_guard<std::mutex> lock(mu_);
        connections_[index].ehlo_name = arg;
      }
      Step step = pick(script_.ehlo, verb, arg);
      if (step.reply.empty() && !step.close && !step.silent) {
        std::vector<std::string> lines = {"fakemx.test"};
        for (const auto& k : script_.ehlo_keywords) lines.push_back(k);
        if (script_.offer_starttls && !conn.tls()) lines.push_back("STARTTLS");
        if (script_.offer_auth) lines.push_back("AUTH PLAIN LOGIN");
        for (size_t i = 0; i < lines.size(); ++i) {
          if (i > 0) step.reply += "\r\n";
          step.reply += "250" + std::string(i + 1 < lines.size() ? "-" : " ") + lines[i];
        }
      }
      ok = answer(step);
    } else if (verb == "HELO") {
      ok = answer(pick(script_.helo, verb, arg));
    } else if (verb == "STARTTLS") {
      Step step = pick(script_.starttls, verb, arg);
      ok = answer(step);
      if (ok && ctx != nullptr && step.reply.rfind("220", 0) == 0) {
        ok = conn.StartTls(ctx);
        std::lock_guard<std::mutex> lock(mu_);
        connections_[index].tls = ok;
      }
    } else if (verb == "AUTH") {
      size_t space = arg.find(' ');
      std::string mechanism = Upper(arg.substr(0, space));
      std::string initial = space == std::string::npos ? "" : arg.substr(space + 1);
      // Splits a decoded PLAIN message "authzid\0user\0pass" into the record.
      auto record_plain = [&](const std::string& decoded) {
        size_t a = decoded.find('\0');
        size_t b = a == std::string::npos ? a : decoded.find('\0', a + 1);
        std::lock_guard<std::mutex> lock(mu_);
        if (b != std::string::npos) {
          connections_[index].auth_user = decoded.substr(a + 1, b - a - 1);
          connections_[index].auth_password = decoded.substr(b + 1);
        }
      };
      // Sends a 334 prompt and reads the client's answer; false when the
      // connection ended or the client cancelled with "*" (then 501 is sent).
      auto prompt = [&](std::string_view text, std::string* answer_b64) -> bool {
        if (!answer(Reply("334 " + Base64Encode(text))) || !conn.ReadLine(answer_b64)) {
          ok = false;
          return false;
        }
        record_command(*answer_b64);
        if (*answer_b64 == "*") {
          ok = answer(Reply("501 5.7.0 Authentication cancelled"));
          return false;
        }
        return true;
      };
      {
        std::lock_guard<std::mutex> lock(mu_);
        connections_[index].auth_mechanism = mechanism;
      }
      if (Upper(arg).rfind("PLAIN ", 0) == 0) {
        std::string decoded = Base64Decode(arg.substr(6));
        {
          std::lock_guard<std::mutex> lock(mu_);
          connections_[index].auth_plain = decoded;
        }
        record_plain(decoded);
      } else if (script_.auth_prompts && mechanism == "PLAIN") {
        std::string response;
        if (!prompt("", &response)) continue;
        std::string decoded = Base64Decode(response);
        {
          std::lock_guard<std::mutex> lock(mu_);
          connections_[index].auth_plain = decoded;
        }
        record_plain(decoded);
      } else if (script_.auth_prompts && mechanism == "LOGIN") {
        std::string user_b64 = initial;
        std::string password_b64;
        if (user_b64.empty() && !prompt("Username:", &user_b64)) continue;
        if (!prompt("Password:", &password_b64)) continue;
        std::lock_guard<std::mutex> lock(mu_);
        connections_[index].auth_user = Base64Decode(user_b64);
        connections_[index].auth_password = Base64Decode(password_b64);
      }
      ok = answer(pick(script_.auth, verb, arg));
    } else if (verb == "MAIL") {
      current = Message{};
      current.mail_from = arg.size() > 5 ? arg.substr(5) : arg;  // after "FROM:"
      {
        std::lock_guard<std::mutex> lock(mu_);
        current.peer = connections_[index].peer;
      }
      current.tls = conn.tls();
      current.connection = index;
      Step step = pick(script_.mail, verb, arg);
      in_txn = step.reply.rfind("2", 0) == 0;
      ok = answer(step);
    } else if (verb == "RCPT") {
      Step step = pick(script_.rcpt, verb, arg);
      if (in_txn && step.reply.rfind("2", 0) == 0) current.rcpts.push_back(arg.substr(3));
      ok = answer(step);
    } else if (verb == "DATA") {
      Step step = pick(script_.data, verb, arg);
      bool go = in_txn && !current.rcpts.empty() && step.reply.rfind("354", 0) == 0;
      if (!in_txn || current.rcpts.empty()) step = Reply("554 5.5.1 Error: no valid recipients");
      ok = answer(step);
      if (!ok || !go) continue;
      std::string body;
      bool ended = false;
      while (conn.ReadLine(&line)) {
        if (line == ".") {
          ended = true;
          break;
        }
        if (!line.empty() && line[0] == '.') line.erase(0, 1);
        body += line;
        body += "\r\n";
        if (script_.close_mid_data_after > 0 && body.size() >= script_.close_mid_data_after) break;
      }
      if (!ended) {
        ok = false;
        break;
      }
      current.data = std::move(body);
      Step eod = pick(script_.end_of_data, "EOD", "");
      current.accepted = !eod.close && !eod.silent && eod.reply.rfind("2", 0) == 0;
      current.received_at = std::chrono::steady_clock::now();
      {
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(current);
      }
      cv_.notify_all();
      in_txn = false;
      ok = answer(eod);
    } else if (verb == "RSET") {
      in_txn = false;
      ok = answer(pick(script_.rset, verb, arg));
    } else if (verb == "NOOP") {
      ok = answer(pick(script_.noop, verb, arg));
    } else if (verb == "QUIT") {
      // The session ends with QUIT: stop counting it before answering, or a
      // client that opens its next connection as soon as it reads 221 would
      // be seen as one connection over its limit while this thread closes.
      end_session();
      answer(pick(script_.quit, verb, arg));
      break;
    } else {
      ok = answer(Reply("502 5.5.2 Error: command not recognized"));
    }
  }
  ::shutdown(fd, SHUT_RDWR);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ::close(fd);
    fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
  }
  end_session();
}

}  // namespace postino::fakemx
