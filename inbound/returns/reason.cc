// reason.cc: the bounce reason rules (see reason.h). Each rule is a list of
// phrases (lower case) that a reply text uses when it blames one party for
// one thing; rules are tried from the most specific meaning to the most
// generic, the first that matches decides. Written for this project from
// RFC 3463 and the wording MTAs commonly use.
#include "inbound/returns/reason.h"

#include <cctype>
#include <initializer_list>

#include "inbound/returns/provider_wording.h"
#include "inbound/returns/text_util.h"

namespace postino::inbound::returns {
namespace {

struct TextRule {
  std::string_view reason;
  std::initializer_list<std::string_view> phrases;
};

// Order matters: a mailer-program failure or a full mailbox is more specific
// than "user" or "policy" wording that often appears beside it.
const TextRule kTextRules[] = {
    {"mailererror",
     {"mailer error", "unknown mailer", "command died", "exit status", "exited with",
      "pipe to |", "program exited", "x-unix;", "procmail", "local delivery failed: pipe",
      "error in processing", "could not execute"}},
    {"virusdetected", {"virus", "malware", "infected", "trojan"}},
    {"requireptr",
     {"mismatches client ip", "reverse dns", "ptr record", "reverse lookup", "rdns", "no ptr", "reverse hostname",
      "cannot find your hostname", "hostname does not resolve", "reverse name", "not have a ptr",
      "cannot resolve your address", "resolve your ip", "client host name", "unresolvable",
      "dns ptr", "reverse dns entry", "invalid ptr", "reverse-dns", "reverse mapping",
      "ip name lookup failed"}},
    {"securityerror",
     {"unauthenticated sender", "must authenticate", "authentication required",
      "turn on smtp authentication", "without authentication"}},
    {"authfailure", {"unauthenticated email", "dmarc policy"}},
    {"policyviolation",
     {"its content presents a potential", "not accepted for policy reasons", "rejected for policy reasons"}},
    // A verdict of the receiving side's spam classifier, even when its
    // advice that follows names SPF or DKIM.
    {"spamdetected", {"due to spam classification", "classified as spam", "identified as spam"}},
    {"rejected",
     {"groups.google.com/support", "sender address rejected", "domain of sender", "sender verify failed", "sender rejected",
      "sender unknown", "unknown sender", "invalid sender", "sender domain", "envelope sender",
      "sender denied", "sender blocked", "mail from rejected", "not a member of",
      "permission to post", "sender was rejected", "sender is not allowed",
      "'send mail as'",  // Google Workspace: the sender's alias settings
      "purported responsible address"}},  // Sender ID (RFC 4407): the sender's address
    {"contenterror", {"duplicate header", "invalid mime", "mime error", "8bit data", "bare lf"}},
    {"mailboxfull",
     {"mailbox exceeds allowed size", "mailbox full", "mailbox is full", "mailbox has exceeded", "mailbox size limit",
      "full mailbox", "mailbox exceeded", "mailbox is over", "quota exceeded", "over quota",
      "overquota", "over the quota", "exceeds quota", "exceeded quota", "exceeded its quota",
      "exceeds its quota", "quota full", "quota has been exceeded", "disk quota", "mail quota",
      "storage quota", "exceeded storage", "exceeded the storage", "inbox is full", "box is full",
      "account is full", "user is over", "mailfolder is full", "mail box full",
      "too many messages in", "insufficient space", "not enough storage",
      "maildir over", "out of disk space for"}},
    {"exceedlimit", {"exceeded the maximum size allowed by the recipient", "exceeds the recipient"}},
    {"mesgtoobig",
     {"message too big", "message too large", "message is too large", "message is too big",
      "message size exceeds", "message size too", "size exceeds", "exceeds size", "size limit",
      "message length exceeds", "too big for", "larger than the maximum", "maximum message size",
      "exceeds the maximum", "size of the message", "message exceeds", "line limit exceeded"}},
    {"systemfull",
     {"insufficient system storage", "system full", "disk full", "no space left",
      "out of storage", "file system full", "system storage", "insufficient disk space",
      "disk space"}},
    {"hasmoved", {"has moved", "address has changed", "moved to a new", "user has moved"}},
    {"suspend",
     {"account disabled", "account has been disabled", "account is disabled", "mailbox disabled",
      "mailbox is disabled", "mailbox has been disabled", "account is inactive", "inactive user",
      "inactive account", "account inactive", "mailbox inactive", "mailbox is inactive",
      "suspended", "deactivated", "account has been locked", "account is locked",
      "account expired", "has been terminated", "mailbox unavailable: blocked",
      "is not active", "temporarily disabled", "account has been frozen", "mailbox is frozen",
      "temporarily locked", "temporary locked"}},
    {"norelaying",
     {"relay denied", "relaying denied", "relay access denied", "relay not permitted",
      "relaying not permitted", "not permitted to relay", "unable to relay", "relaying not allowed",
      "not allowed to relay", "we do not relay", "relay prohibited", "relaying prohibited",
      "not a gateway", "no relaying", "relay not allowed", "cannot relay", "relaying mail to",
      "relay attempt", "configured to relay",
      "email address is not verified"}},  // Amazon SES: an unverified sender identity
    {"authfailure",
     {"authentication information", "spf", "dkim", "dmarc", "sender policy framework", "sender id", "domainkeys",
      "authentication failure", "authentication check"}},
    {"notaccept",
     {"indicated no smtp service", "couldn't find a mail exchanger", "no mx record", "no mx found for", "does not receive email",
      "doesn't receive email", "does not accept mail", "not accepting mail", "null mx",
      "accepts no mail", "does not accept any mail"}},
    {"networkerror", {"malformed or unexpected name server", "host not found, try again",
                      "try again later (dns", "temporary dns", "dns temporary"}},
    {"hostunknown",
     {"unrouteable address", "unrouteable domain", "domain is not reachable", "host unknown", "unknown host", "domain not found", "no such domain", "domain does not exist",
      "domain doesn't exist", "host not found", "name or service not known", "unrouteable mail domain",
        "domain name not found", "unknown domain", "invalid domain",
      "host or domain name not found", "nxdomain",  "unresolvable domain",
      "dns lookup failure", "host name lookup failure", "could not be resolved", "name server reply", "host does not exist",
      "unknown mail domain", "domain name not exist", "illegal host"}},
    {"userunknown",
     {"ディレクトリのリストにありません", "ディレクトリには見つかりません", "invalid final delivery userid", "user unknown", "unknown user", "no such user", "no such mailbox", "no such recipient",
      "no such address", "no such account", "no such person", "no such local user",
      "recipient unknown", "unknown recipient", "recipient not found", "recipient does not exist",
      "addressee unknown", "unknown address", "address unknown", "user not found",
      "mailbox not found", "mailbox does not exist", "mailbox doesn't exist", "no mailbox",
      "invalid mailbox", "invalid recipient", "bad recipient", "account does not exist",
      "account doesn't exist", "does not have an account", "doesn't have a", "not a valid mailbox",
      "is not a known user", "unknown local part", "unknown local-part",
      "address does not exist", "address doesn't exist", "not our customer",
      "bad destination mailbox", "email account that you tried to reach does not exist",
      "mailbox unavailable", "user doesn't exist", "user does not exist", "no longer valid",
      "is not a valid user", "unknown or illegal alias", "invalid address", "not listed in",
      "no valid recipient", "no account by that name", "address rejected", "undeliverable address", "address couldn't be found",
      "unknown mailbox", "user invalid", "invalid user", "mailbox name not allowed",
      "no such mail", "recipient rejected", "recipient address rejected",
      "no longer in use", "not a valid recipient", "unknown e-mail address", "no such box",
      "that domain isn't in my list of allowed rcpthosts", "destination address rejected"}},
    {"toomanyconn",
     {"too many recipients", "frequency limited", "too many connections", "connection rate limit", "too many concurrent", "connection limit", "too many sessions",
      "too many simultaneous"}},
    {"badreputation", {"reputation"}},
    {"speeding",
     {"rate limit", "rate-limit", "receiving mail at a rate", "too many messages from",
      "sending rate", "too fast", "too many emails", "too many mails", "throttl"}},
    {"blocked",
     {"blacklist", "blocklist", "block list", "black list", "spamhaus", "dnsbl", "rbl", "spamcop",
      "sorbs", "barracuda", "listed at", "listed in", "listed on", "blocked", "your ip",
      "ip address", "client host", "host rejected", "access denied", "banned", "refused to talk",
      "not allowed to send", "connection refused by", "poor", "dynamic ip", "dial-up",
      "dialup", "residential", "refused by", "not accepting connections", "invalid ip",
      "smtp server of your isp"}},
    {"spamdetected",
     {"spam detected", "spam", "junk mail", "unsolicited", "bulk mail", "classified as", "identified as",
      "considered as", "content rejected", "suspicious"}},
    {"notcompliantrfc",
     {"rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "rfc 822", "duplicate header",
      "multiple addresses in", "not compliant", "non-compliant"}},
    {"securityerror",
     {"authentication required", "tls required", "starttls", "encryption required",
      "must use tls", "certificate", "insecure", "not authorized", "unauthorized",
      "authorization"}},
    {"securityerror", {"unauthenticated sender", "must authenticate", "authentication required"}},
    {"rejected",
     {"sender address rejected", "sender rejected", "domain of sender", "sender domain",
      "invalid sender", "sender verify", "sender unknown", "unknown sender", "mail from",
      "bad sender", "sender denied", "envelope sender", "sender is", "sender not",
      "from address", "sender blocked", "return path", "return-path", "mail from:", "your address",
      "sender's", "senders", "originator"}},
    {"contenterror",
     {" mime", "mime-", "encoding", "8bit", "line too long", "message header", "header too",
      "illegal character"}},
    {"syntaxerror",
     {"improper sequence", "syntax error", "command unrecognized", "unrecognized command", "bad sequence",
      "command not recognized", "invalid command", "line too long", "not implemented",
      "malformed address", "incorrectly constructed"}},
    {"expired",
     {"have been failing for a long time", "multiple retries", "giving up", "aborted after", "did not accept our requests to connect", "connection timed out", "not delivered within", "retry time", "retry timeout", "message expired", "delivery time expired", "too long in queue",
      "gave up", "could not be delivered for", "was not delivered for",
      "undeliverable for", "expired", "timeout exceeded", "message timed out", "has been delayed",
      "delivery delayed", "could not deliver for", "ttl"}},
    {"networkerror",
     {"host not reachable", "establish an smtp connection", "establish a connection", "connection refused",
       "network is unreachable", "no route to host",
      "connection reset", "lost connection", "mail loop", "loop detected", "loops back",
      "too many hops", "routing loop", "hop count", "could not connect", "unable to connect",
      "connection closed", "timed out", "timeout", "network error", "dns error"}},
    {"systemerror",
     {"internal system error", "transaction failed", "service currently unavailable", "system error", "internal error", "server error", "configuration error",
      "local configuration", "i/o error", "mail system problem", "temporary failure",
      "system problem", "server failure", "failed to deliver"}},
    {"policyviolation",
     {"header error", "policy", "violat", "prohibited", "not allowed", "not permitted", "forbidden"}},
    {"filtered",
     {"filtered", "filter", "rejected by the recipient", "recipient refused", "refused", "rejected by recipient",
      "does not accept mail from", "denied"}},
};

struct StatusRule {
  std::string_view suffix;  // "1.1" = subject.detail of "X.1.1"
  std::string_view reason;
};

constexpr StatusRule kStatusRules[] = {
    {"1.0", "userunknown"},   {"1.1", "userunknown"},   {"1.2", "hostunknown"},
    {"1.3", "userunknown"},   {"1.4", "userunknown"},   {"1.5", "delivered"},
    {"1.6", "hasmoved"},      {"1.7", "rejected"},      {"1.8", "rejected"},
    {"1.9", "systemerror"},   {"1.10", "notaccept"},    {"2.0", "undefined"},
    {"2.1", "suspend"},       {"2.2", "mailboxfull"},   {"2.3", "exceedlimit"},
    {"2.4", "systemerror"},   {"3.0", "systemerror"},   {"3.1", "systemfull"},
    {"3.2", "notaccept"},     {"3.3", "systemerror"},   {"3.4", "mesgtoobig"},
    {"3.5", "systemerror"},   {"4.0", "networkerror"},  {"4.1", "networkerror"},
    {"4.2", "expired"},       {"4.3", "systemerror"},   {"4.4", "hostunknown"},
    {"4.5", "networkerror"},  {"4.6", "networkerror"},  {"4.7", "expired"},
    {"5.1", "syntaxerror"},   {"5.2", "syntaxerror"},
    {"5.3", "exceedlimit"},   {"5.4", "syntaxerror"},   {"5.5", "syntaxerror"},
    {"5.6", "syntaxerror"},   {"6.0", "contenterror"},  {"6.1", "contenterror"},
    {"6.2", "contenterror"},  {"6.3", "contenterror"},  {"6.4", "contenterror"},
    {"6.5", "contenterror"},  {"6.6", "contenterror"},  {"7.2", "securityerror"},
    {"7.3", "securityerror"}, {"7.4", "securityerror"}, {"7.5", "securityerror"},
    {"7.6", "securityerror"}, {"7.7", "securityerror"}, {"7.8", "securityerror"},
    {"7.9", "securityerror"}, {"7.10", "securityerror"}, {"7.11", "securityerror"},
    {"7.12", "securityerror"}, {"7.13", "suspend"},     {"7.14", "securityerror"},
    {"7.15", "securityerror"}, {"7.16", "exceedlimit"}, {"7.17", "hasmoved"},
    {"7.18", "hasmoved"},     {"7.19", "hasmoved"},     {"7.20", "authfailure"},
    {"7.21", "authfailure"},  {"7.22", "authfailure"},  {"7.23", "authfailure"},
    {"7.24", "authfailure"},  {"7.25", "requireptr"},   {"7.26", "authfailure"},
    {"7.27", "notaccept"},    {"7.28", "badreputation"}, {"7.29", "authfailure"},
    {"7.30", "securityerror"},
};



}  // namespace

// Multi-line replies quoted in one line repeat "550-5.7.1 " inside the
// text ("multiple 550 5.7.1 addresses"): drop those so phrases match.
static std::string WithoutReplyCodes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool start = i == 0 || text[i - 1] == ' ';
    if (start && i + 4 <= text.size() && (text[i] == '4' || text[i] == '5') &&
        std::isdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(text[i + 2])) && (text[i + 3] == '-' || text[i + 3] == ' ')) {
      i += 4;
      std::string enh = FindEnhancedCode(text.substr(i, 12));
      if (!enh.empty() && text.substr(i, enh.size()) == enh) {
        i += enh.size();
        if (i < text.size() && text[i] == ' ') ++i;
      }
      continue;
    }
    out += text[i++];
  }
  return out;
}

