// db_commands.cc: applying schema migrations (and creating the months of
// delivery_events ahead), listing those partitions, and retention: `db
// prune` drops whole months of delivery history (docs/analytics.md).
#include "cli/db_commands.h"

#include <date/date.h>
#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace postino::cli {

namespace {

std::string UtcText(std::chrono::system_clock::time_point t) {
  return date::format("%Y-%m-%d %H:%M:%S UTC", date::floor<std::chrono::seconds>(t));
}

std::string Size(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30)) return fmt::format("{:.1f} GB", bytes / double(1 << 30));
  if (bytes >= (int64_t{1} << 20)) return fmt::format("{:.1f} MB", bytes / double(1 << 20));
  return fmt::format("{} kB", bytes / 1024);
}

std::string Describe(const db::Database::EventPartition& p) {
  if (p.is_default) return fmt::format("{} (default: rows of months without a partition)", p.name);
  std::string rows = p.rows < 0 ? std::string("rows not counted yet")
                                 : fmt::format("~{} rows", p.rows);
  return fmt::format("{} ({} to {}, {}, {})", p.name,
                     date::format("%Y-%m-%d", date::floor<date::days>(p.from)),
                     date::format("%Y-%m-%d", date::floor<date::days>(p.to)), rows,
                     Size(p.bytes));
}

}  // namespace

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
  Result<std::vector<std::string>> parts =
      (*db)->EnsureEventPartitions(db::kEventPartitionsAhead);
  if (!parts.ok()) {
    Fail(parts.status());
    return kExitDatabase;
  }
  for (const auto& p : *parts) fmt::print("created partition {}\n", p);
  return kExitOk;
}

int RunDbPartitions(Context& ctx) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::vector<db::Database::EventPartition>> parts = (*db)->EventPartitions();
  if (!parts.ok()) return Fail(parts.status());
  for (const auto& p : *parts) fmt::print("{}\n", Describe(p));
  return kExitOk;
}

Result<std::chrono::system_clock::time_point> RetentionCutoff(
    std::string_view text, std::chrono::system_clock::time_point now) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format(
        "--older-than \"{}\": {}; write a count and a unit: d (days), w (weeks), m (months) or "
        "y (years), e.g. 13m",
        text, why));
  };
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return bad("no count");
  if (digits + 1 != text.size()) {
    return bad(digits == text.size() ? "no unit" : "unknown unit");
  }
  int64_t count = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, count);
  if (ec != std::errc() || ptr != text.data() + digits || count > 100 * 366) {
    return bad("the count is too large");
  }
  if (count == 0) return bad("the count must be at least 1");
  char unit = text.back();
  int64_t months = 0;
  int64_t days = 0;
  switch (unit) {
    case 'd': days = count; break;
    case 'w': days = 7 * count; break;
    case 'm': months = count; break;
    case 'y': months = 12 * count; break;
    default: return bad("unknown unit");
  }
  if (days > 100 * 366 || months > 1200) return bad("more than 100 years");
  if (days > 0) return now - date::days(days);
  auto day = date::floor<date::days>(now);
  auto time_of_day = now - day;
  date::year_month_day ymd{day};
  date::year_month target = date::year_month{ymd.year(), ymd.month()} - date::months(months);
  date::day last = (target / date::last).day();
  date::year_month_day back{target.year(), target.month(), ymd.day() > last ? last : ymd.day()};
  return date::sys_days(back) + time_of_day;
}

int RunDbPrune(Context& ctx, const DbPruneOptions& opt) {
  Result<std::chrono::system_clock::time_point> cutoff =
      RetentionCutoff(opt.older_than, std::chrono::system_clock::now());
  if (!cutoff.ok()) {
    Fail(cutoff.status());
    return kExitUsage;
  }
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<db::Database::PruneReport> r = (*db)->PruneEvents(*cutoff, opt.dry_run);
  if (!r.ok()) {
    Fail(r.status());
    return r.status().code() == Status::Code::kInvalidArgument ? kExitUsage : kExitDatabase;
  }
  const char* drop = opt.dry_run ? "would drop" : "dropped";
  const char* del = opt.dry_run ? "would delete" : "deleted";
  for (const auto& p : r->dropped) fmt::print("{} {}\n", drop, Describe(p));
  if (r->default_rows > 0) {
    fmt::print("{} {} rows before the cutoff from delivery_events_default\n", del, r->default_rows);
  }
  if (r->minute_rows > 0) {
    fmt::print("{} {} rows before the cutoff from the time series (delivery_minutes, "
               "delivery_hours)\n",
               del, r->minute_rows);
  }
  if (r->dropped.empty() && r->default_rows == 0 && r->minute_rows == 0) {
    fmt::print("nothing to prune: no delivery events before {}\n", UtcText(*cutoff));
  } else {
    fmt::print("{}: {} month partition(s) of delivery events before {}{}\n",
               opt.dry_run ? "dry run" : "pruned", r->dropped.size(), UtcText(*cutoff),
               opt.dry_run ? " (nothing changed)" : "");
  }
  return kExitOk;
}

}  // namespace postino::cli
