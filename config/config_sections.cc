// config_sections.cc: the sections of postino.toml that say where postino
// runs and how it reaches the destinations — [database], [node],
// [[sources]], [[pools]], [[routes]], [dns], [timeouts] and [retry].
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>

#include "common/strings.h"
#include "config/config_checks.h"
#include "config/config_parser.h"
#include "config/toml_reader.h"

namespace postino::config::internal {

using std::chrono::hours;
using std::chrono::minutes;

void Parser::Database(Config& c) {
  auto t = root_.Table("database");
  if (t) {
    t->String("url", &c.database.url);
    t->Finish();
  }
  if (const char* env = std::getenv("POSTINO_DATABASE_URL"); env != nullptr && *env != '\0') {
    c.database.url = env;
  }
  if (c.database.url.empty()) {
    const toml::table& where = t ? t->table() : root_.table();
    sink_->Add(where.source(), "database.url",
               "missing; expected a PostgreSQL URL such as \"postgresql:///postino\" (or set "
               "$POSTINO_DATABASE_URL)");
  }
}

void Parser::Node(Config& c) {
  c.node.id = HostName();
  auto t = root_.Table("node");
  if (!t) return;
  std::string id;
  if (t->String("id", &id)) {
    if (Status st = internal::CheckNodeId(id); !st.ok())
      t->Error(*t->Get("id"), "id", st.message());
    else
      c.node.id = id;
  }
  ReadInt(*t, "batch_size", 1, 1'000'000, &c.node.batch_size);
  ReadInt(*t, "lease_seconds", 10, 86'400, &c.node.lease_seconds);
  ReadInt(*t, "max_connections", 1, 1'000'000, &c.node.max_connections);
  if (t->String("journal_dir", &c.node.journal_dir) && c.node.journal_dir.empty()) {
    t->Error(*t->Get("journal_dir"), "journal_dir", "is empty; expected a directory");
  }
  ReadInt(*t, "db_give_up_seconds", 1, 86'400, &c.node.db_give_up_seconds);
  t->Finish();
}

void Parser::Sources(Config& c) {
  root_.Tables("sources", [&](TableReader& t, size_t) {
    SourceConfig s;
    if (t.String("name", &s.name, true) && c.FindSource(s.name) != nullptr) {
      t.Error(*t.Get("name"), "name", fmt::format("source \"{}\" is defined twice", s.name));
    }
    if (t.String("address", &s.address, true) && !IsIpLiteral(s.address)) {
      t.Error(*t.Get("address"), "address",
              fmt::format("\"{}\" is not an IPv4 or IPv6 address", s.address));
    }
    if (t.String("ehlo", &s.ehlo)) {
      if (!internal::IsValidEhloName(s.ehlo)) {
        t.Error(*t.Get("ehlo"), "ehlo",
                fmt::format("\"{}\" is not a domain or an address literal (RFC 5321 "
                            "§4.1.1.1); expected e.g. \"mail.example.com\" or \"[192.0.2.1]\"",
                            EscapeControl(s.ehlo)));
      }
    } else if (internal::IsValidEhloName(c.node.id)) {
      s.ehlo = c.node.id;
    } else if (std::string host = HostName(); internal::IsValidEhloName(host)) {
      // Like Postfix's myhostname: the machine's name when nothing better is set.
      s.ehlo = host;
    } else {
      t.Missing("ehlo", fmt::format("a domain (neither node.id \"{}\" nor the host name \"{}\" "
                                    "is one, so neither can be the EHLO name)",
                                    EscapeControl(c.node.id), EscapeControl(HostName())));
    }
    c.sources.push_back(std::move(s));
  });
}

void Parser::Pools(Config& c) {
  root_.Tables("pools", [&](TableReader& t, size_t) {
    PoolConfig p;
    if (t.String("name", &p.name, true) && c.FindPool(p.name) != nullptr) {
      t.Error(*t.Get("name"), "name", fmt::format("pool \"{}\" is defined twice", p.name));
    }
    const toml::node* entries = t.Get("entries");
    if (entries == nullptr) {
      t.Missing("entries", "an array of {source, weight} tables");
    }
    uint64_t total = 0;
    t.Tables("entries", [&](TableReader& e, size_t) {
      PoolEntryConfig entry;
      if (e.String("source", &entry.source, true) && c.FindSource(entry.source) == nullptr) {
        std::string names;
        for (const SourceConfig& s : c.sources) names += (names.empty() ? "" : ", ") + s.name;
        e.Error(*e.Get("source"), "source",
                fmt::format("unknown source \"{}\"; expected one of the [[sources]] names ({})",
                            entry.source, names.empty() ? "none defined" : names));
      }
      int64_t w = 1;
      if (e.Int("weight", 0, 1'000'000, &w)) entry.weight = static_cast<uint32_t>(w);
      total += entry.weight;
      p.entries.push_back(std::move(entry));
    });
    if (entries != nullptr && entries->is_array() && total == 0) {
      t.Error(*entries, "entries",
              p.entries.empty() ? "is empty; expected at least one {source, weight}"
                                : "every weight is zero; expected at least one weight > 0");
    }
    c.pools.push_back(std::move(p));
  });
  if (root_.String("default_pool", &c.default_pool) && c.FindPool(c.default_pool) == nullptr) {
    CheckPool(root_, "default_pool", c.default_pool, c);
  }
}

void Parser::CheckPool(TableReader& t, std::string_view key, const std::string& name,
                       const Config& c) {
  if (c.FindPool(name) != nullptr) return;
  std::string names;
  for (const PoolConfig& p : c.pools) names += (names.empty() ? "" : ", ") + p.name;
  t.Error(*t.Get(key), key,
          fmt::format("unknown pool \"{}\"; expected one of the [[pools]] names ({})", name,
                      names.empty() ? "none defined" : names));
}

void Parser::Routes(Config& c) {
  root_.Tables("routes", [&](TableReader& t, size_t) {
    RouteConfig r;
    if (t.String("domain", &r.domain, true) && !ValidDomainPattern(r.domain)) {
      t.Error(*t.Get("domain"), "domain",
              fmt::format("\"{}\" is not a domain pattern; expected \"example.com\", "
                          "\"*.example.com\" or \"*\"",
                          r.domain));
    }
    std::string to;
    if (t.String("to", &to) && to != "mx") {
      r.kind = RouteConfig::Kind::kStatic;
      if (!SplitHostPort(to, 25, &r.host, &r.port)) {
        t.Error(
            *t.Get("to"), "to",
            fmt::format("\"{}\" is neither \"mx\" nor \"host:port\" (IPv6 as \"[::1]:25\")", to));
      }
    }
    ReadTls(t, "tls", &r.tls);
    if (auto a = t.Table("auth")) {
      AuthConfig auth;
      a->String("username", &auth.username, true);
      bool has_password = a->String("password", &auth.password);
      bool has_env = a->String("password_env", &auth.password_env);
      if (has_password && has_env) {
        a->Error(*a->Get("password_env"), "password_env",
                 "set either password or password_env, not both");
      } else if (has_env) {
        const char* v = std::getenv(auth.password_env.c_str());
        if (v == nullptr) {
          a->Error(*a->Get("password_env"), "password_env",
                   fmt::format("environment variable ${} is not set", auth.password_env));
        } else {
          auth.password = v;
        }
      } else if (!has_password) {
        a->Missing("password", "a string (or password_env naming an environment variable)");
      }
      a->Finish();
      r.auth = std::move(auth);
    }
    t.Bool("auth_requires_tls", &r.auth_requires_tls);
    t.Bool("auth_without_verified_tls", &r.auth_without_verified_tls);
    if (t.String("pool", &r.pool)) CheckPool(t, "pool", r.pool, c);
    c.routes.push_back(std::move(r));
  });
}

void Parser::Dns(Config& c) {
  auto t = root_.Table("dns");
  if (!t) return;
  if (t->StringArray("servers", &c.dns.servers)) {
    const auto& arr = *t->Get("servers")->as_array();
    for (size_t i = 0; i < c.dns.servers.size(); ++i) {
      std::string host;
      uint16_t port = 0;
      if (!SplitHostPort(c.dns.servers[i], 53, &host, &port) || !IsIpLiteral(host)) {
        t->Error(*arr.get(i), fmt::format("servers[{}]", i),
                 fmt::format("\"{}\" is not \"IP\" or \"IP:port\" (IPv6 as \"[::1]:53\")",
                             c.dns.servers[i]));
      }
    }
  }
  int64_t port = 0;
  if (t->Int("mx_port", 1, 65535, &port)) c.dns.mx_port = static_cast<uint16_t>(port);
  t->Finish();
}

void Parser::Timeouts(Config& c) {
  auto t = root_.Table("timeouts");
  if (!t) return;
  TimeoutsConfig& o = c.timeouts;
  struct Key {
    const char* name;
    Seconds* field;
  } keys[] = {{"connect", &o.connect},   {"banner", &o.banner}, {"ehlo", &o.ehlo},
              {"starttls", &o.starttls}, {"mail", &o.mail},     {"rcpt", &o.rcpt},
              {"data", &o.data},         {"body", &o.body},     {"end_of_data", &o.end_of_data},
              {"quit", &o.quit}};
  for (const Key& k : keys) {
    Nanos d{0};
    if (t->Duration(k.name, &d, true)) {
      *k.field = std::chrono::ceil<Seconds>(d);
    }
  }
  t->Finish();
}

void Parser::Retry(Config& c) {
  c.retry.schedule = {minutes(5), minutes(10), minutes(20), minutes(40),
                      hours(1),   hours(2),    hours(4)};
  auto t = root_.Table("retry");
  if (!t) return;
  t->DurationArray("schedule", &c.retry.schedule);
  t->Duration("max_age", &c.retry.max_age);
  t->Float("jitter", 0.0, 0.5, &c.retry.jitter);
  t->Finish();
}

}  // namespace postino::config::internal
