// path_states.h: egress path states that outlive the process. At start the
// scheduler reads the suspensions and slow-downs still in force from
// egress_events (WorkStore::ActivePathStates) and hands them to the engine,
// so a cron-mode `postino run --until-idle` honours a suspension recorded by
// the run before it.
#pragma once

#include <vector>

#include "db/database.h"
#include "engine/delivery/engine.h"

namespace postino::scheduler {

// Rows of egress_events -> PathEvents (action "suspended" or "slowed";
// other rows are skipped).
std::vector<delivery::PathEvent> ToPathEvents(const std::vector<db::Database::EgressEvent>& rows);

}  // namespace postino::scheduler
