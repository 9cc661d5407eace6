// config_mail.cc: the sections of postino.toml about the mail itself and
// its senders — [dkim], [unsubscribe], [campaign_defaults], [suppression]
// and [submission].
#include <fmt/format.h>

#include <cstdlib>

#include "config/config_checks.h"
#include "config/config_parser.h"
#include "config/toml_reader.h"

namespace postino::config::internal {

void Parser::Dkim(Config& c) {
  auto t = root_.Table("dkim");
  if (!t) return;
  t->Tables("keys", [&](TableReader& k, size_t) {
    DkimKeyConfig key;
    k.String("domain", &key.domain, true);
    k.String("selector", &key.selector, true);
    int alg = 0;
    if (k.Enum("algorithm", {"rsa-sha256", "ed25519-sha256"}, &alg)) {
      key.algorithm = alg == 0 ? "rsa-sha256" : "ed25519-sha256";
    }
    k.String("key_file", &key.key_file, true);
    c.dkim.keys.push_back(std::move(key));
  });
  int canon = 0;
  static constexpr std::string_view kCanon[] = {
      "relaxed/relaxed", "relaxed/simple", "simple/relaxed", "simple/simple", "relaxed", "simple"};
  if (t->Enum("canonicalization",
              {kCanon[0], kCanon[1], kCanon[2], kCanon[3], kCanon[4], kCanon[5]}, &canon)) {
    c.dkim.canonicalization = std::string(kCanon[canon]);
    if (canon == 4) c.dkim.canonicalization = "relaxed/simple";
    if (canon == 5) c.dkim.canonicalization = "simple/simple";
  }
  t->StringArray("headers", &c.dkim.headers);
  t->Finish();
}

void Parser::Small(Config& c) {
  if (auto t = root_.Table("unsubscribe")) Unsubscribe(*t, c.unsubscribe);
  if (auto t = root_.Table("campaign_defaults")) {
    t->String("list_id", &c.campaign_defaults.list_id);
    t->String("feedback_id", &c.campaign_defaults.feedback_id);
    t->String("verp_domain", &c.campaign_defaults.verp_domain);
    t->Finish();
  }
  if (auto t = root_.Table("suppression")) {
    t->Bool("auto_suppress_hard_bounces", &c.suppression.auto_suppress_hard_bounces);
    t->Finish();
  }
  if (auto t = root_.Table("submission")) Submission(*t, c);
}

// [submission]: the SMTP submission listener (docs/submission.md).
void Parser::Submission(TableReader& t, Config& c) {
  SubmissionConfig& s = c.submission;
  s.enabled = true;
  t.Bool("enabled", &s.enabled);
  for (std::string_view key : {"listen", "tls_listen"}) {
    std::vector<std::string>* list = key == "listen" ? &s.listen : &s.tls_listen;
    if (!t.StringArray(key, list)) continue;
    for (size_t i = 0; i < list->size(); ++i) {
      std::string host;
      uint16_t port = 0;
      if (!SplitHostPort((*list)[i], 0, &host, &port) || port == 0 || !IsIpLiteral(host)) {
        t.Error(*t.Get(key)->as_array()->get(i), fmt::format("{}[{}]", key, i),
                fmt::format("\"{}\" is not \"IP:port\" (IPv6 as \"[::1]:587\")", (*list)[i]));
      }
    }
  }
  t.String("cert_file", &s.cert_file);
  t.String("key_file", &s.key_file);
  t.String("hostname", &s.hostname);
  int64_t size = 0;
  if (t.Int("max_message_size", 1024, 1LL << 32, &size)) {
    s.max_message_size = static_cast<uint64_t>(size);
  }
  ReadInt(t, "max_recipients", 1, 100000, &s.max_recipients);
  ReadInt(t, "max_commands", 10, 10000000, &s.max_commands);
  ReadInt(t, "max_errors", 1, 1000, &s.max_errors);
  ReadInt(t, "max_connections", 1, 1000000, &s.max_connections);
  ReadInt(t, "max_connections_per_ip", 1, 1000000, &s.max_connections_per_ip);
  ReadInt(t, "auth_threads", 1, 64, &s.auth_threads);
  ReadInt(t, "store_threads", 1, 64, &s.store_threads);
  t.Duration("idle_timeout", &s.idle_timeout, true);
  t.Duration("session_timeout", &s.session_timeout, true);
  if (s.idle_timeout < std::chrono::seconds(1) || s.session_timeout < std::chrono::seconds(1)) {
    const char* key = s.idle_timeout < std::chrono::seconds(1) ? "idle_timeout" : "session_timeout";
    t.Error(*t.Get(key), key, "must be at least 1s");
  }
  if (t.String("pool", &s.pool)) CheckPool(t, "pool", s.pool, c);
  // Delivery of submitted mail and DSNs: used by `postino run` whether or
  // not this node listens (enabled = false).
  SubmissionQueue(t, s);
  if (s.enabled && s.listen.empty() && s.tls_listen.empty()) {
    t.Missing("listen", "an array of \"IP:port\" (587-style, STARTTLS) or tls_listen (465-style)");
  }
  // Both listeners need a certificate: AUTH is offered only over TLS.
  if (s.enabled && (s.cert_file.empty() || s.key_file.empty())) {
    t.Missing(s.cert_file.empty() ? "cert_file" : "key_file",
              "a PEM file path (AUTH is offered only over TLS, so submission needs a "
              "certificate and key)");
  }
  t.Finish();
}

// [submission] keys of the delivery of submitted mail and of DSNs.
void Parser::SubmissionQueue(TableReader& t, SubmissionConfig& s) {
  if (t.Duration("max_queue_time", &s.max_queue_time) && s.max_queue_time <= Nanos(0)) {
    t.Error(*t.Get("max_queue_time"), "max_queue_time", "must be more than 0 (e.g. \"5d\")");
  }
  if (t.Duration("delay_warning", &s.delay_warning, /*seconds_ok=*/true) &&
      s.delay_warning < Nanos(0)) {
    t.Error(*t.Get("delay_warning"), "delay_warning", "must be 0 (no delay DSN) or more");
  }
  int64_t n = 0;
  if (t.Int("recipients_per_message", 1, 1000, &n)) s.recipients_per_message = static_cast<int>(n);
  if (t.Int("dsn_return_limit", 0, 1LL << 32, &n)) s.dsn_return_limit = static_cast<uint64_t>(n);
  if (t.String("dsn_from", &s.dsn_from) &&
      (s.dsn_from.find('@') == std::string::npos || s.dsn_from.find_first_of(" <>\"") != std::string::npos)) {
    t.Error(*t.Get("dsn_from"), "dsn_from", "expected a bare address such as MAILER-DAEMON@mta.example");
  }
}

// [unsubscribe]: the token key comes from secret_file or secret_env; a
// one-click URL needs it, or its tokens could not be checked later.
void Parser::Unsubscribe(TableReader& t, UnsubscribeConfig& u) {
  t.String("url_base", &u.url_base);
  t.String("mailto", &u.mailto);
  bool has_file = t.String("secret_file", &u.secret_file);
  bool has_env = t.String("secret_env", &u.secret_env);
  if (has_file && has_env) {
    t.Error(*t.Get("secret_env"), "secret_env", "set either secret_file or secret_env, not both");
  } else if (has_file) {
    Result<std::string> secret = internal::ReadSecretFile(u.secret_file);
    if (secret.ok()) {
      u.secret = std::move(secret).value();
    } else {
      t.Error(*t.Get("secret_file"), "secret_file", secret.status().message());
    }
  } else if (has_env) {
    const char* v = std::getenv(u.secret_env.c_str());
    std::string value = v != nullptr ? v : "";
    if (value.size() < internal::kMinSecretBytes) {
      t.Error(*t.Get("secret_env"), "secret_env",
              fmt::format("environment variable ${} {}; it must hold at least {} characters",
                          u.secret_env, v == nullptr ? "is not set" : "is too short",
                          internal::kMinSecretBytes));
    } else {
      u.secret = std::move(value);
    }
  }
  for (std::string_view key : {"url_base", "mailto"}) {
    const std::string& value = key == "url_base" ? u.url_base : u.mailto;
    if (value.empty() || has_file || has_env) continue;
    t.Error(*t.Get(key), key,
            "needs a secret for its unsubscribe tokens: set secret_file (a file only postino "
            "can read) or secret_env (an environment variable); without one, the tokens could "
            "not be checked later");
    break;
  }
  t.Finish();
}

}  // namespace postino::config::internal
