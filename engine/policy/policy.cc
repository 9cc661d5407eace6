// policy.cc: Policy — the one rule table (configured [[backoff]] rules, then
// the built-in provider rules) over the principled classification — and the
// names used in reports. See policy.h and docs/policy.md.
#include "engine/policy/policy.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include "engine/policy/rules.h"
#include "common/host_pattern.h"

namespace postino::policy {
namespace {

// Puts a rule's path action (or bounce) into `d`.
void ApplyRule(const RuleSpec& s, Decision* d) {
  d->path = PathAction::kNone;
  d->path_for = Nanos(0);
  d->rate.reset();
  d->recovery_interval = Nanos(0);
  switch (s.action) {
    case RuleSpec::Action::kBounce:
      d->recipient = RecipientAction::kBounce;
      break;
    case RuleSpec::Action::kSuspend:
      d->path = PathAction::kSuspend;
      d->path_for = s.duration;
      break;
    case RuleSpec::Action::kSlowDown:
      d->path = PathAction::kSlowDown;
      d->path_for = s.duration;
      d->rate = s.rate;
      d->recovery_interval = s.recovery_interval;
      break;
  }
  d->rule = s.name;
}

}  // namespace

struct Policy::Rules {
  struct Compiled {
    RuleSpec spec;
    std::unique_ptr<RE2> re;
    bool builtin = false;
    Category category = Category::kOther;
    Blame blame = Blame::kUnknown;

