// db_work_store.h: the WorkStore of `postino run`, over db::Database (the
// only libpqxx user). It owns its connections: one for the work, and one
// that only holds the node identity's advisory lock.
#pragma once

#include <memory>
#include <string>

#include "scheduler/work_store.h"

namespace postino::scheduler {

// Connects to `url` (lazily: a first failure is reported by the first call).
std::unique_ptr<WorkStore> MakeDbWorkStore(std::string url);

}  // namespace postino::scheduler
