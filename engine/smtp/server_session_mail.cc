// server_session_mail.cc: ServerSession, part two: MAIL FROM and RCPT TO —
// path syntax (RFC 5321 §4.1.2), address checks (SMTPUTF8, RFC 6531), and
// the ESMTP parameters postino advertises: SIZE (RFC 1870), BODY (RFC 6152),
// SMTPUTF8, RET/ENVID/NOTIFY/ORCPT (RFC 3461), AUTH= (RFC 4954 §5).
#include <fmt/format.h>

#include <cctype>
#include <charconv>

#include "common/strings.h"
#include "engine/smtp/server_session.h"
#include "engine/smtp/server_session_impl.h"

namespace postino::smtp {

namespace {

bool IsAtext(unsigned char c, bool utf8) {
  if (c >= 0x80) return utf8;
  if (std::isalnum(c)) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

// Local part: dot-atom or quoted string. Domain: letters, digits, '-', '.'
// (UTF-8 with SMTPUTF8), or an address literal "[...]".
enum class AddressCheck { kOk, kSyntax, kNeedsUtf8 };

AddressCheck CheckAddress(std::string_view a, bool utf8) {
  bool non_ascii = false;
  for (char c : a) non_ascii |= static_cast<unsigned char>(c) >= 0x80;
  if (non_ascii && !utf8) {
    // Decide between "needs SMTPUTF8" and "malformed" with UTF-8 allowed.
    return CheckAddress(a, true) == AddressCheck::kOk ? AddressCheck::kNeedsUtf8
                                                      : AddressCheck::kSyntax;
  }
  if (a.size() > 320) return AddressCheck::kSyntax;
  size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return AddressCheck::kSyntax;
  std::string_view local = a.substr(0, at);
  std::string_view domain = a.substr(at + 1);
  if (local.size() > 64 && !utf8) return AddressCheck::kSyntax;
  if (local.front() == '"') {
    if (local.size() < 2 || local.back() != '"') return AddressCheck::kSyntax;
    for (size_t i = 1; i + 1 < local.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(local[i]);
      if (c == '\\') {
        if (++i + 1 >= local.size()) return AddressCheck::kSyntax;
        c = static_cast<unsigned char>(local[i]);
        if (c < 32 || c == 127) return AddressCheck::kSyntax;
        continue;
      }
      if (c < 32 || c == 127 || c == '"') return AddressCheck::kSyntax;
    }
  } else {
    if (local.front() == '.' || local.back() == '.' ||
        local.find("..") != std::string_view::npos) {
      return AddressCheck::kSyntax;
    }
    for (char c : local) {
      if (c != '.' && !IsAtext(static_cast<unsigned char>(c), utf8)) return AddressCheck::kSyntax;
    }
  }
  if (domain.front() == '[') {
    if (domain.back() != ']' || domain.size() < 3) return AddressCheck::kSyntax;
    for (char c : domain.substr(1, domain.size() - 2)) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '-')) {
        return AddressCheck::kSyntax;
      }
    }
    return AddressCheck::kOk;
  }
  if (domain.size() > 255 || domain.front() == '.' || domain.front() == '-' ||
      domain.find("..") != std::string_view::npos) {
    return AddressCheck::kSyntax;
  }
  for (char c : domain) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '.' || (u >= 0x80 && utf8))) {
      return AddressCheck::kSyntax;
    }
  }
  return AddressCheck::kOk;
}

// Splits "K=V K2" into (upper key, value, has '=') entries.
struct Param {
  std::string key;
  std::string_view value;
  bool has_value = false;
};

bool SplitParams(std::string_view text, std::vector<Param>* out) {
  while (!text.empty()) {
    size_t sp = text.find(' ');
    std::string_view item = text.substr(0, sp);
    text = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    Param p;
    p.key = AsciiLower(item.substr(0, eq));
    for (char& c : p.key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (p.key.empty()) return false;
    for (char c : p.key) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    }
    if (eq != std::string_view::npos) {
      p.value = item.substr(eq + 1);
      p.has_value = true;
      if (p.value.empty()) return false;
    }
    for (const Param& q : *out) {
      if (q.key == p.key) return false;  // duplicate parameter
    }
    out->push_back(std::move(p));
  }
  return true;
}

}  // namespace

