// config_values.cc: value checks and readers shared by the sections of
// postino.toml — IP addresses, host:port, domain patterns, TLS modes, ints
// (see config_parser.h).
#include <arpa/inet.h>
#include <unistd.h>

#include <cctype>

#include "config/config.h"
#include "config/config_parser.h"
#include "config/toml_reader.h"

namespace postino::config {
namespace {

const char* kTlsNames[] = {"none", "opportunistic", "required", "implicit"};

}  // namespace

std::string_view TlsModeName(TlsMode mode) { return kTlsNames[static_cast<int>(mode)]; }

namespace internal {

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Splits "host:port" / "[v6]:port" / "host" (port = default_port).
bool SplitHostPort(const std::string& text, uint16_t default_port, std::string* host,
                   uint16_t* port) {
  std::string h = text;
  std::string p;
  if (text.empty()) return false;
  unsigned char v6[16];
  if (inet_pton(AF_INET6, text.c_str(), v6) == 1) {  // bare IPv6: no port
    *host = text;
    *port = default_port;
    return true;
  }
  if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return false;
    h = text.substr(1, close - 1);
    std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      p = rest.substr(1);
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string::npos) {
      if (text.find(':') != colon) return false;  // bare IPv6 needs brackets
      h = text.substr(0, colon);
      p = text.substr(colon + 1);
    }
  }
  if (h.empty()) return false;
  if (text[0] == '[' && p.empty() && text.back() != ']') return false;
  *host = h;
  *port = default_port;
  if (!p.empty() || text.back() == ':') {
    if (p.empty() || p.size() > 5) return false;
    int v = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    if (v < 1 || v > 65535) return false;
    *port = static_cast<uint16_t>(v);
  }
  return true;
}

bool ValidDomainPattern(const std::string& p) {
  if (p == "*") return true;
  std::string_view rest = p;
  if (rest.size() > 2 && rest[0] == '*' && rest[1] == '.') rest.remove_prefix(2);
  if (rest.empty() || rest.front() == '.' || rest.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : rest) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

bool ReadTls(TableReader& t, std::string_view key, TlsMode* out) {
  int v = 0;
  if (!t.Enum(key, {kTlsNames[0], kTlsNames[1], kTlsNames[2], kTlsNames[3]}, &v)) return false;
  *out = static_cast<TlsMode>(v);
  return true;
}

void ReadInt(TableReader& t, std::string_view key, int64_t min, int64_t max, int* out) {
  int64_t v = 0;
  if (t.Int(key, min, max, &v)) *out = static_cast<int>(v);
}

void ReadOptInt(TableReader& t, std::string_view key, int64_t min, int64_t max,
                std::optional<int>* out) {
  int64_t v = 0;
  if (t.Int(key, min, max, &v)) *out = static_cast<int>(v);
}

}  // namespace internal
}  // namespace postino::config
