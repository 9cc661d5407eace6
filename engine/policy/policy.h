// policy.h: the ONE place an SMTP reply becomes a decision. A Policy holds
// one rule table — the operator's [[backoff]] rules, then the built-in
// provider rules — and the principled classification (RFC 3463 enhanced
// code, then which party the text blames). Classify() returns everything
// the engine and the scheduler act on: what happens to the recipient
// (delivered, retry later, next MX, bounce), to the egress path (slow down
// to a rate, or suspend, and for how long), whether the address is
// suppressed, a category and the rule that matched, for reports.
// Rules are RE2 (linear time, no recursion) over a bounded normalized text.
// See docs/policy.md for the rule table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/rate.h"
#include "common/status.h"
#include "engine/smtp/client_session.h"
#include "engine/smtp/reply.h"

namespace postino::policy {

enum class Category {
  kThrottled,          // rate, volume or connection limits
  kReputation,         // IP/domain reputation, blocklists
  kPolicy,             // content or local policy
  kAuthentication,     // SPF/DKIM/DMARC, SMTP AUTH
  kInvalidRecipient,   // no such mailbox
  kMailboxFull,        // over quota (x.2.2)
  kMailboxDisabled,    // mailbox exists but is disabled, inactive, frozen
  kGreylisted,         // come back later, nothing wrong
  kTlsRequired,        // the peer wants (or we required) TLS
  kMessageTooLarge,    // x.3.4, x.2.3
  kRelayDenied,        // the server does not relay for us
  kDns,                // missing PTR, unresolvable sender/recipient domain
  kTooManyRecipients,  // RFC 5321 §4.5.3.1.10: the transaction is full (x.5.3, bare 452)
  kSender,             // sender address/domain refused: not the recipient's fault
  kOther,
};

// Which party a reply blames; suppress follows only from kRecipient.
enum class Blame {
  kUnknown,    // nothing says (generic 4xx/5xx, local failures)
  kRecipient,  // the recipient's mailbox: unknown, disabled, full, too big for it
  kSender,     // our envelope sender, its domain, its authentication
  kPath,       // the sending IP/domain reputation, PTR, TLS, relay: the egress path
  kRate,       // rate, volume, connection limits
  kContent,    // the message itself: spam/virus/content policy
};

enum class RecipientAction {
  kDelivered,   // 2xx
  kRetryLater,  // 4xx (or local failure) once a transaction had started
  kTryNextMx,   // 4xx/421/local failure before any transaction (connect..AUTH)
  kBounce,      // 5xx, or a rule whose action is bounce
};

enum class PathAction {
  kNone,
  kSlowDown,  // lower the rate of the egress path for path_for, then recover
  kSuspend,   // stop using the egress path for path_for
};

struct Decision {
  RecipientAction recipient = RecipientAction::kRetryLater;
  PathAction path = PathAction::kNone;
  // kSuspend / kSlowDown: how long. Always > 0 when path != kNone.
  Nanos path_for{0};
  // kSlowDown: the rate while slowed (always set for kSlowDown).
  std::optional<Rate> rate;
  // kSlowDown: after path_for the rate doubles every recovery_interval.
  Nanos recovery_interval{0};
  Category category = Category::kOther;
  Blame blame = Blame::kUnknown;
  // Only when the RECIPIENT is the cause (no such user, mailbox disabled),
  // and permanent. Never for a sender, path, rate or content reply.
  bool suppress = false;
  // 5xx. Follows the basic code alone, whatever the text or enhanced code say.
  bool permanent = false;
  // The rule that decided, for reports: "rfc3463-x.1.1", "text-ip-block",
  // "gmail-4.7.28", a [[backoff]] name; "" for a positive reply.
  std::string rule;
};

// One configured ([[backoff]]) or built-in provider rule.
struct RuleSpec {
  std::string name;
  // RE2, case-insensitive, searched in NormalizeReply(reply) ("CODE ENH TEXT").
  std::string pattern;
  // "" = any site; else a domain / MX pattern such as "*.google.com"
  // (common/host_pattern.h SiteMatches against the site key).
  std::string site;
  enum class Action { kSuspend, kSlowDown, kBounce } action = Action::kSuspend;
  Nanos duration{std::chrono::hours(1)};
  std::optional<Rate> rate;  // kSlowDown (required)
  Nanos recovery_interval{std::chrono::minutes(5)};
};

class Policy {
 public:
  // `configured` rules first, in order, then (use_builtin) the built-in
  // provider rules. Fails naming the rule when a pattern does not compile,
  // a slow-down has no rate, or a suspend/slow-down has no positive duration.
  static Result<std::shared_ptr<const Policy>> Create(std::vector<RuleSpec> configured,
                                                      bool use_builtin);

  // The whole decision for `reply`, received (or made up locally) in
  // `phase`, on site `site_key` (shaping::MakeSiteKey; "" = unknown).
  // Bounded in time and memory whatever the reply's size.
  Decision Classify(smtp::Phase phase, const smtp::Reply& reply,
                    std::string_view site_key = {}) const;

  size_t rule_count() const;

  ~Policy();
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  struct Rules;  // compiled rule table (policy.cc)

 private:
  explicit Policy(std::unique_ptr<Rules> rules);
  std::unique_ptr<Rules> rules_;
};

// The built-in rules only (no configured rules). Never fails.
const Policy& DefaultPolicy();

// DefaultPolicy().Classify(phase, reply, ""): the built-in rules only, for
// tests and tools. The engine classifies with the Policy it is given
// (EngineConfig::policy), so configured [[backoff]] rules apply.
Decision Classify(smtp::Phase phase, const smtp::Reply& reply);

// Memory bound of each compiled rule pattern (RE2 max_mem).
inline constexpr int64_t kRe2MaxMem = 1 << 20;

// Maximum length of NormalizeReply's output; longer replies are cut.
inline constexpr size_t kMaxNormalizedReply = 4096;

// "CODE ENHANCED TEXT" of a raw reply: the code of the final line, the
// enhanced code after it (if any), and the text of every line joined by
// single spaces, each line's "CODE-"/"CODE " and repeated enhanced code
// removed. Tolerates replies without a code. At most kMaxNormalizedReply
// bytes (the text is cut; at most 512 bytes are kept per line).
std::string NormalizeReply(std::string_view raw);
// The same for a parsed reply.
std::string NormalizeReply(const smtp::Reply& reply);

// "throttled", "reputation", "policy", "authentication", "invalid_recipient",
// "mailbox_full", "mailbox_disabled", "greylisted", "tls_required",
// "message_too_large", "relay_denied", "dns", "too_many_recipients",
// "sender", "other".
std::string_view CategoryName(Category category);
// "unknown", "recipient", "sender", "path", "rate", "content".
std::string_view BlameName(Blame blame);
std::string_view RecipientActionName(RecipientAction action);
std::string_view PathActionName(PathAction action);
// "suspend", "slow", "bounce" (the [[backoff]] action names).
std::string_view RuleActionName(RuleSpec::Action action);

// One label for the whole decision: "delivered", "retry_later",
// "try_next_mx", "slow_down_path", "suspend_path", "bounce",
// "bounce_and_suppress" (the path action wins over the recipient's).
std::string_view SuggestedAction(const Decision& decision);

}  // namespace postino::policy
