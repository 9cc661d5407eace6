// serve_http.cc: [http] -> http::ServiceOptions, and starting the HTTP service
// for `postino serve` and `postino run`.
#include "cli/serve_http.h"

#include "cli/http_wiring.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "common/log.h"

namespace postino::cli {
namespace {

Result<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("[http] {}: cannot read \"{}\"", what, path));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (buf.str().find("-----BEGIN ") == std::string::npos) {
    return Status::InvalidArgument(fmt::format("[http] {}: \"{}\" is not a PEM file", what, path));
  }
  return buf.str();
}

// The path part of [unsubscribe] url_base ("https://h/u/" -> "/u/"), where
// the templates' "?t=<token>" URLs arrive.
std::string UrlPath(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "/u/";
  size_t slash = url.find('/', scheme + 3);
  if (slash == std::string::npos) return "/";
  std::string path = url.substr(slash, url.find_first_of("?#", slash) - slash);
  return path.empty() ? "/" : path;
}

}  // namespace

Result<http::ServiceOptions> MakeHttpServiceOptions(const config::Config& cfg,
                                                    const std::string& node, bool expect_loop) {
  const config::HttpConfig& h = cfg.http;
  http::ServiceOptions o;
  for (const std::string& text : h.listen) {
    Result<http::ListenAddress> a = http::ParseListenAddress(text);
    if (!a.ok()) return Status::InvalidArgument("[http] listen: " + a.status().message());
    o.server.listen.push_back(*a);
  }
  if (!h.cert_file.empty()) {
    Result<std::string> cert = ReadPem(h.cert_file, "cert_file");
    if (!cert.ok()) return cert.status();
    Result<std::string> key = ReadPem(h.key_file, "key_file");
    if (!key.ok()) return key.status();
    o.server.cert_pem = std::move(cert).value();
    o.server.key_pem = std::move(key).value();
  }
  o.server.threads = static_cast<unsigned>(h.threads);
  o.server.connection_limit = static_cast<unsigned>(h.max_connections);
  o.server.per_ip_connection_limit = static_cast<unsigned>(h.max_connections_per_ip);
  o.server.idle_timeout_seconds = static_cast<unsigned>(h.idle_timeout_seconds);
  o.server.max_body_bytes = static_cast<size_t>(h.max_body_bytes);
  o.unsubscribe.secret = cfg.unsubscribe.secret;
  o.unsubscribe.node = node;
  o.unsubscribe.public_url = h.public_url;
  if (!cfg.unsubscribe.url_base.empty()) o.unsubscribe.query_path = UrlPath(cfg.unsubscribe.url_base);
  o.health.expect_loop = expect_loop;
  o.database_url = cfg.database.url;
  return o;
}

Result<std::unique_ptr<http::Service>> StartHttpService(const config::Config& cfg,
                                                        const std::string& node, bool expect_loop) {
  if (!cfg.http.enabled()) return std::unique_ptr<http::Service>();
  if (cfg.unsubscribe.secret.empty()) {
    log::Warn("http: [unsubscribe] has no secret: every unsubscribe link will be refused as "
              "invalid (set secret_file or secret_env)");
  }
  Result<http::ServiceOptions> o = MakeHttpServiceOptions(cfg, node, expect_loop);
  if (!o.ok()) return o.status();
  return http::Service::Start(std::move(o).value());
}

}  // namespace postino::cli
