// rules.h: internal to engine/policy. The built-in provider rule table
// (provider_rules.cc) and the principled classification (principled.cc)
// that Policy (policy.cc) puts together with the configured rules.
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string_view>
#include <vector>

#include "engine/policy/policy.h"

namespace postino::policy::internal {

// The options every pattern of the policy is compiled with: case-insensitive,
// no captures, memory bounded by kRe2MaxMem (past it RE2 falls back to its
// slower linear NFA; RE2's default bound is 8 MB).
RE2::Options PatternOptions();

// A built-in provider rule: a RuleSpec plus what it says about the reply.
struct ProviderRule {
  RuleSpec spec;
  Category category = Category::kOther;
  Blame blame = Blame::kUnknown;
};

// Gmail, Yahoo/AOL, Microsoft, Apple, Comcast, Cox, Orange/La Poste,
// Mimecast, QQ..., in match order.
std::vector<ProviderRule> ProviderRules();

// The default path actions of the principled classification (docs/policy.md).
struct PathDefaults {
  static constexpr std::chrono::hours kBlockSuspend{4};      // blocklist, banned IP, 5xx reputation
  static constexpr std::chrono::hours kPtrSuspend{4};        // missing PTR / rDNS / HELO
  static constexpr std::chrono::hours kTlsSuspend{1};        // TLS required
  static constexpr std::chrono::hours kSenderDnsSuspend{1};  // 5xx sender domain DNS / null MX
  static constexpr std::chrono::hours kAuthSuspend{1};       // 5xx to our SMTP AUTH
  static constexpr std::chrono::hours kSlowFor{1};           // rate, 4xx reputation, 4xx auth
  static constexpr std::chrono::minutes kConnectionSlowFor{15};  // connection limits
  static constexpr std::chrono::minutes kRecovery{10};
  static constexpr std::string_view kSlowRate = "100/hour";
  static constexpr std::string_view kConnectionSlowRate = "60/min";
};

// RFC 3463 semantics of the enhanced code, then the party the text blames.
class Principled {
 public:
  static const Principled& Instance();
  ~Principled();
  // False when a built-in pattern failed to compile (a bug; tests check).
  bool ok() const;
  // `normalized` is NormalizeReply(reply). Never called for 2xx. Sets
  // `*generic` when neither a specific code nor the text decided, only the
  // generic meaning of the code (provider rules may then override it).
  Decision Classify(smtp::Phase phase, const smtp::Reply& reply, std::string_view normalized,
                    bool* generic = nullptr) const;

  struct Patterns;

 private:
  Principled();
  std::unique_ptr<Patterns> p_;
};

}  // namespace postino::policy::internal
