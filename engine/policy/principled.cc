// principled.cc: the classification every reply gets, whoever sent it.
// 1. Enhanced codes (RFC 3463 and registered extensions) whose meaning is
//    specific: sender (x.1.7, x.1.8, x.7.27), PTR (x.7.25), authentication
//    (x.7.20-26), TLS (x.7.10/11), rate (x.7.28, x.2.121/122), mailbox full
//    (x.2.2), too big (x.2.3, x.3.4), too many recipients (x.5.3), ...
// 2. Which party the TEXT blames, in a fixed order: greylisting, TLS, the
//    sending path (PTR, blocklists, banned IP, reputation), the sender (its
//    domain's DNS, its authentication, its address), rate, and only then the
//    recipient (full, disabled, unknown), the message size, the content.
// 3. The generic meaning of the enhanced code's subject (x.1 addressing,
//    x.2 mailbox, x.4 routing, x.7 policy), then the basic code alone.
// Suppress follows only from a permanent reply that blames the recipient.
// Patterns are RE2 (linear time) over the bounded NormalizeReply() text.
#include <re2/re2.h>

#include <charconv>
#include <string>

#include "engine/policy/rules.h"

namespace postino::policy::internal {

RE2::Options PatternOptions() {
  RE2::Options o;
  o.set_case_sensitive(false);
  o.set_never_capture(true);
  o.set_log_errors(false);
  o.set_max_mem(kRe2MaxMem);
  return o;
}
namespace {

using smtp::Phase;
using smtp::Reply;

// The enhanced code split into class, subject and detail ("5.7.28").
struct Enhanced {
  bool present = false;
  int klass = 0;
  int subject = -1;
  int detail = -1;
  bool Is(int s, int d) const { return present && subject == s && detail == d; }
  bool Subject(int s) const { return present && subject == s; }
};

Enhanced SplitEnhanced(std::string_view code) {
  Enhanced e;
  if (code.size() < 5 || code.size() > 16) return e;
  size_t dot1 = code.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : code.find('.', dot1 + 1);
  if (dot1 != 1 || dot2 == std::string_view::npos) return e;
  e.klass = code[0] - '0';
  std::string_view subject = code.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view detail = code.substr(dot2 + 1);
  auto s = std::from_chars(subject.data(), subject.data() + subject.size(), e.subject);
  auto d = std::from_chars(detail.data(), detail.data() + detail.size(), e.detail);
  e.present = s.ec == std::errc() && d.ec == std::errc() &&
              s.ptr == subject.data() + subject.size() && d.ptr == detail.data() + detail.size();
  return e;
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

// Words an IP/host/network is blocked by (for the banned-IP patterns).
#define POSTINO_BLOCK_VERB                                                                 \
  "(?:blocked|banned|blacklisted|black-listed|blocklisted|block-listed|denylisted|listed|" \
  "rejected|refused|denied)"

}  // namespace

// One RE2 per text class; all case-insensitive.
struct Principled::Patterns {
  explicit Patterns(const RE2::Options& o)
      : greylist(R"(gr[ae]y-?list|postgrey)", o),
        tls(R"(starttls|\btls\b[^;]{0,30}\b(?:required|mandatory)|requires? (?:a )?(?:tls|encrypt)|)"
            R"(must use (?:tls|encryption)|encryption (?:is )?required)",
            o),
        ptr(R"(\bptr\b|reverse dns|reverse (?:hostname|lookup|name|dns)|\br-?dns\b|\bfcrdns\b|)"
            R"(cannot find your (?:reverse )?hostname|(?:no|missing|invalid) (?:valid )?reverse|)"
            R"(helo command rejected|(?:invalid|bad) helo|helo (?:name|hostname) (?:rejected|invalid)|)"
            R"(need fully-qualified hostname|mismatches client ip|)"
            R"(does not match (?:your |the |client )?(?:ip|address))",
            o),
        sender_dns(
            R"((?:sender|from|mail from|mailfrom|envelope|return-path|return path|your domain)\b)"
            R"([^;]{0,60})"
            R"((?:domain not found|not resolv|unresolvable|does not resolve|doesn't resolve|)"
            R"(cannot be resolved|could not be resolved|no (?:mx|a|dns) records?|null ?mx|nxdomain|)"
            R"(domain (?:does not|doesn't) exist|non-?existent domain|has no (?:mx|dns))|)"
            R"((?:unresolvable|unresolved|not resolvable|non-?existent|nonexistent)\b[^;]{0,40})"
            R"((?:sender|from|mail from|envelope)\b[^;]{0,12}domain)",
            o),
        auth(
            R"(\bdmarc\b|\bspf\b|\bdkim\b|unauthenticated|not authenticated|domainkeys|)"
            R"(authentication (?:results|checks?|level|requirements?|information|failed|failure|required)|)"
            R"(fails? to (?:pass )?authenticat|authenticate with|must authenticate)",
            o),
        relay(
            R"(\brelay(?:ing)?\b[^;]{0,20}\b(?:denied|not permitted|not allowed|prohibited|refused|)"
            R"(disallowed)|(?:unable|not permitted|not allowed|denied) to relay|do not relay|no relaying|)"
            R"(rcpthosts)",
            o),
        blocklist(
            R"(spamhaus|spamcop|\bsorbs\b|barracuda|cloudmark|\bsbrs\b|senderscore|uceprotect|)"
            R"(\bpsbl\b|dnsbl|\brbl\b|\bblock ?list|\bblack ?list|\bdeny ?list|blocked using|)"
            R"(listed (?:in|at|on|by)\b|listing (?:in|at|on)\b|\bis listed\b|on our block|)"
            R"(network (?:is )?not allowed|unwanted (?:messages|mail|e-?mails)|)"
            R"(banned (?:sending |source |your )?(?:ip|host|network|server)|)"
            R"((?:\bips?|(?:your|sending|source|client|remote|connecting) (?:host|server|network|mta)))"
            R"((?: address)?(?: \[?[0-9a-fx.:]+\]?)?)"
            R"((?: (?:is|has been|was|are|have been))? (?:temporarily |permanently )?)" POSTINO_BLOCK_VERB
            R"(|(?:)" POSTINO_BLOCK_VERB
            R"(|not accepted|not allowed|not permitted)(?: \w+){0,2} from (?:this|your|the|sending|source|the sending) ?)"
            R"((?:ip|host|server|network)\b|client host (?:\[[^\]]{0,64}\] |[0-9a-z.:-]{1,64} )?(?:blocked|rejected|refused)|)"
            R"(adresse ip source bloquee|\bspam ?block|too many spams?\b|ipcheck|)"
            R"(not (?:in|on) (?:the |our )?(?:white|allow) ?list|dynamic(?:ally)?[- ]assigned|)"
            R"(\bdynamic ip|residential ip|not allowed to connect|\bip\b[^;.]{0,40}not authori[sz]ed|)"
            R"((?:denied|refused|blocked|banned|rejected) (?:for|to) (?:the |your |this )?)"
            R"((?:sending |source |client )?ip\b|)"
            R"((?:mail|messages?|connections?|traffic) from (?:ip )?\[?\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\]?)"
            R"((?: \w+){0,3} (?:refused|rejected|blocked|denied|not accepted))",
            o),
        domain_dns(R"(domain (?:not found|does not exist|doesn't exist|does not resolve)|)"
                   R"(unresolvable|does not resolve|host not found|nxdomain|invalid domain|)"
                   R"(unrouteable domain|no mx (?:record|host)|domain has no)",
                   o),
        access_denied(R"(recipient address rejected: access denied)", o),
        null_mx(R"(null ?mx|accepts no mail|does not accept mail)", o),
        reputation(R"(reputation|(?:user|spam) complaints|too many complaints|)"
                   R"(excessive (?:unknown|invalid) recipients|)"
                   R"(too many (?:unknown|invalid|bad) (?:recipients|users|addresses)|)"
                   R"(unusual (?:sending )?activity)",
                   o),
        too_many_rcpts(R"(too many (?:recipients|rcpts?)\b|recipient limit|)"
                       R"(max(?:imum)? (?:number of )?recipients)",
                       o),
        rate_time(
            R"(\b(?:per|an|this|each|every|the last|in the last|last) (?:hour|day|minute|second)s?\b|)"
            R"(hourly|daily|per-hour|/hour|sending (?:quota|limit))",
            o),
        rate(
            R"(rate[- ]?limit|unusual rate|(?:sending|hourly|daily|message|send) (?:quota|limit)|)"
            R"(rate that prevents|(?:sending|message|mail|connection) rate|)"
            R"(too many (?:\w+ ){0,2}(?:connections|sessions|messages|mails|e-?mails|recipients|rcpts?|)"
            R"(requests|commands|errors)|(?:concurrent|simultaneous|parallel) (?:\w+ )?connections?|)"
            R"(connections? (?:limit|count)|excessive (?:volume|traffic|messages|mail)|)"
            R"(unexpected volume|high volume|frequency limit|limit exceeded|)"
            R"(exceeded (?:the |their |your |its |our )?(?:\w+ ){0,2}limit|)"
            R"(max(?:imum)? (?:number of )?(?:messages?|mails?|connections) (?:per|reached|exceeded)|)"
            R"(throttl|slow down|temporarily deferred|server (?:is )?(?:too )?busy|service refused?\b)",
            o),
        connection(R"(connections?|sessions?|per connection)", o),
        per_recipient(
            R"((?:user|recipient|mailbox|account)(?: you are trying to contact)? )"
            R"((?:is receiving|has exceeded|has received|is getting|receives)|)"
            R"((?:to|for) this (?:recipient|user|mailbox)|recipient(?:'s)? (?:rate|limit))",
            o),
        sender(
            R"((?:sender(?:'s)?|sending)(?: address| domain| e-?mail)? (?:is |has been |was )?)"
            R"((?:rejected|refused|denied|blocked|banned|blacklisted|not allowed|not permitted|)"
            R"(not authori[sz]ed|invalid|unknown|not found|does not exist)|(?:banned|blocked|invalid|unknown|bad|unverified|rejected) sender|)"
            R"(sender (?:verify|verification) failed|could not verify sender|acceptable.use|)"
            R"(mail from address (?:rejected|refused|denied|invalid)|envelope sender|)"
            R"(sender not (?:allowed|permitted|authori[sz]ed)|unauthori[sz]ed sender)",
            o),
        full(R"(over ?quota|quota (?:exceeded|full)|exceeded (?:\w+ ){0,2}quota|\bquota\b|)"
             R"((?:mailbox|inbox|mail box) (?:is )?full|full mailbox|mailbox size|)"
             R"(out of storage|storage (?:space|allocation|quota)|insufficient storage|)"
             R"(not enough (?:storage|space)|exceeded storage|user is over)",
             o),
        disabled(
            R"(disabled|inactive|deactivated|discontinued|frozen|dormant|not active|)"
            R"(no longer (?:active|in use|available|exists?|used)|)"
            R"((?:account|mailbox|user|recipient)\b[^;]{0,30}\b(?:locked|closed|frozen|blocked|)"
            R"(suspended|expired|deleted|terminated|cancell?ed|removed)|)"
            R"(compte du destinataire est bloque)",
            o),
        invalid(
            R"(user unknown|unknown (?:user|recipient|mailbox|address|local[- ]?part|alias)|)"
            R"((?:user|recipient|mailbox|address|addressee)(?: \S+)? (?:is )?unknown|)"
            R"(could not be found|address not found|)"
            R"((?:address|mailbox|account|recipient)(?: \S+)? (?:is )?(?:not|no longer) valid|)"
            R"(does not exist|doesn't exist|not exists?\b|no such (?:user|recipient|mailbox|)"
            R"(address|account|person|local)|invalid (?:recipient|mailbox|address|user|account)|)"
            R"((?:recipient|mailbox|user) (?:address )?(?:is )?invalid|destinataire invalide|)"
            R"((?:mailbox|user|recipient|account)(?: \S+)? (?:not found|unavailable|not available)|)"
            R"(no (?:mailbox|account) |not our (?:customer|user)|address unknown|)"
            R"(doesn't have an? [^;]{0,40}account|bad (?:destination )?(?:mailbox|recipient)|)"
            R"(unrouteable address|undeliverable address|no longer valid|)"
            R"(not a valid (?:mailbox|recipient|user|address)|unknown in (?:local|virtual|relay)|)"
            R"(all recipient addresses rejected|)"
            R"(mailbox not found|unknown or illegal alias)",
            o),
        too_large(
            R"(too (?:large|big)|size (?:exceeds|limit|exceeded)|)"
            R"(exceeds? (?:\w+ ){0,3}(?:size|maximum message size)|message size|maximum size|)"
            R"(message length exceeds|mail size)",
            o),
        content(
            R"(spam|unsolicited|\bube\b|\buce\b|virus|malware|phish|content|attachment|)"
            R"(suspicious|polic(?:y|ies)|not accepted|not allowed|prohibited|forbidden|\bbulk\b|)"
            R"(blocked|will not accept)",
            o) {}

