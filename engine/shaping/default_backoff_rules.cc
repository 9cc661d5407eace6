// default_backoff_rules.cc: the built-in adaptive backoff rules, from the
// providers' published error pages (Gmail, Yahoo, Microsoft, Apple,
// Comcast, Orange, La Poste) and common blocklist/connection-limit texts.
// Matched case-insensitively against NormalizeReply(): "CODE ENH TEXT".
// Checked against real replies in tests/unit/shaping/backoff_test.cc.
#include "engine/shaping/backoff.h"

namespace postino::shaping {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

BackoffRuleSpec Suspend(const char* name, const char* pattern, Nanos duration) {
  BackoffRuleSpec s;
  s.name = name;
  s.pattern = pattern;
  s.action = BackoffAction::kSuspend;
  s.duration = duration;
  return s;
}

BackoffRuleSpec Slow(const char* name, const char* pattern, const char* rate, Nanos duration) {
  BackoffRuleSpec s;
  s.name = name;
  s.pattern = pattern;
  s.action = BackoffAction::kSlow;
  s.rate = *ParseRate(rate);
  s.duration = duration;
  s.recovery_interval = minutes(10);
  return s;
}

}  // namespace

std::vector<BackoffRuleSpec> DefaultBackoffRuleSpecs() {
  return {
      // --- Blocklists and reputation blocks: the path needs fixing. ---
      Suspend("blocklist",
              R"(spamhaus|blocked using|dnsbl|\bblock ?list|black ?list|\brbl\b|)"
              R"(barracuda reputation|cloudmark|listed (in|at|on)\b|listing in)",
              hours(4)),
      Suspend("yahoo-ts03-permanent", R"(\[(TS03|TSS09|TSS1\d)\]|permanently deferred)", hours(12)),
      Suspend("yahoo-ts-deferred", R"(\[(TS0[12]|TSS0[4-8]|IPTS0\d)\])", hours(1)),
      Suspend("microsoft-sc", R"(\bSC-00[1-4]\b|part of their network is on our block)", hours(4)),
      Suspend("low-reputation-block", R"(^5\d\d .*(low reputation|unusual rate of))", hours(4)),
      Suspend("ptr-rdns", R"(\bPTR\b|reverse dns|\brdns\b)", hours(4)),
      Suspend("tls-required", R"(must issue a starttls|starttls (is )?required|tls required)",
              hours(1)),
      Suspend("sender-domain-not-found", R"(^5\d\d 5\.1\.8 .*domain not found)", hours(1)),
      Suspend("host-network-not-allowed", R"(host network not allowed)", hours(4)),
      Suspend("ip-frequency-limited", R"(ip frequency limited)", hours(1)),
      Suspend("internal-resource-unavailable", R"(^4\d\d .*internal resource temporarily)",
              minutes(15)),
      // --- Rate limiting: slow the path down, then recover gradually. ---
      Slow("gmail-4.7.28", R"(^421 4\.7\.28\b)", "100/hour", hours(1)),
      Slow("gmail-4.7.0-rate", R"(^421 4\.7\.0 .*(unusual rate|low reputation|rate limited))",
           "100/hour", hours(1)),
      Slow("rate-limited", R"(\brate limited\b)", "100/hour", hours(1)),
      Slow("microsoft-4.7.65x", R"(^451 4\.7\.65\d\b)", "100/hour", hours(1)),
      Slow("microsoft-rp", R"(\bRP-00[1-3]\b)", "100/hour", hours(1)),
      Slow("too-many-connections",
           R"(too many (concurrent |simultaneous )?(smtp )?connections|)"
           R"(concurrent connections limit|connection limit exceeded)",
           "60/min", minutes(30)),
      Slow("messages-per-connection",
           R"(max(imum)? (number of )?messages? per (connection|session))", "60/min", minutes(15)),
      Slow("volume",
           R"(excessive volume|unexpected volume|too many recent messages|)"
           R"(too many messages from)",
           "100/hour", hours(1)),
      // --- Generic: the server closes the connection and asks to come back. ---
      Suspend("421-try-later", R"(^421 .*(try (again )?later|service refused))", minutes(15)),
  };
}

}  // namespace postino::shaping
