// dsn.cc: building RFC 3464 delivery status notifications (see dsn.h).
#include "templates/dsn.h"

#include <fmt/format.h>

#include <cctype>

#include "common/utf8.h"
#include "templates/mime_encoding.h"

namespace postino::templates {

namespace {

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Header-safe text: no CR/LF/controls; non-ASCII kept (as valid UTF-8)
// only when `utf8`.
std::string Clean(std::string s, bool utf8) {
  if (utf8) s = SanitizeUtf8(s);
  NeutralizeHeaderText(&s);
  if (!utf8) {
    for (char& c : s) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  return s;
}

bool ValidStatus(std::string_view s) {
  // class "." subject "." detail: 2/4/5, 1-3 digits, 1-3 digits.
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  size_t dot = s.find('.', 2);
  if (dot == std::string_view::npos || dot == 2 || dot > 5) return false;
  std::string_view subject = s.substr(2, dot - 2), detail = s.substr(dot + 1);
  if (detail.empty() || detail.size() > 3) return false;
  for (char c : subject) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  for (char c : detail) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Appends "Name: value" folded at spaces to about kFoldColumns; a word too
// long for a line is cut so that no line passes kMaxLineOctets.
void AppendField(std::string_view name, std::string_view value, std::string* out) {
  std::string line = std::string(name) + ":";
  size_t col = line.size();
  out->append(line);
  size_t pos = 0;
  bool first = true;
  while (pos < value.size()) {
    while (pos < value.size() && value[pos] == ' ') ++pos;
    if (pos >= value.size()) break;
    size_t end = value.find(' ', pos);
    if (end == std::string_view::npos) end = value.size();
    std::string_view word = value.substr(pos, std::min<size_t>(end - pos, 900));
    pos = end;
    if (!first && col + 1 + word.size() > kFoldColumns) {
      out->append("\r\n");
      col = 0;
    }
    out->push_back(' ');
    out->append(word);
    col += 1 + word.size();
    first = false;
  }
  out->append("\r\n");
}

std::string Date(WallTime t) {
  std::string s;
  AppendRfc5322Date(t, &s);
  return s;
}

// "type;address" of an ORCPT, or "rfc822;address" for a bare address.
std::string AddressField(std::string_view typed, bool utf8) {
  std::string v = Clean(std::string(typed), utf8);
  size_t semi = v.find(';');
  if (semi == std::string::npos) return (IsAscii(v) ? "rfc822;" : "utf-8;") + v;
  std::string type = v.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type + ";" + v.substr(semi + 1);
}

// A boundary found nowhere in `content`.
std::string Boundary(const std::string& unique, const std::string& content) {
  std::string b = "=_postino_dsn_" + unique;
  for (char& c : b) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '=' && c != '_' && c != '.') c = '_';
  }
  while (content.find(b) != std::string::npos) b += "_x";
  return b;
}

std::string HumanText(const DsnSpec& spec, const std::string& action, bool header_only_by_size) {
  std::string t = fmt::format("This is the mail system at host {}.\n\n",
                              Clean(spec.reporting_mta, false));
  if (action == "failed") {
    t += "Your message could not be delivered to the recipient(s) listed below. This is a\n"
         "permanent error: the message will not be tried again.\n";
  } else if (action == "delayed") {
    t += "Your message has not been delivered yet to the recipient(s) listed below. It stays\n"
         "queued and is tried again; you will be told if it finally fails. There is no need\n"
         "to send it again.\n";
  } else {
    t += "Your message was handed over to the mail server(s) of the recipient(s) listed below.\n"
         "This report was requested with NOTIFY=SUCCESS.\n";
  }
  if (!spec.subject.empty()) t += "\nSubject: " + Clean(spec.subject, true) + "\n";
  t += "\n";
  for (const DsnRecipientReport& r : spec.recipients) {
    t += "<" + Clean(r.final_recipient, true) + ">: ";
    if (r.expired) t += "the message stayed in the queue too long. ";
    if (!r.remote_mta.empty()) t += "host " + Clean(r.remote_mta, true) + " said: ";
    if (r.smtp_code > 0) t += std::to_string(r.smtp_code) + " ";
    t += r.reply.empty() ? std::string(r.expired ? "" : "no reply") : Clean(r.reply, true);
    if (r.will_retry_until) t += " (retried until " + Date(*r.will_retry_until) + ")";
    t += "\n";
  }
  if (header_only_by_size) {
    t += "\nThe message was too large to be returned whole; only its header is attached.\n";
  }
  t += "\n-- \npostino\n";
  return t;
}

}  // namespace

std::string DsnStatus(const DsnRecipientReport& r) {
  if (r.action == "delivered" || r.action == "relayed") return "2.0.0";
  if (r.expired) return "4.4.7";  // the last reply stays in Diagnostic-Code
  if (ValidStatus(r.status) && (r.status[0] == '4' || r.action != "delayed")) return r.status;
  // The enhanced code a reply starts with ("5.1.1 user unknown").
  std::string_view reply = r.reply;
  size_t sp = reply.find(' ');
  std::string_view first = reply.substr(0, sp);
  if (ValidStatus(first) && (r.smtp_code == 0 || first[0] == '0' + r.smtp_code / 100)) {
    return std::string(first);
  }
  if (r.smtp_code >= 500 && r.smtp_code < 600) return "5.0.0";
  if (r.smtp_code >= 400 && r.smtp_code < 500) return "4.0.0";
  return r.action == "delayed" ? "4.0.0" : "5.0.0";
}

std::string MessageHeader(const std::string& message) {
  size_t end = message.find("\r\n\r\n");
  if (end != std::string::npos) return message.substr(0, end + 2);
  end = message.find("\n\n");
  if (end != std::string::npos) return message.substr(0, end + 1);
  return message;
}

std::string HeaderValue(const std::string& message, const std::string& name) {
  std::string header = MessageHeader(message);
  size_t pos = 0;
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string want = lower(name) + ":";
  while (pos < header.size()) {
    size_t eol = header.find('\n', pos);
    if (eol == std::string::npos) eol = header.size();
    if (lower(header.substr(pos, want.size())) == want) {
      std::string value = header.substr(pos + want.size(), eol - pos - want.size());
      size_t next = eol + 1;
      while (next < header.size() && (header[next] == ' ' || header[next] == '\t')) {
        size_t e = header.find('\n', next);
        if (e == std::string::npos) e = header.size();
        value += header.substr(next, e - next);
        next = e + 1;
      }
      std::string out;
      for (char c : value) {
        if (c == '\r' || c == '\n') continue;
        out += c == '\t' ? ' ' : c;
      }
      size_t b = out.find_first_not_of(' '), e = out.find_last_not_of(' ');
      return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
    }
    pos = eol + 1;
  }
  return std::string();
}

Result<BuiltDsn> BuildDsn(const DsnSpec& spec) {
  if (spec.recipients.empty()) return Status::InvalidArgument("a DSN needs a recipient to report");
  if (spec.to.empty()) {
    return Status::InvalidArgument("no DSN for a message with a null envelope sender");
  }
  const std::string action = spec.recipients.front().action;
  for (const DsnRecipientReport& r : spec.recipients) {
    if (r.action != action) {
      return Status::InvalidArgument(
          fmt::format("one DSN reports one action ({} and {} given)", action, r.action));
    }
    if (r.action != "failed" && r.action != "delayed" && r.action != "delivered" &&
        r.action != "relayed") {
      return Status::InvalidArgument(fmt::format("DSN action \"{}\" is not supported", r.action));
    }
  }
  // Internationalized addresses need message/global-delivery-status (RFC 6533).
  bool global = !IsAscii(spec.to);
  for (const DsnRecipientReport& r : spec.recipients) {
    global = global || !IsAscii(r.final_recipient) || !IsAscii(r.original_recipient);
  }

  BuiltDsn out;
  out.message_id = fmt::format("dsn.{}@{}", spec.unique, Clean(spec.message_id_domain, false));
  for (char& c : out.message_id) {
    if (c == ' ' || c == '<' || c == '>') c = '_';
  }

  // The report's parts.
  const bool full_wanted = spec.return_full;
  const bool full = full_wanted && spec.original.size() <= spec.full_limit;
  std::string returned = full ? spec.original : MessageHeader(spec.original);
  if (returned.size() >= 2 && returned.compare(returned.size() - 2, 2, "\r\n") != 0) {
    returned += "\r\n";
  }
  std::string text = HumanText(spec, action, full_wanted && !full);
  std::string status;
  AppendField("Reporting-MTA", "dns; " + Clean(spec.reporting_mta, false), &status);
  if (!spec.envid.empty()) AppendField("Original-Envelope-Id", Clean(spec.envid, false), &status);
  AppendField("Arrival-Date", Date(spec.arrival_date), &status);
  for (const DsnRecipientReport& r : spec.recipients) {
    status += "\r\n";
    if (!r.original_recipient.empty()) {
      AppendField("Original-Recipient", AddressField(r.original_recipient, global), &status);
    }
    AppendField("Final-Recipient", AddressField(r.final_recipient, global), &status);
    AppendField("Action", action, &status);
    AppendField("Status", DsnStatus(r), &status);
    if (!r.remote_mta.empty()) {
      AppendField("Remote-MTA", "dns; " + Clean(r.remote_mta, false), &status);
    }
    if (r.smtp_code > 0) {
      std::string reply = Clean(r.reply, global);
      AppendField("Diagnostic-Code",
                  fmt::format("smtp; {}{}{}", r.smtp_code, reply.empty() ? "" : " ", reply),
                  &status);
    }
    if (r.last_attempt) AppendField("Last-Attempt-Date", Date(*r.last_attempt), &status);
    if (action == "delayed" && r.will_retry_until) {
      AppendField("Will-Retry-Until", Date(*r.will_retry_until), &status);
    }
  }
  const std::string boundary = Boundary(spec.unique, returned + text + status);

  std::string& m = out.bytes;
  AppendField("Date", Date(spec.now), &m);
  AppendMailboxHeader("From", "Mail Delivery System", Clean(spec.from, global), &m);
  m += "To: <" + Clean(spec.to, global) + ">\r\n";
  AppendUnstructuredHeader("Subject",
                           action == "failed"    ? "Undelivered Mail Returned to Sender"
                           : action == "delayed" ? "Delayed Mail (still being retried)"
                                                 : "Successful Mail Delivery Report",
                           &m);
  m += "Message-ID: <" + out.message_id + ">\r\n";
  m += "Auto-Submitted: auto-replied\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=delivery-status;\r\n"
       "\tboundary=\"" + boundary + "\"\r\n";
  m += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";

  m += "--" + boundary + "\r\n";
  m += "Content-Description: Notification\r\n";
  if (IsAscii(text)) {
    m += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
    for (char c : text) {
      if (c == '\n') m += "\r\n";
      else m += c;
    }
  } else {
    m += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
    AppendQuotedPrintable(text, &m);
    m += "\r\n";
  }
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Description: Delivery report\r\n";
  m += global ? "Content-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: 8bit\r\n"
              : "Content-Type: message/delivery-status\r\n";
  m += "\r\n" + status;
  m += "\r\n--" + boundary + "\r\n";
  const bool eight_bit = !IsAscii(returned);
  if (full) {
    m += "Content-Description: Undelivered Message\r\n";
    m += "Content-Type: message/rfc822\r\n";
  } else {
    m += "Content-Description: Undelivered Message Headers\r\n";
    m += "Content-Type: text/rfc822-headers\r\n";
  }
  if (eight_bit) m += "Content-Transfer-Encoding: 8bit\r\n";
  m += "\r\n" + returned;
  m += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace postino::templates