  bool ok() const {
    for (const RE2* r :
         {&greylist,  &tls,        &ptr,           &sender_dns,    &auth,       &relay,
          &blocklist, &domain_dns, &access_denied, &null_mx,       &reputation, &too_many_rcpts,
          &rate_time, &rate,       &connection,    &per_recipient, &sender,     &full,
          &disabled,  &invalid,    &too_large,     &content}) {
      if (!r->ok()) return false;
    }
    return true;
  }

  RE2 greylist, tls, ptr, sender_dns, auth, relay, blocklist, domain_dns, access_denied, null_mx,
      reputation, too_many_rcpts, rate_time, rate, connection, per_recipient, sender, full,
      disabled, invalid, too_large, content;
};

#undef POSTINO_BLOCK_VERB

namespace {

// Sets a timed path action; `rate` only for kSlowDown.
void Path(Decision* d, PathAction action, Nanos for_, std::string_view rate = {}) {
  d->path = action;
  d->path_for = for_;
  if (action == PathAction::kSlowDown) {
    d->rate = *ParseRate(rate);
    d->recovery_interval = PathDefaults::kRecovery;
  }
}

void SlowDown(Decision* d, bool connection_limit) {
  if (connection_limit) {
    Path(d, PathAction::kSlowDown, PathDefaults::kConnectionSlowFor,
         PathDefaults::kConnectionSlowRate);
  } else {
    Path(d, PathAction::kSlowDown, PathDefaults::kSlowFor, PathDefaults::kSlowRate);
  }
}

void Set(Decision* d, Category c, Blame b, std::string_view rule) {
  d->category = c;
  d->blame = b;
  d->rule.assign(rule);
}

}  // namespace

Principled::Principled() : p_(std::make_unique<Patterns>(PatternOptions())) {}
Principled::~Principled() = default;

const Principled& Principled::Instance() {
  static const Principled* instance = new Principled();
  return *instance;
}

bool Principled::ok() const { return p_->ok(); }

Decision Principled::Classify(Phase phase, const Reply& reply, std::string_view t,
                              bool* generic) const {
  const Patterns& p = *p_;
  Decision d;
  d.permanent = reply.code >= 500 && reply.code < 600;
  if (d.permanent) {
    d.recipient = RecipientAction::kBounce;
  } else if (BeforeTransaction(phase)) {
    d.recipient = RecipientAction::kTryNextMx;
  } else {
    d.recipient = RecipientAction::kRetryLater;
  }
  const Enhanced e = SplitEnhanced(reply.enhanced);
  auto has = [&](const RE2& re) { return RE2::PartialMatch(t, re); };
  const bool perm = d.permanent;

  // The path or rate classes, shared by the code and the text steps.
  auto block = [&](std::string_view rule) {
    Set(&d, Category::kReputation, Blame::kPath, rule);
    Path(&d, PathAction::kSuspend, PathDefaults::kBlockSuspend);
  };
  auto rate = [&](std::string_view rule) {
    const bool per_rcpt = e.Is(2, 121) || e.Is(2, 122) || has(p.per_recipient);
    if (has(p.reputation)) {
      Set(&d, Category::kReputation, Blame::kPath, rule);
      if (perm) {
        Path(&d, PathAction::kSuspend, PathDefaults::kBlockSuspend);
      } else {
        SlowDown(&d, false);
      }
      return;
    }
    Set(&d, Category::kThrottled, Blame::kRate, rule);
    if (has(p.blocklist)) return block(rule);  // "... has been blocked" (550 5.7.28)
    // This recipient's own limit: retry or bounce, the path is not slowed.
    if (!per_rcpt) SlowDown(&d, has(p.connection));
  };
  auto sender_dns = [&](std::string_view rule) {
    Set(&d, Category::kDns, Blame::kSender, rule);
    if (perm) Path(&d, PathAction::kSuspend, PathDefaults::kSenderDnsSuspend);
  };
  auto auth = [&](std::string_view rule) {
    Set(&d, Category::kAuthentication, Blame::kSender, rule);
    if (!perm) {
      // Gmail 4.7.26/4.7.32 "rate limited, unauthenticated": slow down; a
      // temporary SPF/DMARC evaluation error is only retried.
      if (has(p.rate)) SlowDown(&d, false);
    } else if (phase == Phase::kAuth) {
      d.blame = Blame::kPath;  // our route credentials are wrong: fix the route
      Path(&d, PathAction::kSuspend, PathDefaults::kAuthSuspend);
    }
  };
  auto tls = [&](std::string_view rule) {
    Set(&d, Category::kTlsRequired, Blame::kPath, rule);
    Path(&d, PathAction::kSuspend, PathDefaults::kTlsSuspend);
  };
  auto ptr = [&](std::string_view rule) {
    Set(&d, Category::kDns, Blame::kPath, rule);
    if (perm) Path(&d, PathAction::kSuspend, PathDefaults::kPtrSuspend);
  };
  auto recipient = [&](Category c, std::string_view rule) {
    Set(&d, c, Blame::kRecipient, rule);
    d.suppress = perm && (c == Category::kInvalidRecipient || c == Category::kMailboxDisabled ||
                          (c == Category::kMailboxFull && has(p.disabled)));
    if (c == Category::kDns) d.suppress = perm;  // x.1.10: the domain takes no mail (null MX)
  };
  auto too_many = [&](std::string_view rule) {
    Set(&d, Category::kTooManyRecipients, Blame::kRate, rule);
    // RFC 5321 §4.5.3.1.10: even a 552 here means "send the rest later".
    d.recipient = RecipientAction::kRetryLater;
  };

  // 3. The generic meaning of the enhanced code (RFC 3463 subjects).
  auto generic_code = [&]() {
    if (generic != nullptr) *generic = true;
    if (e.present) {
      switch (e.subject) {
        case 1:
          // x.1.1 bad mailbox, x.1.3 bad mailbox syntax, x.1.6 mailbox moved.
          if (e.detail == 1 || e.detail == 3 || e.detail == 6) {
            return recipient(Category::kInvalidRecipient, "rfc3463-x.1.1");
          }
          if (e.detail == 2) return Set(&d, Category::kDns, Blame::kUnknown, "rfc3463-x.1.2");
          break;
        case 2:
          if (e.detail == 1) return recipient(Category::kMailboxDisabled, "rfc3463-x.2.1");
          if (e.detail == 2) return recipient(Category::kMailboxFull, "rfc3463-x.2.2");
          break;
        case 4:
          if (e.detail == 4) return Set(&d, Category::kDns, Blame::kUnknown, "rfc3463-x.4.4");
          break;
        case 7:
          return Set(&d, Category::kPolicy, Blame::kUnknown, "rfc3463-x.7");
        default:
          break;
      }
    }
    Set(&d, Category::kOther, Blame::kUnknown, perm ? "basic-5xx" : "basic-4xx");
  };

  if (generic != nullptr) *generic = false;
  auto decide = [&]() {
    // 1. Enhanced codes whose meaning does not depend on who sends them.
    if (e.present) {
      if (e.Is(7, 27)) return sender_dns("rfc7505-x.7.27");  // sender domain has a null MX
      if (e.Is(1, 10)) {
        // RFC 7505's null MX; Microsoft uses 5.1.10 for "recipient not found".
        if (has(p.null_mx)) return recipient(Category::kDns, "rfc7505-x.1.10");
        return recipient(Category::kInvalidRecipient, "rfc3463-x.1.10");
      }
      if (e.Is(1, 8) || e.Is(1, 7)) {
        if (e.Is(1, 8) || has(p.sender_dns)) return sender_dns("rfc3463-x.1.8");
        return Set(&d, Category::kSender, Blame::kSender, "rfc3463-x.1.7");
      }
      if (e.Is(7, 25)) return ptr("rfc7372-x.7.25");
      if (e.Is(7, 28)) return rate("rfc-x.7.28");
      if (e.Is(7, 10) || e.Is(7, 11)) return tls("rfc3463-x.7.10");
      if (e.Is(7, 8) && phase == Phase::kAuth) return auth("rfc4954-x.7.8");
      if (e.Is(7, 26) || e.Is(7, 32) || e.Is(7, 515) ||
          (e.subject == 7 && e.detail >= 20 && e.detail <= 24)) {
        return auth("rfc7372-x.7.2x");
      }
      if (e.Is(7, 650) || e.Is(7, 651)) {
        Set(&d, Category::kReputation, Blame::kPath, "microsoft-x.7.65x");
        if (perm) {
          Path(&d, PathAction::kSuspend, PathDefaults::kBlockSuspend);
        } else {
          SlowDown(&d, false);
        }
        return;
      }
      if (e.subject == 7 && e.detail >= 606 && e.detail <= 649) {
        return block("microsoft-x.7.606");  // "Access denied, banned sending IP"
      }
      if (e.Is(7, 511)) return Set(&d, Category::kSender, Blame::kSender, "microsoft-x.7.511");
      if (e.Is(2, 121) || e.Is(2, 122)) return rate("microsoft-x.2.12x");
      if (e.Is(7, 13)) return recipient(Category::kMailboxDisabled, "rfc3463-x.7.13");
      if (e.Is(5, 3)) {
        if (has(p.rate_time)) return rate("rfc3463-x.5.3-rate");
        return too_many("rfc5321-x.5.3");
      }
      if (e.Is(2, 3) || e.Is(3, 4)) {
        return Set(&d, Category::kMessageTooLarge, Blame::kContent, "rfc3463-x.3.4");
      }
      if (e.Is(2, 2) && !has(p.rate_time))
        return recipient(Category::kMailboxFull, "rfc3463-x.2.2");
      if (e.Is(4, 5) && !has(p.rate)) {
        return Set(&d, Category::kOther, Blame::kUnknown, "rfc3463-x.4.5");
      }
    }

    // 2. Which party the text blames. A reply postino made up (connection
    // lost, DNS failure...) blames nobody: only its code and TLS words count.
    if (reply.local) {
      if (has(p.tls)) return tls("local-tls-required");
      return generic_code();
    }
    if (has(p.greylist)) return Set(&d, Category::kGreylisted, Blame::kUnknown, "text-greylist");
    if (has(p.tls)) return tls("text-tls-required");
    if (has(p.ptr)) return ptr("text-ptr");
    if (has(p.sender_dns)) return sender_dns("text-sender-dns");
    if (has(p.auth)) return auth("text-authentication");
    if (has(p.relay)) return Set(&d, Category::kRelayDenied, Blame::kPath, "text-relay");
    if (has(p.blocklist)) return block("text-ip-block");
    if (has(p.reputation)) return rate("text-reputation");
    if (has(p.too_many_rcpts) && !has(p.rate_time) &&
        (reply.code == 451 || reply.code == 452 || reply.code == 552)) {
      return too_many("rfc5321-too-many-recipients");
    }
    if (has(p.rate)) {
      // "over quota" wins over a rate word unless the text says per hour/day.
      if (!has(p.full) || has(p.rate_time)) return rate("text-rate");
    }
    if (has(p.sender)) return Set(&d, Category::kSender, Blame::kSender, "text-sender");
    if (has(p.full)) return recipient(Category::kMailboxFull, "text-mailbox-full");
    if (has(p.domain_dns)) return Set(&d, Category::kDns, Blame::kUnknown, "text-domain-dns");
    if (has(p.disabled)) return recipient(Category::kMailboxDisabled, "text-mailbox-disabled");
    if (has(p.invalid)) return recipient(Category::kInvalidRecipient, "text-invalid-recipient");
    // Microsoft's directory edge blocking (550 5.4.1); under x.7 (policy) the
    // same words are an access rule, not an unknown user.
    if (has(p.access_denied) && !e.Subject(7)) {
      return recipient(Category::kInvalidRecipient, "text-invalid-recipient");
    }
    if (has(p.too_large)) {
      return Set(&d, Category::kMessageTooLarge, Blame::kContent, "text-too-large");
    }
    if (has(p.content)) return Set(&d, Category::kPolicy, Blame::kContent, "text-content");

    return generic_code();
  };
  decide();
  return d;
}

}  // namespace postino::policy::internal
