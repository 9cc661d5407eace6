// server_session.cc: ServerSession (see server_session.h), part one: the
// input loop (command lines, bounds), the command table, EHLO/HELO,
// STARTTLS, AUTH PLAIN/LOGIN and the small commands. MAIL/RCPT are in
// server_session_mail.cc, the DATA stream in server_session_data.cc.
#include "engine/smtp/server_session.h"

#include <fmt/format.h>

#include "common/strings.h"
#include "engine/smtp/server_session_impl.h"

namespace postino::smtp {

namespace {

constexpr size_t kMaxCommandLine = 512;  // RFC 5321 §4.5.3.1.4, CRLF included
constexpr size_t kMaxAuthLine = 12288;   // RFC 4954 §4

}  // namespace

std::string ServerReply::Format() const {
  std::string out;
  std::string_view rest = text;
  std::string prefix = enhanced.empty() ? std::string() : enhanced + " ";
  while (true) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    bool last = nl == std::string_view::npos;
    out += fmt::format("{}{}{}", code, last ? ' ' : '-', prefix);
    for (char c : line) out += (c == '\r' || c == '\0') ? ' ' : c;
    out += "\r\n";
    if (last) break;
    rest.remove_prefix(nl + 1);
  }
  return out;
}

bool DecodeBase64(std::string_view in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->clear();
  if (in.size() % 4 != 0) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return false;  // data after '='
      v[k] = value(c);
      if (v[k] < 0) return false;
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

std::string EncodeBase64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

ServerSession::Impl::Impl(ServerParams params, ServerPolicy* policy)
    : params_(std::move(params)), policy_(policy) {
  tls_ = params_.tls == ServerTls::kImplicit;
}

void ServerSession::Impl::Reply(int code, std::string_view enhanced, std::string_view text) {
  Reply(ServerReply{code, std::string(enhanced), std::string(text)});
}

void ServerSession::Impl::Reply(const ServerReply& r) {
  if (state_ == State::kClosed) return;
  out_ += r.Format();
  // "Too many recipients" is flow control (the client sends the rest in a
  // later transaction), not a client error.
  bool counts = r.code >= 400 && r.code != 421 && r.enhanced != "4.5.3";
  if (counts && ++errors_ >= params_.limits.max_errors) {
    out_ += ServerReply{421, "4.7.0", params_.hostname + " Too many errors, closing connection"}
                .Format();
    Close();
  }
}

void ServerSession::Impl::Close() {
  if (state_ == State::kClosed) return;
  Flush();
  actions_.push_back(MakeAction(ServerAction::Kind::kClose));
  state_ = State::kClosed;
  in_.clear();
  in_pos_ = 0;
  data_ = std::string();
}

void ServerSession::Impl::ResetTransaction() {
  in_transaction_ = false;
  env_ = ServerEnvelope{};
  data_ = std::string();
}

void ServerSession::Impl::OnConnected() {
  if (state_ != State::kStart) return;
  state_ = State::kCommand;
  Reply(220, "", params_.hostname + " ESMTP postino");
  Process();
}

void ServerSession::Impl::OnBytes(std::string_view bytes) {
  if (state_ == State::kClosed || state_ == State::kStart || state_ == State::kTlsWait) return;
  in_.append(bytes);
  Process();
}

void ServerSession::Impl::OnTlsReady() {
  if (state_ != State::kTlsWait) return;
  tls_ = true;
  helo_.clear();
  esmtp_ = false;
  auth_user_.clear();
  ResetTransaction();
  in_.clear();
  in_pos_ = 0;
  state_ = State::kCommand;
}

void ServerSession::Impl::OnAuthResult(bool ok, std::optional<ServerReply> reply) {
  if (state_ != State::kAuthWait) return;
  state_ = State::kCommand;
  if (ok) {
    auth_user_ = std::move(login_user_);
    Reply(reply.value_or(ServerReply{235, "2.7.0", "Authentication successful"}));
  } else {
    ServerReply r = reply.value_or(ServerReply{535, "5.7.8", "Authentication credentials invalid"});
    Reply(r);
    if (r.code == 421) Close();
  }
  login_user_.clear();
  Process();
}

void ServerSession::Impl::OnMessageResult(const ServerReply& reply) {
  if (state_ != State::kStoreWait) return;
  state_ = State::kCommand;
  if (reply.positive()) ++accepted_;
  ResetTransaction();
  Reply(reply);
  if (reply.code == 421) Close();
  Process();
}

void ServerSession::Impl::OnTimeout() {
  Shutdown(ServerReply{421, "4.4.2", params_.hostname + " Error: timeout exceeded"});
}

void ServerSession::Impl::Shutdown(const ServerReply& reply) {
  if (state_ == State::kClosed) return;
  out_ += reply.Format();
  Close();
}

void ServerSession::Impl::Process() {
  while (state_ == State::kCommand || state_ == State::kData || state_ == State::kAuthPlain ||
         state_ == State::kAuthUser || state_ == State::kAuthPass) {
    if (state_ == State::kData) {
      if (!ScanData()) break;
      FinishData();
      continue;
    }
    std::string_view pending(in_.data() + in_pos_, in_.size() - in_pos_);
    size_t cap = state_ != State::kCommand || StartsWithIgnoreCase(pending, "AUTH ")
                     ? kMaxAuthLine
                     : kMaxCommandLine;
    size_t lf = pending.find('\n');
    if (lf == std::string_view::npos) {
      if (pending.size() >= cap) {
        if (!discard_line_) Reply(500, "5.5.2", "Line too long");
        discard_line_ = true;
        in_pos_ = in_.size();
      }
      break;
    }
    std::string_view raw = pending.substr(0, lf);
    in_pos_ += lf + 1;
    if (discard_line_) {
      discard_line_ = false;
      continue;
    }
    if (raw.size() + 1 > cap) {
      Reply(500, "5.5.2", "Line too long");
      continue;
    }
    if (raw.empty() || raw.back() != '\r') {
      Reply(500, "5.5.2", "Syntax error: lines must end with CRLF (bare LF)");
      if (state_ != State::kCommand) Enter(State::kCommand);
      continue;
    }
    std::string_view line = raw.substr(0, raw.size() - 1);
    if (line.find('\r') != std::string_view::npos || line.find('\0') != std::string_view::npos) {
      Reply(500, "5.5.2", "Syntax error: bare CR or NUL in a command line");
      if (state_ != State::kCommand) Enter(State::kCommand);
      continue;
    }
    if (state_ == State::kCommand) {
      Command(line);
    } else {
      AuthLine(line);
    }
  }
  if (state_ == State::kClosed) return;
  if (in_pos_ > 0) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  if (in_.size() > params_.limits.max_pending_input) {
    Shutdown(ServerReply{421, "4.7.0", params_.hostname + " Too much pipelined input"});
    return;
  }
  Flush();
}

void ServerSession::Impl::Command(std::string_view line) {
  if (++commands_ > params_.limits.max_commands) {
    Shutdown(ServerReply{421, "4.7.0", params_.hostname + " Too many commands, closing connection"});
    return;
  }
  size_t sp = line.find(' ');
  std::string_view verb = line.substr(0, sp);
  std::string_view arg = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  auto is = [&](std::string_view name) { return EqualsIgnoreCase(verb, name); };
  if (is("EHLO") || is("HELO")) {
    Ehlo(Trim(arg), is("EHLO"));
  } else if (is("MAIL")) {
    Mail(arg);
  } else if (is("RCPT")) {
    Rcpt(arg);
  } else if (is("DATA")) {
    Data(arg);
  } else if (is("RSET")) {
    if (!Trim(arg).empty()) return Reply(501, "5.5.4", "Syntax: RSET");
    ResetTransaction();
    Reply(250, "2.0.0", "Reset OK");
  } else if (is("NOOP")) {
    Reply(250, "2.0.0", "OK");
  } else if (is("QUIT")) {
    Reply(221, "2.0.0", params_.hostname + " Bye");
    Close();
  } else if (is("STARTTLS")) {
    StartTls(arg);
  } else if (is("AUTH")) {
    Auth(arg);
  } else if (is("VRFY")) {
    if (Trim(arg).empty()) return Reply(501, "5.5.4", "Syntax: VRFY address");
    Reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
  } else if (is("EXPN")) {
    Reply(502, "5.5.1", "EXPN not available");
  } else if (is("HELP")) {
    Reply(214, "2.0.0",
          "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP VRFY HELP QUIT");
  } else if (is("BDAT") || is("ETRN") || is("TURN") || is("ATRN")) {
    Reply(502, "5.5.1", "Command not implemented");
  } else {
    Reply(500, "5.5.1", "Command unrecognized");
  }
}

void ServerSession::Impl::Ehlo(std::string_view arg, bool extended) {
  if (arg.empty() || arg.find(' ') != std::string_view::npos) {
    return Reply(501, "5.5.4", extended ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
  }
  ResetTransaction();
  helo_ = std::string(arg);
  esmtp_ = extended;
  if (!extended) return Reply(250, "", params_.hostname);
  std::string text = fmt::format("{} Hello {}\nPIPELINING\nSIZE {}\n8BITMIME\nSMTPUTF8\n"
                                 "ENHANCEDSTATUSCODES\nDSN",
                                 params_.hostname, helo_, params_.limits.max_message_size);
  if (params_.tls == ServerTls::kStartTls && !tls_) text += "\nSTARTTLS";
  if (params_.auth_offered && tls_) text += "\nAUTH PLAIN LOGIN";
  Reply(250, "", text);
}

void ServerSession::Impl::StartTls(std::string_view arg) {
  if (params_.tls != ServerTls::kStartTls) return Reply(502, "5.5.1", "STARTTLS not available");
  if (tls_) return Reply(503, "5.5.1", "TLS already active");
  if (!arg.empty()) return Reply(501, "5.5.4", "Syntax: STARTTLS");
  Reply(220, "2.0.0", "Ready to start TLS");
  // Whatever the client pipelined after STARTTLS was sent in plain text and
  // must not be taken as said over TLS (the STARTTLS injection attack).
  in_.clear();
  in_pos_ = 0;
  Flush();
  actions_.push_back(MakeAction(ServerAction::Kind::kStartTls));
  state_ = State::kTlsWait;
}

void ServerSession::Impl::Auth(std::string_view arg) {
  if (!params_.auth_offered) return Reply(502, "5.5.1", "AUTH not available");
  if (helo_.empty()) return Reply(503, "5.5.1", "Send EHLO first");
  if (!tls_) {
    return Reply(538, "5.7.11", "Encryption required for requested authentication mechanism");
  }
  if (!auth_user_.empty()) return Reply(503, "5.5.1", "Already authenticated");
  if (in_transaction_) return Reply(503, "5.5.1", "AUTH not permitted during a mail transaction");
  size_t sp = arg.find(' ');
  std::string_view mech = arg.substr(0, sp);
  std::string_view initial = sp == std::string_view::npos ? std::string_view() : arg.substr(sp + 1);
  if (initial.find(' ') != std::string_view::npos) return Reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
  if (EqualsIgnoreCase(mech, "PLAIN")) {
    if (initial.empty()) {
      Reply(334, "", "");
      Enter(State::kAuthPlain);
      return;
    }
    return AuthPlain(initial == "=" ? std::string_view() : initial);
  }
  if (EqualsIgnoreCase(mech, "LOGIN")) {
    if (initial.empty()) {
      Reply(334, "", "VXNlcm5hbWU6");  // "Username:"
      Enter(State::kAuthUser);
      return;
    }
    if (!DecodeBase64(initial == "=" ? std::string_view() : initial, &login_user_)) {
      return Reply(501, "5.5.2", "Invalid base64 data");
    }
    Reply(334, "", "UGFzc3dvcmQ6");  // "Password:"
    Enter(State::kAuthPass);
    return;
  }
  Reply(504, "5.5.4", "Unrecognized authentication mechanism");
}

void ServerSession::Impl::AuthLine(std::string_view line) {
  State was = state_;
  state_ = State::kCommand;
  if (line == "*") {
    login_user_.clear();
    return Reply(501, "5.0.0", "Authentication cancelled");
  }
  if (was == State::kAuthPlain) return AuthPlain(line);
  std::string decoded;
  if (!DecodeBase64(line, &decoded)) {
    login_user_.clear();
    return Reply(501, "5.5.2", "Invalid base64 data");
  }
  if (was == State::kAuthUser) {
    login_user_ = std::move(decoded);
    Reply(334, "", "UGFzc3dvcmQ6");
    Enter(State::kAuthPass);
    return;
  }
  if (login_user_.empty()) return Reply(501, "5.5.2", "Empty user name");
  ServerAction a = MakeAction(ServerAction::Kind::kVerifyAuth);
  a.mechanism = "LOGIN";
  a.username = login_user_;
  a.password = std::move(decoded);
  Flush();
  actions_.push_back(std::move(a));
  state_ = State::kAuthWait;
}

void ServerSession::Impl::AuthPlain(std::string_view b64) {
  std::string decoded;
  if (!DecodeBase64(b64, &decoded)) return Reply(501, "5.5.2", "Invalid base64 data");
  size_t a = decoded.find('\0');
  size_t b = a == std::string::npos ? a : decoded.find('\0', a + 1);
  if (b == std::string::npos || decoded.find('\0', b + 1) != std::string::npos) {
    return Reply(501, "5.5.2", "Invalid PLAIN response");
  }
  std::string authzid = decoded.substr(0, a);
  std::string authcid = decoded.substr(a + 1, b - a - 1);
  if (authcid.empty()) return Reply(501, "5.5.2", "Empty user name");
  if (!authzid.empty() && authzid != authcid) {
    return Reply(535, "5.7.8", "Authentication credentials invalid");
  }
  ServerAction act = MakeAction(ServerAction::Kind::kVerifyAuth);
  act.mechanism = "PLAIN";
  act.username = authcid;
  act.password = decoded.substr(b + 1);
  login_user_ = authcid;
  Flush();
  actions_.push_back(std::move(act));
  state_ = State::kAuthWait;
}

// ServerSession: the public face.
ServerSession::ServerSession(ServerParams params, ServerPolicy* policy)
    : impl_(std::make_unique<Impl>(std::move(params), policy)) {}
ServerSession::~ServerSession() = default;
void ServerSession::OnConnected() { impl_->OnConnected(); }
void ServerSession::OnBytes(std::string_view bytes) { impl_->OnBytes(bytes); }
void ServerSession::OnTlsReady() { impl_->OnTlsReady(); }
void ServerSession::OnAuthResult(bool ok, std::optional<ServerReply> reply) {
  impl_->OnAuthResult(ok, std::move(reply));
}
void ServerSession::OnMessageResult(const ServerReply& reply) { impl_->OnMessageResult(reply); }
void ServerSession::OnTimeout() { impl_->OnTimeout(); }
void ServerSession::Shutdown(const ServerReply& reply) { impl_->Shutdown(reply); }
std::vector<ServerAction> ServerSession::TakeActions() {
  std::vector<ServerAction> out;
  out.swap(impl_->actions_);
  return out;
}
bool ServerSession::closed() const { return impl_->state_ == Impl::State::kClosed; }
bool ServerSession::tls_active() const { return impl_->tls_; }
bool ServerSession::waiting() const {
  return impl_->state_ == Impl::State::kAuthWait || impl_->state_ == Impl::State::kStoreWait;
}
const std::string& ServerSession::helo() const { return impl_->helo_; }
bool ServerSession::esmtp() const { return impl_->esmtp_; }
const std::string& ServerSession::auth_user() const { return impl_->auth_user_; }
size_t ServerSession::messages_accepted() const { return impl_->accepted_; }

}  // namespace postino::smtp
