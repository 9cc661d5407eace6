// reply_policy.cc: see reply_policy.h. Category first from specific RFC 3463
// codes, then from provider text patterns (Gmail, Yahoo, Microsoft, Orange,
// Mimecast, Proofpoint, blocklists...), then from the generic enhanced code.
// The path and recipient actions follow from category, code and phase.
#include "engine/policy/reply_policy.h"

#include <array>
#include <charconv>
#include <string>

#include "engine/smtp/reply_parser.h"

namespace postino::policy {
namespace {

using smtp::Phase;
using smtp::Reply;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The reply's lines joined with spaces and lower-cased, each without the
// enhanced code that multi-line replies repeat at the start of every line
// (so "at a rate that / 5.2.1 prevents" reads "at a rate that prevents").
std::string LowerTextWithoutCodes(const Reply& reply) {
  std::string out;
  for (const std::string& line : reply.lines) {
    std::string_view rest = line;
    size_t n = smtp::EnhancedCodeLength(rest, rest.empty() ? '0' : rest[0]);
    if (n > 0 && (rest[0] == '2' || rest[0] == '4' || rest[0] == '5')) {
      rest.remove_prefix(n);
    }
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (!out.empty()) out.push_back(' ');
    out.append(rest);
  }
  return Lower(out);
}

// The enhanced code split into subject and detail ("5.7.28" -> 7, 28).
struct Enhanced {
  bool present = false;
  int subject = -1;
  int detail = -1;
  bool Is(int s, int d) const { return present && subject == s && detail == d; }
};

Enhanced SplitEnhanced(std::string_view code) {
  Enhanced e;
  size_t dot1 = code.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : code.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return e;
  std::string_view subject = code.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view detail = code.substr(dot2 + 1);
  auto s = std::from_chars(subject.data(), subject.data() + subject.size(), e.subject);
  auto d = std::from_chars(detail.data(), detail.data() + detail.size(), e.detail);
  e.present = s.ec == std::errc() && d.ec == std::errc();
  return e;
}

bool Has(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

template <size_t N>
bool HasAny(const std::string& text, const std::array<std::string_view, N>& needles) {
  for (std::string_view n : needles) {
    if (Has(text, n)) return true;
  }
  return false;
}

constexpr std::array<std::string_view, 17> kBlocklist = {"spamhaus",
                                                         "blocked using",
                                                         "block list",
                                                         "blocklist",
                                                         "blacklist",
                                                         "dnsbl",
                                                         "spamcop",
                                                         "sorbs",
                                                         "[bl",
                                                         "client host blocked",
                                                         "network not allowed",
                                                         "listed at",
                                                         "listed on",
                                                         "is listed",
                                                         "sc-001",
                                                         "sc-004",
                                                         "unwanted messages"};
constexpr std::array<std::string_view, 4> kYahooReputation = {"[ts01]", "[ts02]", "[ts03]",
                                                              "[tss09]"};
constexpr std::array<std::string_view, 6> kDnsSender = {
    "ptr record", "ptr resource", "reverse dns", "rdns", "reverse lookup", "no ptr"};
constexpr std::array<std::string_view, 6> kDnsDomain = {"domain not found", "unresolvable",
                                                        "invalid domain",   "host not found",
                                                        "null mx",          "does not resolve"};
constexpr std::array<std::string_view, 7> kAuthentication = {
    "dmarc", "unauthenticated", "spf", "dkim", "authentication", "authenticate", "not authorized"};
constexpr std::array<std::string_view, 20> kThrottle = {"rate limit",
                                                        "rate that prevents",
                                                        "unusual rate",
                                                        "too many concurrent",
                                                        "too many connect",
                                                        "too many recent",
                                                        "too many messages",
                                                        "excessive volume",
                                                        "unexpected volume",
                                                        "frequency limit",
                                                        "limit exceeded",
                                                        "exceeded their limit",
                                                        "exceeded the limit",
                                                        "max message per",
                                                        "rp-00",
                                                        "service refuse",
                                                        "[tss04]",
                                                        "[ipts04]",
                                                        "try again in",
                                                        "internal resource temporarily"};
// Throttling that calls for stopping the path, not just slowing it.
constexpr std::array<std::string_view, 5> kThrottleSuspend = {
    "[tss04]", "[ipts04]", "service refuse", "internal resource temporarily", "blocked ip"};
constexpr std::array<std::string_view, 10> kMailboxFull = {"quota",
                                                           "mailbox full",
                                                           "mailbox is full",
                                                           "out of storage",
                                                           "storage allocation",
                                                           "insufficient storage",
                                                           "mailbox size limit",
                                                           "over the limit of",
                                                           "full mailbox",
                                                           "exceeded storage"};
constexpr std::array<std::string_view, 9> kDisabled = {
    "disabled",         "inactive",        "account is blocked",
    "discontinued",     "deactivated",     "account has been suspended",
    "no longer active", "expired account", "account expired"};
constexpr std::array<std::string_view, 15> kInvalid = {"user unknown",
                                                       "unknown user",
                                                       "does not exist",
                                                       "doesn't exist",
                                                       "doesn't have a",
                                                       "no such user",
                                                       "invalid recipient",
                                                       "mailbox unavailable",
                                                       "not our customer",
                                                       "recipient address rejected: access denied",
                                                       "all recipient addresses rejected",
                                                       "no mailbox",
                                                       "unknown recipient",
                                                       "no such mailbox",
                                                       "address unknown"};
constexpr std::array<std::string_view, 6> kTooLarge = {
    "too large", "size exceeds", "too big", "size limit", "exceeds fixed", "message size"};
constexpr std::array<std::string_view, 9> kPolicy = {"policy",      "spam",         "content",
                                                     "unsolicited", ", ube",        " ube,",
                                                     "virus",       "not accepted", "not allowed"};

Category Categorize(const Reply& reply, const Enhanced& e, const std::string& t) {
  // 1. Enhanced codes that mean one thing whoever sends them.
  if (e.Is(7, 28)) return Category::kThrottled;  // Gmail/M3AAWG rate limit
  if (e.Is(7, 26) || e.Is(7, 27) || e.Is(7, 32) || e.Is(7, 515) || e.Is(7, 20) || e.Is(7, 21) ||
      e.Is(7, 22) || e.Is(7, 23) || e.Is(7, 24) || e.Is(7, 8)) {
    return Category::kAuthentication;
  }
  if (e.Is(7, 25)) return Category::kDns;  // no PTR / forward mismatch
  if (e.Is(7, 10) || e.Is(7, 11)) return Category::kTlsRequired;
  if (e.Is(2, 121) || e.Is(2, 122)) return Category::kThrottled;   // Microsoft per-recipient
  if (e.Is(7, 650) || e.Is(7, 651)) return Category::kReputation;  // Microsoft IP reputation
  if (e.Is(2, 2)) return Category::kMailboxFull;
  if (e.Is(2, 3) || e.Is(3, 4)) return Category::kMessageTooLarge;
  if (e.Is(7, 13)) return Category::kMailboxDisabled;
  if (e.Is(1, 8)) return Category::kDns;                  // bad sender system address
  if (e.Is(4, 5) || e.Is(4, 6)) return Category::kOther;  // congestion, routing loop

  // 2. Text: provider signals, from the most to the least specific.
  if (Has(t, "greylist") || Has(t, "graylist")) return Category::kGreylisted;
  if (Has(t, "starttls") || Has(t, "tls required") || Has(t, "requires tls") ||
      Has(t, "must use tls") || Has(t, "encryption required")) {
    return Category::kTlsRequired;
  }
  if (Has(t, "relay") && (Has(t, "denied") || Has(t, "not permitted") || Has(t, "not allowed"))) {
    return Category::kRelayDenied;
  }
  if (HasAny(t, kBlocklist) || HasAny(t, kYahooReputation)) return Category::kReputation;
  if (Has(t, "reputation")) return Category::kReputation;
  if (HasAny(t, kDnsSender) || HasAny(t, kDnsDomain)) return Category::kDns;
  if (HasAny(t, kAuthentication)) return Category::kAuthentication;
  if (HasAny(t, kThrottle) || Has(t, "blocked ip")) {
    // A permanent block for "unusual rate" from the policy subject (x.7.x)
    // is a reputation verdict on the IP, not a rate to slow down to.
    if (reply.IsPermanent() && e.present && e.subject == 7) return Category::kReputation;
    return Category::kThrottled;
  }
  if (HasAny(t, kMailboxFull)) return Category::kMailboxFull;
  if (HasAny(t, kDisabled)) return Category::kMailboxDisabled;
  if (HasAny(t, kInvalid)) return Category::kInvalidRecipient;
  if (HasAny(t, kTooLarge)) return Category::kMessageTooLarge;
  if (HasAny(t, kPolicy)) return Category::kPolicy;

  // 3. The generic meaning of the enhanced code (RFC 3463).
  if (e.present) {
    switch (e.subject) {
      case 1:
        if (e.detail == 7) return Category::kPolicy;  // bad sender mailbox syntax
        if (e.detail == 2) return Category::kDns;     // bad destination system
        return Category::kInvalidRecipient;           // x.1.0, x.1.1, x.1.3, x.1.6 ...
      case 2:
        if (e.detail == 1) return Category::kMailboxDisabled;
        return Category::kOther;
      case 3:
        return Category::kOther;
      case 7:
        return Category::kPolicy;
      default:
        return Category::kOther;
    }
  }
  return Category::kOther;
}

// Replies about this recipient's own limits, not the sender's path.
bool PerRecipientLimit(const Enhanced& e, const std::string& t) {
  return (e.present && e.subject == 2) || Has(t, "the user you are trying to contact") ||
         Has(t, "the recipient has exceeded");
}

bool BeforeTransaction(Phase phase) {
  switch (phase) {
    case Phase::kConnect:
    case Phase::kBanner:
    case Phase::kEhlo:
    case Phase::kHelo:
    case Phase::kStartTls:
    case Phase::kTlsHandshake:
    case Phase::kAuth:
      return true;
    default:
      return false;
  }
}

}  // namespace

Decision Classify(Phase phase, const Reply& reply) {
  Decision d;
  if (reply.code >= 200 && reply.code < 300) {
    d.recipient = RecipientAction::kDelivered;
    d.category = Category::kOther;
    return d;
  }
  d.permanent = reply.code >= 500 && reply.code < 600;
  const std::string text = LowerTextWithoutCodes(reply);
  const Enhanced e = SplitEnhanced(reply.enhanced);
  d.category = Categorize(reply, e, text);

  if (d.permanent) {
    d.recipient = RecipientAction::kBounce;
  } else if (BeforeTransaction(phase)) {
    d.recipient = RecipientAction::kTryNextMx;
  } else {
    d.recipient = RecipientAction::kRetryLater;
  }

  switch (d.category) {
    case Category::kThrottled:
      if (HasAny(text, kThrottleSuspend)) {
        d.path = PathAction::kSuspend;
      } else if (PerRecipientLimit(e, text)) {
        d.path = PathAction::kNone;
      } else if (d.permanent) {
        d.path = PathAction::kSuspend;
      } else {
        d.path = PathAction::kSlowDown;
      }
      break;
    case Category::kReputation:
      d.path = d.permanent || HasAny(text, kYahooReputation) ? PathAction::kSuspend
                                                             : PathAction::kSlowDown;
      break;
    case Category::kAuthentication:
      if (!d.permanent) {
        d.path = PathAction::kSlowDown;  // Gmail 4.7.26/4.7.32 "rate limited, unauthenticated"
      } else if (phase == Phase::kAuth) {
        d.path = PathAction::kSuspend;  // our credentials are wrong: fix the route
      }
      break;
    case Category::kDns:
      // The sender side (PTR, sender domain) needs fixing; a bad recipient
      // domain is that recipient's problem.
      if (d.permanent &&
          (HasAny(text, kDnsSender) || e.Is(7, 25) || e.Is(1, 8) || Has(text, "sender"))) {
        d.path = PathAction::kSuspend;
      }
      break;
    case Category::kTlsRequired:
      d.path = PathAction::kSuspend;
      break;
    default:
      break;
  }
  d.suppress = d.permanent && (d.category == Category::kInvalidRecipient ||
                               d.category == Category::kMailboxDisabled);
  return d;
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

std::string_view SuggestedAction(const Decision& d) {
  if (d.recipient == RecipientAction::kDelivered) return "delivered";
  if (d.path == PathAction::kSuspend) return "suspend_path";
  if (d.path == PathAction::kSlowDown) return "slow_down_path";
  if (d.recipient == RecipientAction::kBounce) return d.suppress ? "bounce_and_suppress" : "bounce";
  if (d.recipient == RecipientAction::kTryNextMx) return "try_next_mx";
  return "retry_later";
}

}  // namespace postino::policy
