// config_returns.cc: the [returns] section of postino.toml — bounces and
// complaints that arrive by mail (issue 13, inbound/returns): the VERP
// domains and feedback addresses mail is accepted for, the intake
// listener's addresses, certificate and name, and the message size cap.
#include <fmt/format.h>

#include "config/config_parser.h"
#include "config/toml_reader.h"

namespace postino::config::internal {

void Parser::Returns(Config& c) {
  auto t = root_.Table("returns");
  if (!t) return;
  ReturnsConfig& r = c.returns;
  if (t->StringArray("verp_domains", &r.verp_domains)) {
    for (size_t i = 0; i < r.verp_domains.size(); ++i) {
      const std::string& d = r.verp_domains[i];
      if (d.find('*') != std::string::npos || !ValidDomainPattern(d)) {
        t->Error(*t->Get("verp_domains")->as_array()->get(i), fmt::format("verp_domains[{}]", i),
                 fmt::format("\"{}\" is not a domain name", d));
      }
    }
  }
  if (t->StringArray("feedback_addresses", &r.feedback_addresses)) {
    for (size_t i = 0; i < r.feedback_addresses.size(); ++i) {
      const std::string& a = r.feedback_addresses[i];
      size_t at = a.rfind('@');
      if (at == std::string::npos || at == 0 || at + 1 >= a.size() ||
          !ValidDomainPattern(a.substr(at + 1))) {
        t->Error(*t->Get("feedback_addresses")->as_array()->get(i),
                 fmt::format("feedback_addresses[{}]", i),
                 fmt::format("\"{}\" is not an address (local@domain)", a));
      }
    }
  }
  if (t->StringArray("listen", &r.listen)) {
    for (size_t i = 0; i < r.listen.size(); ++i) {
      std::string host;
      uint16_t port = 0;
      if (!SplitHostPort(r.listen[i], 25, &host, &port) || port == 0 || !IsIpLiteral(host)) {
        t->Error(*t->Get("listen")->as_array()->get(i), fmt::format("listen[{}]", i),
                 fmt::format("\"{}\" is not \"IP:port\" (IPv6 as \"[::1]:25\")", r.listen[i]));
      }
    }
  }
  // The intake listener (inbound/returns_service.h): STARTTLS when both are
  // set, the name in its banner and Received lines.
  bool has_cert = t->String("cert_file", &r.cert_file);
  bool has_key = t->String("key_file", &r.key_file);
  if (has_cert != has_key) {
    t->Missing(has_cert ? "key_file" : "cert_file",
               "a PEM file path (STARTTLS on the intake listener needs both cert_file and key_file)");
  }
  t->String("hostname", &r.hostname);
  if ((has_cert || has_key || !r.hostname.empty()) && r.listen.empty()) {
    t->Error(*t->Get(has_cert ? "cert_file" : has_key ? "key_file" : "hostname"),
             has_cert ? "cert_file" : has_key ? "key_file" : "hostname",
             "only applies to the intake listener: set returns.listen too");
  }
  int64_t size = 0;
  if (t->Int("max_message_size", 1024, int64_t{1} << 30, &size)) {
    r.max_message_size = static_cast<uint64_t>(size);
  }
  t->Finish();
}

}  // namespace postino::config::internal