static std::string_view MatchRules(std::string_view lower);

// The text's only verdict is a bare "access denied" (no other rule matches
// once it is removed).
static bool OnlyAccessDenied(std::string_view text) {
  std::string lower = ToLower(WithoutReplyCodes(text.substr(0, std::min<size_t>(text.size(), 4096))));
  static constexpr std::string_view kWords = "access denied";
  if (lower.find(kWords) == std::string::npos) return false;
  for (size_t at = lower.find(kWords); at != std::string::npos; at = lower.find(kWords, at))
    lower.erase(at, kWords.size());
  return MatchRules(lower).empty();
}

static std::string_view MatchRules(std::string_view lower) {
  for (const TextRule& rule : kTextRules) {
    for (std::string_view phrase : rule.phrases) {
      if (lower.find(phrase) != std::string_view::npos) return rule.reason;
    }
  }
  return {};
}

std::string_view ReasonFromText(std::string_view text) {
  std::string lower = ToLower(WithoutReplyCodes(text.substr(0, std::min<size_t>(text.size(), 16384))));
  // Postfix's "delivery temporarily suspended: <cause>" puts a destination
  // on hold after earlier failures: the cause after the colon says why, the
  // word "suspended" is not about the recipient's account.
  static constexpr std::string_view kHeld = "delivery temporarily suspended";
  for (size_t at = lower.find(kHeld); at != std::string::npos; at = lower.find(kHeld, at))
    lower.erase(at, kHeld.size());
  // Postfix's "Recipient address rejected: <why>" names the recipient in its
  // prefix whatever the cause; the words after the colon say what it is.
  static constexpr std::string_view kPrefix = "recipient address rejected:";
  if (size_t at = lower.find(kPrefix); at != std::string::npos) {
    std::string_view tail = std::string_view(lower).substr(at + kPrefix.size());
    if (size_t dot = tail.find(". "); dot != std::string_view::npos) tail = tail.substr(0, dot);
    // "Access denied" there is Exchange Online's word for a recipient its
    // directory does not know, not a client block.
    std::string_view r = MatchRules(tail.substr(0, 200));
    if (!r.empty() && r != "blocked") return r;
    // A cause we do not know ("On hold"): the prefix alone does not say
    // that the mailbox is missing.
    if (r.empty() && !TrimView(tail).empty()) {
      lower.erase(at, kPrefix.size());
    }
  }
  if (std::string_view r = MatchRules(lower); !r.empty()) return r;
  // "Delivery failed 20 attempts", "failed after 5 attempts": the server
  // gave up retrying, with no other cause named.
  static constexpr std::string_view kFailed = "failed ";
  for (size_t at = lower.find(kFailed); at != std::string::npos; at = lower.find(kFailed, at + 1)) {
    std::string_view rest = std::string_view(lower).substr(at + kFailed.size(), 40);
    if (rest.substr(0, 6) == "after ") rest.remove_prefix(6);
    size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    if (digits > 0 && rest.substr(digits, 8) == " attempt") return "expired";
  }
  // "<host.name> does not exist": the domain, not a mailbox, is missing.
  static constexpr std::string_view kMissing = " does not exist";
  for (size_t at = lower.find(kMissing); at != std::string::npos; at = lower.find(kMissing, at + 1)) {
    size_t begin = lower.rfind(' ', at - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    std::string_view word = std::string_view(lower).substr(begin, at - begin);
    if (word.size() > 3 && word.find('.') != std::string_view::npos && word.find('@') == std::string_view::npos &&
        word.back() != '.' && std::isalpha(static_cast<unsigned char>(word.back())))
      return "hostunknown";
  }
  return {};
}

std::string_view ReasonFromStatus(std::string_view status) {
  if (status.size() < 5 || status[1] != '.') return {};
  std::string_view rest = status.substr(2);
  for (const StatusRule& r : kStatusRules)
    if (rest == r.suffix) return r.reason;
  return {};
}

std::string ClassifyReason(const ReasonInput& in) {
  if (in.action == "delivered" || in.action == "relayed" || in.action == "expanded")
    return "delivered";
  if (!in.status.empty() && in.status[0] == '2') return "delivered";
  if (in.status.empty() && in.reply_code >= 200 && in.reply_code < 300 && in.action.empty())
    return "delivered";
  // A vendor's own bounce category, and a provider's reply convention, say
  // more than any general reading of the text.
  if (std::string_view c = ReasonFromVendorCategory(in.category); !c.empty()) return std::string(c);
  if (std::string_view p =
          ReasonFromProviderConvention(in.remote_mta, in.recipient, in.diagnostic, in.status, in.command);
      !p.empty())
    return std::string(p);
  bool temporary = (!in.status.empty() && in.status[0] == '4') ||
                   (in.status.empty() && in.reply_code >= 400 && in.reply_code < 500);
  std::string reason;
  bool said_by_reply = false;  // the reply's own words decided (not a code, not the wider report)
  bool local_mailer = in.diagnostic_type == "x-unix" || in.diagnostic_type == "x-postfix";
  bool permanent_status = !in.status.empty() && in.status[0] == '5';
  // Codes whose meaning no wording overrides.
  std::string_view by_status = ReasonFromStatus(in.status);
  std::string_view detail = in.status.size() > 2 ? in.status.substr(2) : std::string_view();
  // X.3.2 "not accepting network messages" decides alone when permanent; a
  // temporary 4.3.2 ("too many connections", "rate limit") lets the words say why.
  bool final_notaccept = by_status == "notaccept" && !(detail == "3.2" && temporary);
  // X.1.10 is RFC 7505's null MX, but Microsoft 365 also answers "550 5.1.10
  // RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address
  // lookup" (its documented NDR for a missing mailbox): words that say the
  // recipient does not exist decide then.
  if (final_notaccept && detail == "1.10" && ReasonFromText(in.diagnostic) == "userunknown")
    final_notaccept = false;
  if (by_status == "mailboxfull" || final_notaccept || by_status == "authfailure" ||
      by_status == "requireptr" || by_status == "mesgtoobig" || by_status == "exceedlimit" ||
      (by_status == "hostunknown" && detail == "1.2") || detail == "1.6" || detail == "1.7" ||
      detail == "1.8") {
    reason = std::string(by_status);
  } else if (std::string_view t = ReasonFromText(in.diagnostic);
             local_mailer && (t.empty() || t == "systemerror") && !permanent_status) {
    // A local mailer program (a pipe, procmail, the local delivery agent:
    // Diagnostic-Code type X-Unix / X-Postfix) failed temporarily and its
    // words (an exit code, "temporary failure") name nothing else.
    reason = "mailererror";
  } else if (!t.empty()) {
    reason = std::string(t);
    said_by_reply = true;
    // "Failed to deliver" / "system problem" say nothing about the cause; a
    // specific security status (X.7.x) does.
    if (reason == "systemerror" && by_status == "securityerror") reason = std::string(by_status);
  } else if (!by_status.empty() && by_status != "undefined") {
    reason = std::string(by_status);
  } else if (in.reply_code >= 500 && in.reply_code <= 504) {
    // RFC 5321: 500-504 refuse the command itself (syntax, a parameter, an
    // unimplemented command or parameter, the order of commands).
    reason = "syntaxerror";
  } else if (in.reply_code == 521 || in.reply_code == 556) {
    reason = "notaccept";
  } else if (std::string_view c = ReasonFromText(in.context); !c.empty()) {
    reason = std::string(c);
  } else if (!in.status.empty() || in.reply_code) {
    reason = "onhold";
  } else {
    reason = "undefined";
  }
  // Which command the reply answered changes whom it blames: "no such user"
  // after the message was sent is a content filter speaking; a refusal of
  // MAIL FROM is about the sender.
  // An explicit X.1.1, or words that say the account does not exist, keep
  // the recipient's blame whatever the command.
  // "User unknown" is the recipient's mailbox only when the code says so
  // (5.1.0, 5.1.1, 5.1.3, 5.1.10: a bad destination address) or the reply answered
  // RCPT TO. The same words at any later or unknown point of the session
  // (after DATA, or a report that does not say) come from a filter at the
  // recipient's side: the address may exist. A reporting system's own
  // directory verdict is not a quoted reply and keeps the blame.
  bool undecided_or_mailbox = reason == "userunknown" || reason == "onhold" || reason == "undefined";
  if (undecided_or_mailbox && ReporterSaysNoSuchRecipient(in.diagnostic)) return "userunknown";
  if (reason == "userunknown" && in.reporter_checks_directory) return reason;
  bool before_data = in.command == "CONN" || in.command == "HELO" || in.command == "MAIL";
  if (reason == "userunknown" && in.command != "RCPT" && !before_data) {
    bool permanent = !in.status.empty() && in.status[0] == '5';
    bool bad_mailbox = permanent && (detail == "1.0" || detail == "1.1" || detail == "1.3" || detail == "1.10");
    if (!bad_mailbox) reason = "filtered";
  }
  // Refused at the greeting or at HELO/EHLO: the receiving side does not
  // want this client (its address or its name), whoever the recipient is.
  if ((in.command == "CONN" || in.command == "HELO") &&
      (reason == "userunknown" || reason == "hostunknown" || reason == "onhold" || reason == "undefined"))
    reason = "blocked";
  if (in.command == "MAIL" && (reason == "userunknown" || reason == "hostunknown" ||
                               reason == "onhold" || reason == "undefined"))
    reason = "rejected";
  // A bare "Access denied" answering MAIL FROM refuses the sender; only
  // words about the client (its IP address, a block list) make it a block.
  if (in.command == "MAIL" && reason == "blocked" && OnlyAccessDenied(in.diagnostic)) reason = "rejected";
  // A name lookup that failed temporarily is a network problem, not a
  // domain that does not exist.
  if (reason == "hostunknown" && temporary) reason = "networkerror";
  // The MTA gave up after temporary failures (failed with a 4.x.x status),
  // or is still trying: the message expired / is late.
  if ((in.structured && in.action == "failed" && temporary) || in.action == "delayed") {
    bool nothing_specific = reason == "onhold" || reason == "undefined";
    // A delay notice whose reply names a network failure ("No route to
    // host") keeps it; one that only has a network or system code is late.
    bool delay_notice = in.action == "delayed" &&
                        (reason == "systemerror" || (reason == "networkerror" && !said_by_reply));
    if (nothing_specific || delay_notice) reason = "expired";
  }
  return reason;
}

bool IsHardBounce(std::string_view reason, std::string_view status, int reply_code) {
  if (reason == "userunknown" || reason == "hostunknown" || reason == "hasmoved") return true;
  if (reason == "notaccept") {
    bool temporary = (!status.empty() && status[0] == '4') || (reply_code >= 400 && reply_code < 500);
    return !temporary;
  }
  return false;
}

bool IsNonBounceReason(std::string_view reason) {
  return reason == "delivered" || reason == "vacation" || reason == "feedback";
}

}  // namespace postino::inbound::returns
