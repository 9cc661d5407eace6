// config_shaping.cc: the sections of postino.toml that say how fast postino
// sends — [limits] (defaults and per-destination rules), [[warmup]] and
// [[backoff]].
#include <fmt/format.h>
#include <re2/re2.h>

#include <chrono>
#include <cstdio>

#include "config/config_parser.h"
#include "config/toml_reader.h"

namespace postino::config::internal {
namespace {

constexpr int64_t kMaxInt = 1'000'000'000;

}  // namespace

using std::chrono::hours;
using std::chrono::minutes;

// Reads the limit keys; `rule` adds the per-destination-only keys.
void Parser::LimitKeys(TableReader& t, LimitValues* v, bool rule) {
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

void Parser::Limits(Config& c) {
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

void Parser::Warmup(Config& c) {
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

void Parser::ReadDate(TableReader& t, const toml::node& n, std::chrono::sys_days* out) {
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

void Parser::ReadCaps(TableReader& t, std::string_view key, std::vector<uint64_t>* out,
                      bool required) {
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

void Parser::Backoff(Config& c) {
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
      t.Error(*t.Get("site"), "site",
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

}  // namespace postino::config::internal