bool DecodeXtext(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '+') {
      if (i + 2 >= in.size()) return false;
      int v = 0;
      for (int k = 1; k <= 2; ++k) {
        char h = in[i + k];
        v <<= 4;
        if (h >= '0' && h <= '9') {
          v |= h - '0';
        } else if (h >= 'A' && h <= 'F') {
          v |= h - 'A' + 10;
        } else {
          return false;
        }
      }
      out->push_back(static_cast<char>(v));
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return false;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  return true;
}

bool ParseSmtpPath(std::string_view arg, std::string* path, std::string* params) {
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);  // "FROM: <a>" is common
  if (arg.empty() || arg.front() != '<') return false;
  size_t i = 1;
  bool quoted = false;
  for (; i < arg.size(); ++i) {
    char c = arg[i];
    if (quoted && c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '>') break;
  }
  if (i >= arg.size()) return false;
  std::string_view inner = arg.substr(1, i - 1);
  std::string_view rest = arg.substr(i + 1);
  if (!rest.empty() && rest.front() != ' ') return false;
  if (!inner.empty() && inner.front() == '@') {  // source route "@a,@b:user@d" (RFC 5321 §4.1.2)
    size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return false;
    inner.remove_prefix(colon + 1);
  }
  *path = std::string(inner);
  *params = std::string(Trim(rest));
  return true;
}

void ServerSession::Impl::Mail(std::string_view arg) {
  if (helo_.empty()) return Reply(503, "5.5.1", "Send EHLO or HELO first");
  if (in_transaction_) return Reply(503, "5.5.1", "Nested MAIL command");
  if (params_.auth_required && auth_user_.empty()) {
    return Reply(530, "5.7.0", "Authentication required");
  }
  if (!StartsWithIgnoreCase(arg, "FROM:")) return Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>");
  std::string path, param_text;
  if (!ParseSmtpPath(arg.substr(5), &path, &param_text)) {
    return Reply(501, "5.1.7", "Bad sender address syntax");
  }
  std::vector<Param> params;
  if (!SplitParams(param_text, &params)) return Reply(501, "5.5.4", "Bad MAIL parameters");
  if (!params.empty() && !esmtp_) return Reply(555, "5.5.4", "MAIL parameters need EHLO");
  ServerEnvelope env;
  env.body = "7BIT";
  for (const Param& p : params) {
    if (p.key == "SIZE") {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
      if (!p.has_value || ec != std::errc() || end != p.value.data() + p.value.size()) {
        return Reply(501, "5.5.4", "Bad SIZE parameter");
      }
      if (n > params_.limits.max_message_size) {
        return Reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
      }
      env.size = n;
    } else if (p.key == "BODY") {
      if (EqualsIgnoreCase(p.value, "7BIT")) {
        env.body = "7BIT";
      } else if (EqualsIgnoreCase(p.value, "8BITMIME")) {
        env.body = "8BITMIME";
      } else {
        return Reply(555, "5.5.4", "Unsupported BODY type");
      }
    } else if (p.key == "SMTPUTF8") {
      if (p.has_value) return Reply(501, "5.5.4", "SMTPUTF8 takes no value");
      env.smtputf8 = true;
    } else if (p.key == "RET") {
      if (EqualsIgnoreCase(p.value, "FULL")) {
        env.ret = "FULL";
      } else if (EqualsIgnoreCase(p.value, "HDRS")) {
        env.ret = "HDRS";
      } else {
        return Reply(501, "5.5.4", "Bad RET parameter (FULL or HDRS)");
      }
    } else if (p.key == "ENVID") {
      if (!p.has_value || p.value.size() > 100 || !DecodeXtext(p.value, &env.envid)) {
        return Reply(501, "5.5.4", "Bad ENVID parameter");
      }
    } else if (p.key == "AUTH") {
      // RFC 4954 §5: the identity of a relayed message's submitter; a
      // submission server takes its own AUTH identity and ignores this one.
    } else {
      return Reply(555, "5.5.4", fmt::format("Unsupported parameter {}", p.key));
    }
  }
  env.mail_from = path;
  if (!path.empty()) {
    AddressCheck check = CheckAddress(path, env.smtputf8);
    if (check == AddressCheck::kNeedsUtf8) {
      return Reply(553, "5.6.7", "Non-ASCII address needs the SMTPUTF8 parameter");
    }
    if (check != AddressCheck::kOk) return Reply(553, "5.1.7", "Bad sender address syntax");
  }
  if (policy_ != nullptr) {
    if (std::optional<ServerReply> refused = policy_->CheckSender(env)) return Reply(*refused);
  }
  env_ = std::move(env);
  in_transaction_ = true;
  Reply(250, "2.1.0", "Sender OK");
}

