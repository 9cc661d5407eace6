// suppress_commands.cc: the suppression list. Suppressed addresses are
// recorded as `suppressed` in every campaign launched afterwards.
#include "cli/suppress_commands.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "address/address.h"
#include "cli/output.h"
#include "common/csv.h"
#include "common/strings.h"

namespace postino::cli {
namespace {

bool ValidReason(const std::string& r) {
  return r == "hard_bounce" || r == "unsubscribe" || r == "complaint" || r == "manual";
}

Status BadReason(const std::string& r) {
  return Status::InvalidArgument(fmt::format(
      "reason \"{}\" is not one of hard_bounce, unsubscribe, complaint, manual", r));
}

}  // namespace

int RunSuppressAdd(Context& ctx, const std::string& email, const std::string& reason) {
  if (!ValidReason(reason)) return Fail(BadReason(reason));
  Result<address::MailAddress> a = address::ParseAddress(email);
  if (!a.ok()) {
    return Fail(Status::InvalidArgument(fmt::format("\"{}\": {}", email, a.status().message())));
  }
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<int64_t> n = (*db)->AddSuppressions({{a->ToString(), reason}}, "added by hand");
  if (!n.ok()) return Fail(n.status());
  fmt::print("{} {}\n", a->ToString(), *n ? "suppressed" : "was already suppressed");
  return kExitOk;
}

int RunSuppressImport(Context& ctx, const std::string& file, const std::string& reason) {
  if (!ValidReason(reason)) return Fail(BadReason(reason));
  std::ifstream in(file, std::ios::binary);
  if (!in) return Fail(Status::NotFound(fmt::format("cannot open {}: {}", file, std::strerror(errno))));
  CsvReader reader(in);
  CsvRecord rec;
  if (!reader.Next(&rec) || !rec.error.ok()) {
    return Fail(Status::InvalidArgument(fmt::format("{}: no header row", file)));
  }
  int email_col = -1, reason_col = -1;
  for (size_t i = 0; i < rec.fields.size(); ++i) {
    std::string h = AsciiLower(rec.fields[i]);
    if (h == "email") email_col = static_cast<int>(i);
    if (h == "reason") reason_col = static_cast<int>(i);
  }
  if (email_col < 0) {
    return Fail(Status::InvalidArgument(fmt::format("{}:{}: no `email` column in the header", file,
                                                    rec.line)));
  }
  size_t columns = rec.fields.size();
  std::vector<std::pair<std::string, std::string>> entries;
  int64_t invalid = 0;
  while (reader.Next(&rec)) {
    auto reject = [&](const std::string& why) {
      ++invalid;
      fmt::print(stderr, "{}:{}: {}\n", file, rec.line, why);
    };
    if (!rec.error.ok()) {
      reject(rec.error.message());
      continue;
    }
    if (rec.fields.size() != columns) {
      reject(fmt::format("expected {} fields as in the header, found {}", columns, rec.fields.size()));
      continue;
    }
    Result<address::MailAddress> a = address::ParseAddress(rec.fields[email_col]);
    if (!a.ok()) {
      reject(fmt::format("invalid address \"{}\": {}", rec.fields[email_col], a.status().message()));
      continue;
    }
    std::string r = reason_col >= 0 && !rec.fields[reason_col].empty() ? rec.fields[reason_col] : reason;
    if (!ValidReason(r)) {
      reject(BadReason(r).message());
      continue;
    }
    entries.emplace_back(a->ToString(), r);
  }
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<int64_t> n = (*db)->AddSuppressions(entries, "imported from " + file);
  if (!n.ok()) return Fail(n.status());
  fmt::print("{} rows read, {} valid, {} invalid; {} newly suppressed\n",
             entries.size() + static_cast<size_t>(invalid), entries.size(), invalid, *n);
  return invalid > 0 ? kExitPartial : kExitOk;
}

int RunSuppressLs(Context& ctx, int limit, const std::string& format) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<db::Database::Table> t = (*db)->Query(
      "SELECT email_key, reason, coalesce(detail, ''), to_char(created_at AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD HH24:MI'), to_char(created_at AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM suppressions ORDER BY created_at DESC, email_key "
      "LIMIT $1",
      {std::to_string(limit)});
  if (!t.ok()) return Fail(t.status());
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : t->rows) {
      out.push_back({{"email", row[0].value_or("")},
                     {"reason", row[1].value_or("")},
                     {"detail", row[2].value_or("")},
                     {"since", row[4].value_or("")}});
    }
    PrintJson(out);
    return kExitOk;
  }
  fmt::print("{:<40} {:<12} {:<17} {}\n", "ADDRESS", "REASON", "SINCE (UTC)", "DETAIL");
  for (const auto& row : t->rows) {
    // The detail is often a remote server's reply: printed escaped.
    fmt::print("{:<40} {:<12} {:<17} {}\n", EscapeControl(row[0].value_or("")), row[1].value_or(""),
               row[3].value_or(""), EscapeControl(row[2].value_or("")));
  }
  return kExitOk;
}

int RunSuppressRm(Context& ctx, const std::string& email) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<bool> removed = (*db)->RemoveSuppression(email);
  if (!removed.ok()) return Fail(removed.status());
  if (!*removed) return Fail(Status::NotFound(fmt::format("{} is not suppressed", email)));
  fmt::print("{} removed from the suppression list\n", email);
  return kExitOk;
}

}  // namespace postino::cli
