// headers.cc: Received, Message-ID and Date for submitted messages (see
// headers.h).
#include "inbound/headers.h"

#include <fmt/format.h>
#include <sys/random.h>

#include <ctime>

#include "common/strings.h"

namespace postino::inbound {

namespace {

// The value of the first `name:` header of the header section, or nullopt.
std::optional<std::string> FindHeader(std::string_view msg, std::string_view name) {
  size_t pos = 0;
  while (pos < msg.size()) {
    size_t eol = msg.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = msg.size();
    std::string_view line = msg.substr(pos, eol - pos);
    if (line.empty()) break;  // end of the header section
    if (line.size() > name.size() && line[name.size()] == ':' &&
        StartsWithIgnoreCase(line, name)) {
      std::string value(Trim(line.substr(name.size() + 1)));
      // Unfold continuation lines.
      size_t next = eol + 2;
      while (next < msg.size() && (msg[next] == ' ' || msg[next] == '\t')) {
        size_t e = msg.find("\r\n", next);
        if (e == std::string_view::npos) e = msg.size();
        value.push_back(' ');
        value.append(Trim(msg.substr(next, e - next)));
        next = e + 2;
      }
      return value;
    }
    pos = eol + 2;
  }
  return std::nullopt;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  std::string out;
  for (unsigned char c : raw) out += fmt::format("{:02x}", c);
  return out;
}

}  // namespace

std::string Rfc5322Date(WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02d} {} {} {:02d}:{:02d}:{:02d} +0000", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

AddedHeaders AddSubmissionHeaders(std::string_view message, const SessionInfo& s,
                                  const Envelope& env, std::string_view hostname,
                                  std::string_view id, WallTime now) {
  // RFC 3848 / RFC 6531 protocol names.
  std::string with = env.smtputf8 ? "UTF8SMTP" : (s.esmtp ? "ESMTP" : "SMTP");
  if (s.esmtp || env.smtputf8) {
    if (s.tls) with += "S";
    if (!s.user.empty()) with += "A";
  }
  std::string helo;
  for (char c : s.helo) helo += (static_cast<unsigned char>(c) < 0x21 || c == '(' || c == ')') ? '_' : c;
  std::string received = fmt::format("Received: from {} ([{}])\r\n\tby {} (postino) with {} id {}",
                                     helo.empty() ? "unknown" : helo, s.peer_ip, hostname, with, id);
  if (s.tls) {
    received += fmt::format("\r\n\t(version={} cipher={})", s.tls_version, s.tls_cipher);
  }
  if (env.rcpts.size() == 1) received += fmt::format("\r\n\tfor <{}>", env.rcpts[0].address);
  received += fmt::format(";\r\n\t{}\r\n", Rfc5322Date(now));

  AddedHeaders out;
  out.bytes.reserve(message.size() + received.size() + 200);
  out.bytes += received;
  std::optional<std::string> mid = FindHeader(message, "Message-ID");
  if (!mid) {
    std::string domain(hostname);
    out.message_id = fmt::format("{}.{}@{}", id, RandomHex(8), domain);
    out.bytes += fmt::format("Message-ID: <{}>\r\n", out.message_id);
  } else {
    std::string v = *mid;
    size_t lt = v.find('<'), gt = v.find('>', lt == std::string::npos ? 0 : lt);
    if (lt != std::string::npos && gt != std::string::npos) out.message_id = v.substr(lt + 1, gt - lt - 1);
  }
  if (!FindHeader(message, "Date")) out.bytes += fmt::format("Date: {}\r\n", Rfc5322Date(now));
  out.bytes += message;
  return out;
}

}  // namespace postino::inbound
