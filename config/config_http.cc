// config_http.cc: the [http] section of postino.toml (docs/http.md).
#include <fmt/format.h>

#include "config/config_parser.h"
#include "config/toml_reader.h"

namespace postino::config::internal {

void Parser::Http(Config& c) {
  auto t = root_.Table("http");
  if (!t) return;
  HttpConfig& h = c.http;
  if (t->StringArray("listen", &h.listen)) {
    for (size_t i = 0; i < h.listen.size(); ++i) {
      std::string host;
      uint16_t port = 0;
      if (!SplitHostPort(h.listen[i], 0, &host, &port) || port == 0 || !IsIpLiteral(host)) {
        t->Error(*t->Get("listen")->as_array()->get(i), fmt::format("listen[{}]", i),
                 fmt::format("\"{}\" is not \"IP:port\" (IPv6 as \"[::1]:8080\")", h.listen[i]));
      }
    }
  }
  bool has_cert = t->String("cert_file", &h.cert_file);
  bool has_key = t->String("key_file", &h.key_file);
  if (has_cert != has_key) {
    t->Missing(has_cert ? "key_file" : "cert_file",
               "a PEM file path (HTTPS needs both cert_file and key_file)");
  }
  if (t->String("public_url", &h.public_url)) {
    const std::string& u = h.public_url;
    bool scheme = u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0;
    size_t host_at = u.find("://") + 3;
    if (!scheme || u.size() <= host_at || u.find_first_of("?#\"<> ") != std::string::npos) {
      t->Error(*t->Get("public_url"), "public_url",
               fmt::format("\"{}\" is not an absolute http(s) URL without query, e.g. "
                           "\"https://mail.example.com\"",
                           u));
    }
  }
  ReadInt(*t, "threads", 1, 256, &h.threads);
  ReadInt(*t, "max_connections", 1, 100000, &h.max_connections);
  ReadInt(*t, "max_connections_per_ip", 0, 100000, &h.max_connections_per_ip);
  ReadInt(*t, "idle_timeout_seconds", 1, 3600, &h.idle_timeout_seconds);
  ReadInt(*t, "max_body_bytes", 256, 1 << 20, &h.max_body_bytes);
  t->Finish();
}

}  // namespace postino::config::internal