void ServerSession::Impl::Rcpt(std::string_view arg) {
  if (!in_transaction_) return Reply(503, "5.5.1", "Send MAIL first");
  if (!StartsWithIgnoreCase(arg, "TO:")) return Reply(501, "5.5.4", "Syntax: RCPT TO:<address>");
  std::string path, param_text;
  if (!ParseSmtpPath(arg.substr(3), &path, &param_text) || path.empty()) {
    return Reply(501, "5.1.3", "Bad recipient address syntax");
  }
  std::vector<Param> params;
  if (!SplitParams(param_text, &params)) return Reply(501, "5.5.4", "Bad RCPT parameters");
  if (!params.empty() && !esmtp_) return Reply(555, "5.5.4", "RCPT parameters need EHLO");
  ServerRecipient rcpt;
  for (const Param& p : params) {
    if (p.key == "NOTIFY") {
      std::string v = AsciiLower(p.value);
      bool never = false, other = false, ok = p.has_value;
      std::string_view rest = v;
      std::string norm;
      while (ok && !rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (item == "never") {
          never = true;
        } else if (item == "success" || item == "failure" || item == "delay") {
          other = true;
        } else {
          ok = false;
        }
        if (!norm.empty()) norm += ',';
        norm += item;
      }
      if (!ok || (never && other) || norm.empty()) {
        return Reply(501, "5.5.4", "Bad NOTIFY parameter (NEVER, or SUCCESS,FAILURE,DELAY)");
      }
      for (char& c : norm) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      rcpt.notify = norm;
    } else if (p.key == "ORCPT") {
      size_t semi = p.value.find(';');
      std::string decoded;
      if (!p.has_value || semi == std::string_view::npos || semi == 0 || p.value.size() > 500 ||
          !DecodeXtext(p.value.substr(semi + 1), &decoded)) {
        return Reply(501, "5.5.4", "Bad ORCPT parameter (addr-type;xtext)");
      }
      rcpt.orcpt = std::string(p.value.substr(0, semi + 1)) + decoded;
    } else {
      return Reply(555, "5.5.4", fmt::format("Unsupported parameter {}", p.key));
    }
  }
  AddressCheck check = CheckAddress(path, env_.smtputf8);
  if (check == AddressCheck::kNeedsUtf8) {
    return Reply(553, "5.6.7", "Non-ASCII address needs the SMTPUTF8 parameter");
  }
  if (check != AddressCheck::kOk) return Reply(501, "5.1.3", "Bad recipient address syntax");
  if (env_.rcpts.size() >= params_.limits.max_recipients) {
    return Reply(452, "4.5.3", "Too many recipients");
  }
  rcpt.address = std::move(path);
  if (policy_ != nullptr) {
    if (std::optional<ServerReply> refused = policy_->CheckRecipient(env_, rcpt)) {
      return Reply(*refused);
    }
  }
  env_.rcpts.push_back(std::move(rcpt));
  Reply(250, "2.1.5", "Recipient OK");
}

}  // namespace postino::smtp
