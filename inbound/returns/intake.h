// intake.h: a returned message (bounce, complaint, auto-reply, mailto
// unsubscribe) taken in: parsed (report.h), matched to the delivery it is
// about and recorded once. The synchronous, DB-thread entry point that the
// port-25 listener's handler and `postino bounces import` both call.
//
// Matching, per recipient of the report, first that works:
//  1. a recipient token (templates/recipient_token.h) verified with the
//     [unsubscribe] secret against the delivery's address: from the VERP
//     envelope recipient "<local>+<token>@<verp domain>" (or, for imported
//     files, the report's To / Delivered-To / X-Original-To), from the
//     returned message's List-Unsubscribe, or from a mailto unsubscribe's
//     "unsubscribe-<token>" subject;
//  2. the returned message's Message-ID (deliveries.message_id);
//  3. the returned message's To, when it is the failed recipient: the
//     latest delivered row to that address.
// What is recorded (CONTRACTS.md event table):
//  - a permanent failure (Action failed, 5.x.x / 5xx): event `bounced`
//    phase `async`, the `delivered` row becomes `bounced`; when the reply
//    blames the recipient (engine/policy's Classify says suppress, or the
//    reason is userunknown/hostunknown/hasmoved/notaccept) and
//    [suppression] auto_suppress_hard_bounces is on, the subscriber becomes
//    `bounced` and the address is suppressed (hard_bounce) — the rule of
//    synchronous replies;
//  - a transient failure or delay: event `soft_bounced` phase `async`;
//  - a complaint: event `complained` phase `arf`, suppression `complaint`,
//    a complaints row (per campaign, domain and source);
//  - an opt-out by mail (mailto unsubscribe, Apple Mail's unsubscribe):
//    event `unsubscribed` phase `mail`, subscriber `unsubscribed`,
//    suppression `unsubscribe`;
//  - success DSNs and auto-replies: nothing but the report row.
// The same report is recorded once: returned_reports keeps the SHA-256 of
// its bytes without the mbox "From " line and the top header's trace fields
// (Received, Return-Path, Delivered-To, X-Original-To, Envelope-To), line
// ends as LF — so a retried SMTP transaction, or the same report imported
// from an mbox after it came in by SMTP, is recognised.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "db/database.h"
#include "inbound/returns/report.h"

namespace postino::policy {
class Policy;
}

namespace postino::inbound::returns {

struct ReturnsConfig {
  // Domains of VERP return paths; a token is read only from addresses in
  // them (empty: any domain).
  std::vector<std::string> verp_domains;
  // Addresses that receive complaints (FBL) and mailto unsubscribes; the
  // listener accepts mail for these and for the VERP domains.
  std::vector<std::string> feedback_addresses;
  std::string secret;  // [unsubscribe] secret: the key of recipient tokens
  size_t max_message_size = 10u << 20;
  bool auto_suppress_hard_bounces = true;
  std::string node = "returns";  // delivery_events.node of the rows written
  const policy::Policy* policy = nullptr;  // nullptr: the built-in rules
};

struct IntakeSummary {
  int64_t messages = 0;     // messages taken in
  int64_t duplicates = 0;   // already recorded (same bytes)
  int64_t oversized = 0;    // refused: larger than max_message_size
  int64_t recipients = 0;   // recipient entries in the reports
  int64_t matched = 0;      // entries matched to a delivery
  int64_t unmatched = 0;    // bounce/complaint entries with no delivery found
  int64_t ignored = 0;      // entries that need no action (success, auto-reply, unknown)
  int64_t hard_bounces = 0, soft_bounces = 0, permanent_bounces = 0, complaints = 0,
          unsubscribes = 0;
  std::map<std::string, int64_t> reasons;  // per reason, all entries
  std::map<std::string, int64_t> feedback_types;     // complaints per ARF Feedback-Type
  std::map<std::string, int64_t> unmatched_by_kind;  // "bounce" | "complaint"
  // Per campaign id (submitted messages have none and are not listed):
  // bounces as "hard" (permanent) or "soft", and complaints.
  std::map<std::pair<int64_t, std::string>, int64_t> bounces_by_campaign;
  std::map<int64_t, int64_t> complaints_by_campaign;
  void Add(const IntakeSummary& other);
};

// Takes one message in. `mail_from`/`rcpts` are the SMTP envelope ("" and
// {} for imported files). Fails only when the database fails; a message
// that is not a report, or matches nothing, is counted, not an error.
Result<IntakeSummary> ProcessReturnedMessage(db::Database& db, const ReturnsConfig& config,
                                             std::string_view mail_from,
                                             const std::vector<std::string>& rcpts,
                                             std::string_view bytes);

// Adds a summary to the /metrics families (common/metric_families.h):
// bounces by kind, complaints by feedback type, both per campaign, unmatched
// reports; `source`
// is "smtp" (the intake listener) or "import" (`postino bounces import`).
void ExportIntakeMetrics(const IntakeSummary& summary, std::string_view source);

// Whether the listener should accept mail for `rcpt`: an address in a VERP
// domain whose local part carries "+<token>", or a feedback address.
bool AcceptsRecipient(const ReturnsConfig& config, std::string_view rcpt);

}  // namespace postino::inbound::returns
