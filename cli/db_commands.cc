// db_commands.cc: applying schema migrations.
#include "cli/db_commands.h"

#include <fmt/format.h>

namespace postino::cli {

int RunDbMigrate(Context& ctx) {
  Result<db::Database*> db = ctx.Database(/*for_migrate=*/true);
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<db::MigrateReport> r = (*db)->Migrate();
  if (!r.ok()) {
    Fail(r.status());
    return r.status().code() == Status::Code::kFailedPrecondition ? kExitDatabase : kExitFailure;
  }
  if (r->applied.empty()) {
    fmt::print("schema is up to date (version {})\n", r->to_version);
  } else {
    for (const auto& m : r->applied) fmt::print("applied migration {}\n", m);
    fmt::print("schema upgraded from version {} to {}\n", r->from_version, r->to_version);
  }
  return kExitOk;
}

}  // namespace postino::cli