    bool Matches(std::string_view normalized, std::string_view site_key) const {
      if (!spec.site.empty() && !SiteMatches(spec.site, site_key)) return false;
      return RE2::PartialMatch(normalized, *re);
    }
  };
  std::vector<Compiled> rules;  // configured first, then built-in
};

Policy::Policy(std::unique_ptr<Rules> rules) : rules_(std::move(rules)) {}
Policy::~Policy() = default;

size_t Policy::rule_count() const { return rules_->rules.size(); }

Result<std::shared_ptr<const Policy>> Policy::Create(std::vector<RuleSpec> configured,
                                                     bool use_builtin) {
  auto rules = std::make_unique<Rules>();
  auto add = [&](RuleSpec spec, bool builtin, Category category, Blame blame) -> Status {
    if (spec.action == RuleSpec::Action::kSlowDown && (!spec.rate || !spec.rate->valid())) {
      return Status::InvalidArgument(
          fmt::format("backoff rule \"{}\": action slow needs a rate", spec.name));
    }
    if (spec.action != RuleSpec::Action::kBounce && spec.duration.count() <= 0) {
      return Status::InvalidArgument(
          fmt::format("backoff rule \"{}\": duration must be positive", spec.name));
    }
    if (spec.action == RuleSpec::Action::kSlowDown && spec.recovery_interval.count() <= 0) {
      return Status::InvalidArgument(
          fmt::format("backoff rule \"{}\": recovery_interval must be positive", spec.name));
    }
    auto re = std::make_unique<RE2>(spec.pattern, internal::PatternOptions());
    if (!re->ok()) {
      return Status::InvalidArgument(
          fmt::format("backoff rule \"{}\": \"{}\" is not a valid regular expression (RE2): {}",
                      spec.name, spec.pattern, re->error()));
    }
    rules->rules.push_back({std::move(spec), std::move(re), builtin, category, blame});
    return Status::Ok();
  };
  for (RuleSpec& s : configured) {
    if (Status st = add(std::move(s), false, Category::kOther, Blame::kUnknown); !st.ok()) {
      return st;
    }
  }
  if (use_builtin) {
    for (internal::ProviderRule& r : internal::ProviderRules()) {
      if (Status st = add(std::move(r.spec), true, r.category, r.blame); !st.ok()) return st;
    }
  }
  return std::shared_ptr<const Policy>(new Policy(std::move(rules)));
}

Decision Policy::Classify(smtp::Phase phase, const smtp::Reply& reply,
                          std::string_view site_key) const {
  Decision d;
  if (reply.code >= 200 && reply.code < 300) {
    d.recipient = RecipientAction::kDelivered;
    return d;
  }
  const std::string normalized = NormalizeReply(reply);
  bool generic = false;
  d = internal::Principled::Instance().Classify(phase, reply, normalized, &generic);
  // A provider rule refines a path decision; it never overrides a reply
  // whose code or text blames the recipient, a per-recipient limit or a full
  // transaction (a generic code alone, "550 5.1.1", does not stop it).
  const bool provider_may_apply =
      generic || (d.blame != Blame::kRecipient && d.category != Category::kTooManyRecipients &&
                  !(d.category == Category::kThrottled && d.path == PathAction::kNone));
  for (const Rules::Compiled& r : rules_->rules) {
    if (r.builtin && !provider_may_apply) break;  // built-in rules come last
    if (!r.Matches(normalized, site_key)) continue;
    ApplyRule(r.spec, &d);
    if (r.builtin) {
      d.category = r.category;
      d.blame = r.blame;
    } else if (r.spec.action != RuleSpec::Action::kBounce) {
      d.blame = d.blame == Blame::kRecipient ? Blame::kPath : d.blame;
    }
    // A path rule (built-in or the operator's) says the path, not the
    // recipient, is the cause; a configured bounce keeps the recipient's
    // suppression only when the reply itself blames the recipient.
    if (r.spec.action != RuleSpec::Action::kBounce) d.suppress = false;
    return d;
  }
  return d;
}

const Policy& DefaultPolicy() {
  static const std::shared_ptr<const Policy> policy = [] {
    Result<std::shared_ptr<const Policy>> p = Policy::Create({}, true);
    // The built-in rules compile (tests/unit/policy check it); should they
    // not, the principled classification still runs.
    if (!p.ok()) p = Policy::Create({}, false);
    return std::move(p).value();
  }();
  return *policy;
}

Decision Classify(smtp::Phase phase, const smtp::Reply& reply) {
  return DefaultPolicy().Classify(phase, reply);
}

std::string_view CategoryName(Category category) {
  switch (category) {
    case Category::kThrottled:
      return "throttled";
    case Category::kReputation:
      return "reputation";
    case Category::kPolicy:
      return "policy";
    case Category::kAuthentication:
      return "authentication";
    case Category::kInvalidRecipient:
      return "invalid_recipient";
    case Category::kMailboxFull:
      return "mailbox_full";
    case Category::kMailboxDisabled:
      return "mailbox_disabled";
    case Category::kGreylisted:
      return "greylisted";
    case Category::kTlsRequired:
      return "tls_required";
    case Category::kMessageTooLarge:
      return "message_too_large";
    case Category::kRelayDenied:
      return "relay_denied";
    case Category::kDns:
      return "dns";
    case Category::kTooManyRecipients:
      return "too_many_recipients";
    case Category::kSender:
      return "sender";
    case Category::kOther:
      return "other";
  }
  return "other";
}

std::string_view BlameName(Blame blame) {
  switch (blame) {
    case Blame::kUnknown:
      return "unknown";
    case Blame::kRecipient:
      return "recipient";
    case Blame::kSender:
      return "sender";
    case Blame::kPath:
      return "path";
    case Blame::kRate:
      return "rate";
    case Blame::kContent:
      return "content";
  }
  return "unknown";
}

std::string_view RecipientActionName(RecipientAction action) {
  switch (action) {
    case RecipientAction::kDelivered:
      return "delivered";
    case RecipientAction::kRetryLater:
      return "retry_later";
    case RecipientAction::kTryNextMx:
      return "try_next_mx";
    case RecipientAction::kBounce:
      return "bounce";
  }
  return "retry_later";
}

std::string_view PathActionName(PathAction action) {
  switch (action) {
    case PathAction::kNone:
      return "none";
    case PathAction::kSlowDown:
      return "slow_down";
    case PathAction::kSuspend:
      return "suspend";
  }
  return "none";
}

std::string_view RuleActionName(RuleSpec::Action action) {
  switch (action) {
    case RuleSpec::Action::kSuspend:
      return "suspend";
    case RuleSpec::Action::kSlowDown:
      return "slow";
    case RuleSpec::Action::kBounce:
      return "bounce";
  }
  return "suspend";
}

std::string_view SuggestedAction(const Decision& d) {
  if (d.recipient == RecipientAction::kDelivered) return "delivered";
  if (d.path == PathAction::kSuspend) return "suspend_path";
  if (d.path == PathAction::kSlowDown) return "slow_down_path";
  if (d.recipient == RecipientAction::kBounce) return d.suppress ? "bounce_and_suppress" : "bounce";
  if (d.recipient == RecipientAction::kTryNextMx) return "try_next_mx";
  return "retry_later";
}

}  // namespace postino::policy
