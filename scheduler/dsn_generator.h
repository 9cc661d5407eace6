// dsn_generator.h: the DB thread's DSN round (docs/dsn.md). Asks the store
// which submitted recipients owe their sender a delivery status
// notification (a final failure or expiry, SUCCESS when asked, a delay
// warning), builds one RFC 3464 report per message and outcome
// (templates/dsn.h) and stores it as a null-sender submitted message to the
// envelope sender, in the transaction that marks the recipients reported.
// Never for a null sender, never to an address the submitting user does not
// own (checked again now, against the user's current domains/addresses).
#pragma once

#include <chrono>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"
#include "db/database.h"
#include "scheduler/work_store.h"

namespace postino::scheduler {

struct DsnOptions {
  std::string reporting_mta;  // Reporting-MTA and Message-ID domain
  std::string from;           // From: of the reports
  std::chrono::seconds delay_warning{0};  // 0 = no delay reports
  std::chrono::seconds max_queue_time{5 * 24 * 3600};
  size_t return_limit = 1 << 20;  // RET=FULL up to this size
  int batch = 100;                // messages per round
};

// [submission] and [node]/[[sources]] -> DsnOptions: the reporting host is
// [submission] hostname, else the first source's EHLO name, else the node id; From is dsn_from or
// MAILER-DAEMON@<reporting host>.
DsnOptions MakeDsnOptions(const config::Config& cfg);

// Whether `user` may receive mail about `sender`: it is one of the user's
// addresses, or its domain is one of the user's domains (ASCII
// case-insensitive, IDN domains compared as A-labels). False for no user.
bool UserOwnsSender(const std::optional<db::UserRow>& user, const std::string& sender);

struct DsnRoundResult {
  int stored = 0;   // DSNs queued
  int skipped = 0;  // reports owed but not sent (not owned, null sender, raced)
};

// One round. `with_delays`: also look for delay warnings (a wider query, run
// less often). `now`: Date of the reports.
Result<DsnRoundResult> RunDsnRound(WorkStore& store, const DsnOptions& options, bool with_delays,
                                   WallTime now);

}  // namespace postino::scheduler
