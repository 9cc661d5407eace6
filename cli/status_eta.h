// status_eta.h: the ETA `campaign status` shows, honest about waiting: none
// for a paused, draft or scheduled campaign; for a running one, the recent
// rate over what is due now, but never before the last retry now scheduled
// (next_attempt_at), nor before the run estimate (scheduler/campaign_plan.h)
// allows when sources are suspended or at their warm-up cap.
#pragma once

#include <optional>
#include <string>

#include "cli/plan_build.h"
#include "db/database.h"

namespace postino::cli {

struct Eta {
  std::optional<double> seconds;  // nullopt = no ETA
  std::string note;               // why it is what it is ("" = rate only)
};

// `plan` may be null (no configuration, or not built).
Eta ComputeEta(db::Database& db, const db::CampaignRow& campaign,
               const db::CampaignProgress& progress, const BuiltPlan* plan);

}  // namespace postino::cli
