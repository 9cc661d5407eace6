// reply_policy.h: the ONE place where an SMTP reply becomes a decision (after
// Postfix's smtp_trouble.c): what happens to the recipient (delivered, retry
// later, try the next MX, bounce), to the egress path (slow down, suspend)
// and to the address (suppress), and why (a category for reports and
// adaptive throttling). Nothing else in postino interprets reply codes.
#pragma once

#include <string_view>

#include "engine/smtp/client_session.h"
#include "engine/smtp/reply.h"

namespace postino::policy {

enum class Category {
  kThrottled,         // rate, volume or connection limits
  kReputation,        // IP/domain reputation, blocklists
  kPolicy,            // content or local policy
  kAuthentication,    // SPF/DKIM/DMARC, SMTP AUTH
  kInvalidRecipient,  // no such mailbox
  kMailboxFull,
  kMailboxDisabled,
  kGreylisted,
  kTlsRequired,
  kMessageTooLarge,
  kRelayDenied,
  kDns,  // missing PTR, unresolvable sender domain, null MX
  kOther,
};

enum class RecipientAction {
  kDelivered,   // 2xx
  kRetryLater,  // 4xx (or local failure) once a transaction had started
  kTryNextMx,   // 4xx/421/local failure before any transaction (connect..AUTH)
  kBounce,      // 5xx: permanent, always and only
};

enum class PathAction {
  kNone,
  kSlowDown,  // lower the rate/concurrency of the egress path
  kSuspend,   // stop using the egress path until someone fixes it or a backoff ends
};

struct Decision {
  RecipientAction recipient = RecipientAction::kRetryLater;
  PathAction path = PathAction::kNone;
  Category category = Category::kOther;
  // True when the address should go to the suppression list: a permanent
  // invalid-recipient or mailbox-disabled reply. Never for path problems.
  bool suppress = false;
  // 5xx. Follows the basic code alone, whatever the text or enhanced code say.
  bool permanent = false;
};

// Classifies `reply`, received (or made up locally) in `phase`.
Decision Classify(smtp::Phase phase, const smtp::Reply& reply);

// "throttled", "reputation", "policy", "authentication", "invalid_recipient",
// "mailbox_full", "mailbox_disabled", "greylisted", "tls_required",
// "message_too_large", "relay_denied", "dns", "other".
std::string_view CategoryName(Category category);
std::string_view RecipientActionName(RecipientAction action);
std::string_view PathActionName(PathAction action);

// One label for the whole decision: "delivered", "retry_later",
// "try_next_mx", "slow_down_path", "suspend_path", "bounce",
// "bounce_and_suppress" (the path action wins over the recipient's).
std::string_view SuggestedAction(const Decision& decision);

}  // namespace postino::policy
