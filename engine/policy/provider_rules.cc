// provider_rules.cc: the built-in provider rules, from the providers'
// published error pages (Gmail, Yahoo/AOL, Microsoft, Apple, Comcast, Cox,
// Orange, La Poste, Mimecast, QQ, NetEase). They run after the configured
// [[backoff]] rules and refine the principled decision with the provider's
// own meaning and durations (Yahoo TS03 = 12 h, Orange "service refusé" =
// 15 min...). A provider rule never applies to a reply that blames the
// recipient. Matched case-insensitively (RE2) against NormalizeReply():
// "CODE ENH TEXT". Tested in tests/unit/policy/provider_rules_test.cc.
#include "engine/policy/rules.h"

namespace postino::policy::internal {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

ProviderRule Suspend(const char* name, const char* pattern, Nanos duration, Category category,
                     Blame blame) {
  ProviderRule r;
  r.spec.name = name;
  r.spec.pattern = pattern;
  r.spec.action = RuleSpec::Action::kSuspend;
  r.spec.duration = duration;
  r.category = category;
  r.blame = blame;
  return r;
}

ProviderRule Slow(const char* name, const char* pattern, const char* rate, Nanos duration,
                  Category category, Blame blame) {
  ProviderRule r;
  r.spec.name = name;
  r.spec.pattern = pattern;
  r.spec.action = RuleSpec::Action::kSlowDown;
  r.spec.rate = *ParseRate(rate);
  r.spec.duration = duration;
  r.spec.recovery_interval = minutes(10);
  r.category = category;
  r.blame = blame;
  return r;
}

constexpr Category kRep = Category::kReputation;
constexpr Category kRate = Category::kThrottled;

}  // namespace

std::vector<ProviderRule> ProviderRules() {
  return {
      // --- Yahoo / AOL (postmaster.yahooinc.com/error-codes) ---
      Suspend("yahoo-ts03-permanent", R"(\[(?:ts03|tss09|tss1\d)\]|permanently deferred)",
              hours(12), kRep, Blame::kPath),
      Suspend("yahoo-ts-complaints", R"(\[ts0[12]\])", hours(1), kRep, Blame::kPath),
      Suspend("yahoo-tss04-volume", R"(\[(?:tss04|ipts04)\])", hours(1), kRate, Blame::kRate),
      Slow("yahoo-deferred",
           R"(\[(?:tss0[5-8]|ipts0[0-35-9]|gl01)\]|messages? from \S+ temporarily deferred)",
           "100/hour", hours(1), kRate, Blame::kRate),
      Suspend("yahoo-bl", R"(\[bl2\d\])", hours(4), kRep, Blame::kPath),
      Suspend("aol-block", R"(\b(?:rly|rtr|con|hvu):b[0-9b]\b|\brtr:bl\b)", hours(4), kRep,
              Blame::kPath),
      Slow("aol-rate", R"(\b(?:dyn|rly|con):t\d\b)", "100/hour", hours(1), kRate, Blame::kRate),
      // --- Gmail (support.google.com/mail/answer/3726730) ---
      Slow("gmail-4.7.28", R"(^4\d\d 4\.7\.28\b)", "100/hour", hours(1), kRate, Blame::kRate),
      // --- Microsoft (Outlook.com, Microsoft 365) ---
      Suspend("microsoft-sc",
              R"(\bsc-00[1-4]\b|\bs3150\b|\bs3140\b|part of their network is on our block)",
              hours(4), kRep, Blame::kPath),
      Suspend("microsoft-banned-ip", R"(\b5\.7\.6(?:0[6-9]|[1-4]\d)\b|banned sending ip)", hours(4),
              kRep, Blame::kPath),
      Slow("microsoft-4.7.65x", R"(^4\d\d 4\.7\.65\d\b)", "100/hour", hours(1), kRep, Blame::kPath),
      Slow("microsoft-server-busy", R"(^4\d\d 4\.7\.500\b|server busy)", "60/min", minutes(15),
           kRate, Blame::kRate),
      Slow("microsoft-rp", R"(\brp-00[1-3]\b)", "100/hour", hours(1), kRate, Blame::kRate),
      // --- Comcast, Cox ---
      Suspend("comcast-bl", R"(\bbl0000\d\d\b)", hours(4), kRep, Blame::kPath),
      Slow("comcast-rl", R"(\brl0000\d\d\b)", "100/hour", hours(1), kRate, Blame::kRate),
      Suspend("cox-block", R"(\b(?:cxbl|cxdnsbl|ipbl\d+)\b)", hours(4), kRep, Blame::kPath),
      // --- Orange, La Poste: "service refusé, veuillez essayer plus tard" ---
      Suspend("orange-laposte-service-refused", R"(service refuse)", minutes(15), kRate,
              Blame::kRate),
      // --- Mimecast ---
      Suspend("mimecast-internal-resource", R"(^4\d\d .*internal resource temporarily)",
              minutes(15), kRate, Blame::kRate),
      Suspend("mimecast-host-network", R"(host network not allowed)", hours(4), kRep, Blame::kPath),
      // --- QQ, NetEase (163.com) ---
      Suspend("qq-ip-frequency", R"(ip frequency limited)", hours(1), kRate, Blame::kRate),
      Slow("netease-rate", R"(\brp:(?:tr[cl]|cel|qrc)\b)", "100/hour", hours(1), kRate,
           Blame::kRate),
      // --- Stock MTAs: per-connection message limits ---
      Slow("messages-per-connection",
           R"(max(?:imum)? (?:number of )?messages? per (?:connection|session))", "60/min",
           minutes(15), kRate, Blame::kRate),
  };
}

}  // namespace postino::policy::internal
