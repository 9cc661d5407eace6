// provider_wording.cc: conventions of particular reporting systems and
// receiving providers (see provider_wording.h). Each entry is what that
// system says for every message of the kind, never a wording seen once.
#include "inbound/returns/provider_wording.h"

#include <cctype>
#include <string>

#include "inbound/returns/text_util.h"

namespace postino::inbound::returns {
namespace {

// Verdicts written by a reporting gateway about its own directory, not
// replies quoted from a remote server: the recipient does not exist there.
constexpr std::string_view kOwnDirectoryVerdicts[] = {
    "not listed in domino directory",             // IBM Domino
    "not listed in public name & address book",   // Lotus Notes / Domino
    "domino ディレクトリには見つかりません",      // Domino, Japanese
    "ディレクトリのリストにありません",           // Notes, Japanese
    "(000c05a6)",                                 // Exchange 2003: Unknown Recipient
    "invalid final delivery userid",              // IMail Server
    "no valid recipients for this mm",            // Verizon MMS gateway
    "because the address couldn't be found",      // Gmail / Google Workspace's own report
    "recipient address rejected: access denied",  // Exchange Online: not in the tenant directory
    "this user doesn't have a",                   // Yahoo: "... doesn't have a yahoo.com account"
    "(and other recipients in the same domain)",  // Trend Micro InterScan: "Unable to deliver
                                                  // message to"
    "mail.local: unknown user",                   // sendmail's local delivery agent
};

bool HostIs(std::string_view host, std::string_view domain) {
  std::string h = ToLower(TrimView(host));
  while (!h.empty() && (h.back() == '.' || h.back() == ']' || h.back() == ')')) h.pop_back();
  if (size_t sp = h.find_first_of(" ("); sp != std::string::npos) h.resize(sp);
  if (size_t at = h.rfind('@'); at != std::string::npos) h.erase(0, at + 1);
  if (h.size() < domain.size()) return false;
  if (h.compare(h.size() - domain.size(), domain.size(), domain) != 0) return false;
  return h.size() == domain.size() || h[h.size() - domain.size() - 1] == '.';
}

bool FromProvider(std::string_view remote_mta, std::string_view recipient,
                  std::initializer_list<std::string_view> domains) {
  for (std::string_view d : domains) {
    if (HostIs(remote_mta, d) || HostIs(recipient, d)) return true;
  }
  return false;
}

// au (KDDI): "550 : User unknown" (no address) is the recipient's own
// refusal filter; "550 <addr>: User unknown" a mailbox that does not exist.
std::string_view KddiConvention(std::string_view diagnostic) {
  std::string lower = ToLower(diagnostic);
  static constexpr std::string_view kTail = ": user unknown";
  size_t at = lower.find(kTail);
  if (at == std::string::npos) return {};
  size_t i = at;
  while (i > 0 && lower[i - 1] == ' ') --i;
  if (i == 0) return "filtered";
  char before = lower[i - 1];
  if (before == '>') return "userunknown";
  if (before == ':' || std::isdigit(static_cast<unsigned char>(before))) return "filtered";
  return {};
}

struct OrangeCode {
  int code;
  std::string_view reason;
};

// Orange / La Poste refusal codes (the last three digits of OFR_xxx,
// LPNnnn_xxx, OUK_xxx), by the meaning their reply texts give.
constexpr OrangeCode kOrangeCodes[] = {
    {102, "blocked"},       {103, "blocked"},     {104, "toomanyconn"}, {305, "securityerror"},
    {402, "securityerror"}, {403, "rejected"},    {405, "rejected"},    {415, "rejected"},
    {416, "userunknown"},   {417, "mailboxfull"}, {418, "userunknown"}, {420, "suspend"},
    {421, "rejected"},      {426, "suspend"},     {505, "systemerror"}, {506, "spamdetected"},
    {510, "blocked"},       {514, "mesgtoobig"},  {999, "blocked"},
};

// The three-digit code of "OFR_416", "LPN007_416", "OFR102-104" (case
// insensitive), or -1.
int OrangeCodeIn(std::string_view text) {
  std::string lower = ToLower(text);
  auto digits = [&](size_t at) {
    if (at + 3 > lower.size()) return false;
    for (size_t k = at; k < at + 3; ++k)
      if (!std::isdigit(static_cast<unsigned char>(lower[k]))) return false;
    return true;
  };
  auto boundary = [&](size_t at) {
    return at >= lower.size() || !std::isalnum(static_cast<unsigned char>(lower[at]));
  };
  for (std::string_view prefix : {"ofr", "lpn", "ouk"}) {
    for (size_t at = lower.find(prefix); at != std::string::npos; at = lower.find(prefix, at + 1)) {
      if (at > 0 && std::isalnum(static_cast<unsigned char>(lower[at - 1]))) continue;
      size_t p = at + 3;
      size_t code_at = std::string::npos;
      if (p < lower.size() && lower[p] == '_' && digits(p + 1) && boundary(p + 4)) {
        code_at = p + 1;
      } else if (digits(p) && p + 3 < lower.size() &&
                 (lower[p + 3] == '_' || lower[p + 3] == '-') && digits(p + 4) && boundary(p + 7)) {
        code_at = p + 4;
      }
      if (code_at == std::string::npos) continue;
      return (lower[code_at] - '0') * 100 + (lower[code_at + 1] - '0') * 10 +
             (lower[code_at + 2] - '0');
    }
  }
  return -1;
}

}  // namespace

bool ReporterSaysNoSuchRecipient(std::string_view diagnostic) {
  std::string lower = ToLower(diagnostic.substr(0, 4096));
  for (std::string_view p : kOwnDirectoryVerdicts) {
    if (lower.find(p) != std::string::npos) return true;
  }
  return false;
}

std::string_view DirectoryCheckingReporter(const Fields& report_headers) {
  std::string_view mailer = TrimView(FieldValue(report_headers, "X-Mailer"));
  if (StartsWithIgnoreCase(mailer, "<SMTP32 v") || StartsWithIgnoreCase(mailer, "<IMail v"))
    return "imail";
  if (ContainsIgnoreCase(FieldValue(report_headers, "X-NAI-Header"), "Modified by McAfee"))
    return "mcafee";
  // Hotmail / Outlook.com's own DSNs (From: postmaster@hotmail.com), whose
  // "Requested action not taken: mailbox unavailable" is its RCPT verdict.
  for (const std::string& from : FindAddresses(FieldValue(report_headers, "From"), 2)) {
    if (EqualsIgnoreCase(std::string_view(from).substr(from.find('@') + 1), "hotmail.com"))
      return "hotmail";
  }
  return {};
}

std::string_view ReasonFromVendorCategory(std::string_view category) {
  struct C {
    std::string_view name, reason;
  };
  // PowerMTA's bounce categories.
  static constexpr C kCategories[] = {
      {"bad-domain", "hostunknown"},           {"bad-mailbox", "userunknown"},
      {"inactive-mailbox", "suspend"},         {"message-expired", "expired"},
      {"no-answer-from-host", "networkerror"}, {"policy-related", "policyviolation"},
      {"quota-issues", "mailboxfull"},         {"routing-errors", "systemerror"},
      {"spam-related", "spamdetected"},
  };
  std::string c = ToLower(TrimView(category));
  for (const C& e : kCategories) {
    if (c == e.name) return e.reason;
  }
  return {};
}

std::string_view ReasonFromProviderConvention(std::string_view remote_mta,
                                              std::string_view recipient,
                                              std::string_view diagnostic, std::string_view status,
                                              std::string_view command) {
  // Exchange Online's own details, used by no one else.
  if (status.size() > 2 && (status.substr(1) == ".4.312")) return "networkerror";
  if (status.size() > 2 && (status.substr(1) == ".4.316")) return "expired";
  if (diagnostic.empty()) return {};
  if (FromProvider(remote_mta, recipient, {"docomo.ne.jp"}) &&
      ContainsIgnoreCase(diagnostic, "unknown user")) {
    if (command == "RCPT" || status == "5.1.1") return "userunknown";
    if (status == "5.2.0") return "filtered";
    if (command == "DATA") return "rejected";
    return {};
  }
  if (FromProvider(remote_mta, recipient, {"ezweb.ne.jp", "au.com"}))
    return KddiConvention(diagnostic);
  if (FromProvider(remote_mta, recipient, {"laposte.net", "orange.fr", "wanadoo.fr"})) {
    int code = OrangeCodeIn(diagnostic);
    if (code < 0) return {};
    for (const OrangeCode& c : kOrangeCodes) {
      if (c.code == code) return c.reason;
    }
    // "Service refusé, veuillez essayer plus tard" and the like: the code
    // is the only cause given, and it names none we know.
    return "undefined";
  }
  return {};
}

}  // namespace postino::inbound::returns
