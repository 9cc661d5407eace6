// config.cc: parsing postino.toml into Config, section by section, with
// positioned errors and unknown-key detection (see config.h).
#include "config/config.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <re2/re2.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "config/config_checks.h"
#include "config/toml_reader.h"
#include "common/host_pattern.h"

namespace postino::config {
namespace {


using internal::ErrorSink;
using internal::TableReader;
using std::chrono::hours;
using std::chrono::minutes;

constexpr int64_t kMaxInt = 1'000'000'000;

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

const char* kTlsNames[] = {"none", "opportunistic", "required", "implicit"};

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

class Parser {
 public:
  Parser(const toml::table& root, ErrorSink* sink) : root_(sink, &root, ""), sink_(sink) {
    sink->set_root_keys({"default_pool", "use_default_backoff"});
  }

  Config Run() {
    Config c;
    c.file = sink_->file();
    Database(c);
    Node(c);
    Sources(c);
    Pools(c);
    Routes(c);
    Dns(c);
    Limits(c);
    Timeouts(c);
    Warmup(c);
    Backoff(c);
    Retry(c);
    Dkim(c);
    Small(c);
    root_.Finish();
    return c;
  }

 private:
  void Database(Config& c) {
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

  void Node(Config& c) {
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

  void Sources(Config& c) {
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

  void Pools(Config& c) {
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

  void CheckPool(TableReader& t, std::string_view key, const std::string& name, const Config& c) {
    if (c.FindPool(name) != nullptr) return;
    std::string names;
    for (const PoolConfig& p : c.pools) names += (names.empty() ? "" : ", ") + p.name;
    t.Error(*t.Get(key), key,
            fmt::format("unknown pool \"{}\"; expected one of the [[pools]] names ({})", name,
                        names.empty() ? "none defined" : names));
  }

  void Routes(Config& c) {
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

  void Dns(Config& c) {
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

  // Reads the limit keys; `rule` adds the per-destination-only keys.
  void LimitKeys(TableReader& t, LimitValues* v, bool rule) {
    ReadOptInt(t, "max_connections", 1, 100'000, &v->max_connections);
    ReadOptInt(t, "max_site_connections", 1, 1'000'000, &v->max_site_connections);
    ReadOptInt(t, "max_messages_per_connection", 1, kMaxInt, &v->max_messages_per_connection);
    ReadOptInt(t, "max_recipients_per_message", 1, 1000, &v->max_recipients_per_message);
    t.Rate("max_message_rate", &v->max_message_rate);
    t.Rate("max_connection_rate", &v->max_connection_rate);
    if (!rule) return;
    TlsMode tls;
    if (ReadTls(t, "tls", &tls)) v->tls = tls;
    std::vector<Nanos> schedule;
    if (t.DurationArray("retry_schedule", &schedule)) v->retry_schedule = std::move(schedule);
    Nanos max_age{0};
    if (t.Duration("max_age", &max_age)) v->max_age = max_age;
  }

  void Limits(Config& c) {
    LimitValues& d = c.limits.defaults;
    d.max_connections = 10;
    d.max_site_connections = 50;
    d.max_messages_per_connection = 100;
    d.max_recipients_per_message = 50;
    auto t = root_.Table("limits");
    if (!t) return;
    LimitKeys(*t, &d, false);
    t->Tables("rules", [&](TableReader& r, size_t) {
      LimitRule rule;
      bool has_match = r.String("match", &rule.match);
      bool has_mx = r.String("mx", &rule.mx);
      if (has_match == has_mx) {
        const toml::node* at = r.Get("mx");
        if (at != nullptr) {
          r.Error(*at, "mx", "set either match (domain) or mx (MX host pattern), not both");
        } else {
          r.Missing("match", "a domain pattern such as \"gmail.com\" (or mx = \"*.google.com\")");
        }
      }
      for (std::string_view key : {"match", "mx"}) {
        const std::string& p = key == "match" ? rule.match : rule.mx;
        if (!p.empty() && !ValidDomainPattern(p)) {
          r.Error(*r.Get(key), key,
                  fmt::format("\"{}\" is not a pattern; expected \"example.com\", "
                              "\"*.example.com\" or \"*\"",
                              p));
        }
      }
      LimitKeys(r, &rule.values, true);
      c.limits.rules.push_back(std::move(rule));
    });
    t->Finish();
  }

  void Timeouts(Config& c) {
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

  void Warmup(Config& c) {
    root_.Tables("warmup", [&](TableReader& t, size_t) {
      WarmupConfig w;
      if (t.String("source", &w.source, true) && c.FindSource(w.source) == nullptr) {
        t.Error(
            *t.Get("source"), "source",
            fmt::format("unknown source \"{}\"; expected one of the [[sources]] names", w.source));
      }
      if (const toml::node* n = t.Get("start")) {
        ReadDate(t, *n, &w.start);
      } else {
        t.Missing("start", "a date such as \"2026-11-01\"");
      }
      ReadCaps(t, "caps", &w.caps, true);
      t.Tables("sites", [&](TableReader& s, size_t) {
        WarmupSiteConfig site;
        if (s.String("site", &site.site, true) && !ValidDomainPattern(site.site)) {
          s.Error(*s.Get("site"), "site",
                  fmt::format("\"{}\" is not a domain or MX pattern", site.site));
        }
        ReadCaps(s, "caps", &site.caps, true);
        w.sites.push_back(std::move(site));
      });
      c.warmup.push_back(std::move(w));
    });
  }

  void ReadDate(TableReader& t, const toml::node& n, std::chrono::sys_days* out) {
    using namespace std::chrono;
    year_month_day ymd{};
    if (const auto* d = n.as_date()) {
      ymd = year_month_day(year(d->get().year), month(d->get().month), day(d->get().day));
    } else if (const auto* s = n.as_string()) {
      const std::string& v = s->get();
      unsigned y = 0, m = 0, dd = 0;
      char extra = 0;
      if (v.size() != 10 || std::sscanf(v.c_str(), "%4u-%2u-%2u%c", &y, &m, &dd, &extra) != 3) {
        t.Error(n, "start", fmt::format("\"{}\" is not a date; expected YYYY-MM-DD", v));
        return;
      }
      ymd = year_month_day(year(static_cast<int>(y)), month(m), day(dd));
    } else {
      t.Error(
          n, "start",
          fmt::format("expected a date such as 2026-11-01, got {}", internal::TypeName(n.type())));
      return;
    }
    if (!ymd.ok()) {
      t.Error(n, "start", "is not a valid calendar date");
      return;
    }
    *out = sys_days(ymd);
  }

  void ReadCaps(TableReader& t, std::string_view key, std::vector<uint64_t>* out, bool required) {
    const toml::node* n = t.Get(key);
    if (n == nullptr) {
      if (required) t.Missing(key, "an array of daily message caps such as [50, 100, 500]");
      return;
    }
    const auto* arr = n->as_array();
    if (arr == nullptr || arr->empty()) {
      t.Error(*n, key, "expected a non-empty array of daily caps such as [50, 100, 500]");
      return;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      const auto* v = arr->get(i)->as_integer();
      if (v == nullptr || v->get() < 0) {
        t.Error(*arr->get(i), fmt::format("{}[{}]", key, i),
                "expected a non-negative integer (messages per day)");
        continue;
      }
      out->push_back(static_cast<uint64_t>(v->get()));
    }
  }

  void Backoff(Config& c) {
    root_.Bool("use_default_backoff", &c.use_default_backoff);
    root_.Tables("backoff", [&](TableReader& t, size_t) {
      BackoffRuleConfig b;
      if (t.String("match", &b.match, true)) {
        // The same RE2 syntax and options engine/policy compiles the rule with.
        RE2::Options options;
        options.set_case_sensitive(false);
        options.set_log_errors(false);
        options.set_max_mem(int64_t{1} << 20);  // policy::kRe2MaxMem
        RE2 re(b.match, options);
        if (!re.ok()) {
          t.Error(*t.Get("match"), "match",
                  fmt::format("\"{}\" is not a valid regular expression (RE2 syntax): {}", b.match,
                              re.error()));
        }
      }
      if (t.String("site", &b.site) && !ValidDomainPattern(b.site)) {
        t.Error(
            *t.Get("site"), "site",
            fmt::format("\"{}\" is not a domain or MX pattern such as \"*.google.com\"", b.site));
      }
      int action = -1;
      if (t.Get("action") == nullptr) t.Missing("action", "one of suspend, slow, bounce");
      t.Enum("action", {"suspend", "slow", "bounce"}, &action);
      if (action >= 0) b.action = static_cast<BackoffRuleConfig::Action>(action);
      bool has_duration = t.Duration("duration", &b.duration);
      t.Rate("rate", &b.rate);
      t.Duration("recovery_interval", &b.recovery_interval);
      if (action == 0 && !has_duration) b.duration = hours(1);
      if (action == 1) {
        if (!has_duration) b.duration = minutes(30);
        if (!b.rate && t.Get("rate") == nullptr) t.Missing("rate", "a rate such as \"60/min\"");
      }
      if (action != 1 && t.Get("rate") != nullptr && action >= 0) {
        t.Error(*t.Get("rate"), "rate", "is only used with action = \"slow\"");
      }
      if (action == 2 && has_duration) {
        t.Error(*t.Get("duration"), "duration", "is not used with action = \"bounce\"");
      }
      c.backoff.push_back(std::move(b));
    });
  }

  void Retry(Config& c) {
    c.retry.schedule = {minutes(5), minutes(10), minutes(20), minutes(40),
                        hours(1),   hours(2),    hours(4)};
    auto t = root_.Table("retry");
    if (!t) return;
    t->DurationArray("schedule", &c.retry.schedule);
    t->Duration("max_age", &c.retry.max_age);
    t->Float("jitter", 0.0, 0.5, &c.retry.jitter);
    t->Finish();
  }

  void Dkim(Config& c) {
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
    static constexpr std::string_view kCanon[] = {"relaxed/relaxed", "relaxed/simple",
                                                  "simple/relaxed",  "simple/simple",
                                                  "relaxed",         "simple"};
    if (t->Enum("canonicalization",
                {kCanon[0], kCanon[1], kCanon[2], kCanon[3], kCanon[4], kCanon[5]}, &canon)) {
      c.dkim.canonicalization = std::string(kCanon[canon]);
      if (canon == 4) c.dkim.canonicalization = "relaxed/simple";
      if (canon == 5) c.dkim.canonicalization = "simple/simple";
    }
    t->StringArray("headers", &c.dkim.headers);
    t->Finish();
  }

  void Small(Config& c) {
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
    if (auto t = root_.Table("submission")) {
      // Parsed (so its other errors show too) but refused until postino
      // has a submission listener: a config must not promise an open port.
      sink_->Add(t->table().source(), "submission",
                 "is not available yet: this postino has no SMTP submission listener, so nothing "
                 "would listen on these ports; remove the [submission] table");
      SubmissionConfig& s = c.submission;
      s.enabled = true;
      t->Bool("enabled", &s.enabled);
      for (std::string_view key : {"listen", "tls_listen"}) {
        std::vector<std::string>* list = key == "listen" ? &s.listen : &s.tls_listen;
        if (!t->StringArray(key, list)) continue;
        for (size_t i = 0; i < list->size(); ++i) {
          std::string host;
          uint16_t port = 0;
          if (!SplitHostPort((*list)[i], 0, &host, &port) || port == 0 || !IsIpLiteral(host)) {
            t->Error(*t->Get(key)->as_array()->get(i), fmt::format("{}[{}]", key, i),
                     fmt::format("\"{}\" is not \"IP:port\" (IPv6 as \"[::1]:587\")", (*list)[i]));
          }
        }
      }
      t->String("cert_file", &s.cert_file);
      t->String("key_file", &s.key_file);
      int64_t size = 0;
      if (t->Int("max_message_size", 1024, 1LL << 32, &size)) {
        s.max_message_size = static_cast<uint64_t>(size);
      }
      if (t->String("pool", &s.pool)) CheckPool(*t, "pool", s.pool, c);
      if (s.enabled && !s.tls_listen.empty() && (s.cert_file.empty() || s.key_file.empty())) {
        t->Missing(s.cert_file.empty() ? "cert_file" : "key_file",
                   "a PEM file path (tls_listen needs a certificate and key)");
      }
      t->Finish();
    }
  }

  // [unsubscribe]: the token key comes from secret_file or secret_env; a
  // one-click URL needs it, or its tokens could not be checked later.
  void Unsubscribe(TableReader& t, UnsubscribeConfig& u) {
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

  TableReader root_;
  ErrorSink* sink_;
};

}  // namespace

std::string_view TlsModeName(TlsMode mode) { return kTlsNames[static_cast<int>(mode)]; }

Result<Config> ParseConfig(std::string_view text, std::string_view file_name) {
  ErrorSink sink{std::string(file_name)};
  try {
    toml::table root = toml::parse(text, file_name);
    Config config = Parser(root, &sink).Run();
    if (sink.empty()) return config;
  } catch (const toml::parse_error& e) {
    sink.Add(e.source(), "", fmt::format("TOML syntax error: {}", e.description()));
  } catch (const std::exception& e) {
    sink.AddAt(1, 1, "", fmt::format("cannot parse: {}", e.what()));
  }
  std::string message;
  for (const std::string& line : sink.errors()) {
    if (!message.empty()) message += '\n';
    message += line;
  }
  return Status::InvalidArgument(std::move(message));
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound(fmt::format(
        "{}: cannot open the configuration file; pass --config PATH or set $POSTINO_CONFIG", path));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::IoError(fmt::format("{}: read error", path));
  return ParseConfig(buf.str(), path);
}

std::string ResolveConfigPath(std::string_view cli_flag) {
  if (!cli_flag.empty()) return std::string(cli_flag);
  if (const char* env = std::getenv("POSTINO_CONFIG"); env != nullptr && *env != '\0') {
    return env;
  }
  return "./postino.toml";
}

}  // namespace postino::config
