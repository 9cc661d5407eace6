// outcome.h: outcome recording. Turns the engine's Outcome for one
// recipient into the AttemptResult the DB thread writes: delivered, bounced
// (and whether to suppress the address), or, for a temporary failure, the
// next attempt from the RetrySchedule, or expired.
#pragma once

#include "db/database.h"
#include "engine/delivery/engine.h"
#include "scheduler/pipeline.h"
#include "scheduler/retry_schedule.h"

namespace postino::scheduler {

// `auto_suppress`: [suppression] auto_suppress_hard_bounces. `now` stamps
// an outcome without a finish time.
db::AttemptResult RecordOutcome(const delivery::Outcome& o, const Meta& meta,
                                RetrySchedule& retry, bool auto_suppress, WallTime now);

}  // namespace postino::scheduler
