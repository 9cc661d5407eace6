// plan_build.h: gathers what scheduler::EstimatePlan needs for one campaign:
// its remaining recipients per domain (db), grouped into MX sites the way
// the engine groups them (routes from the configuration; MX records through
// the configured resolver), each site's limits (engine_config.h), the pool's
// sources, warm-up plans and today's counts, and the path states in force.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "db/database.h"
#include "scheduler/campaign_plan.h"

namespace postino::cli {

// Only this many of the largest domains are looked up in DNS; the others
// are planned as sites of their own (noted in PlanSite::problem).
inline constexpr size_t kMaxResolvedDomains = 200;

struct BuiltPlan {
  scheduler::PlanInput input;
  scheduler::PlanResult result;
  std::string pool;  // the pool used ("" = every source)
};

Result<BuiltPlan> BuildPlan(const config::Config& cfg, db::Database& db,
                            const db::CampaignRow& campaign);

}  // namespace postino::cli
