// pg_submission_store.h: the SubmissionStore over PostgreSQL: the messages
// of a batch go to db::Database::StoreSubmissions (migration 9, one
// transaction per batch: group commit), the daily count to SubmittedToday.
#pragma once

#include <memory>

#include "inbound/submission_store.h"

namespace postino::inbound {

std::unique_ptr<SubmissionStore> MakePgSubmissionStore();

}  // namespace postino::inbound
