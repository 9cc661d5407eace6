// users.cc: PgDatabase (see pg_database.h), the accounts of the SMTP
// submission listener (migration 8, table `users`). Arrays travel as text:
// domains and addresses never contain spaces (checked by the CLI).
#include <fmt/format.h>

#include <pqxx/pqxx>

#include "db/pg_database.h"

namespace postino::db::internal {

namespace {

// {"a","b"} as a PostgreSQL array literal, every element quoted.
std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::vector<std::string> SplitSpaces(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t sp = text.find(' ', start);
    if (sp == std::string::npos) sp = text.size();
    if (sp > start) out.push_back(text.substr(start, sp - start));
    start = sp + 1;
  }
  return out;
}

constexpr const char* kUserColumns =
    "id, name, password_hash, array_to_string(domains, ' '), array_to_string(addresses, ' '), "
    "coalesce(rate, ''), daily_quota, disabled, extract(epoch from created_at)::float8, "
    "extract(epoch from updated_at)::float8";

UserRow ReadUser(const pqxx::row& r) {
  UserRow u;
  u.id = r[0].as<int64_t>();
  u.name = Str(r[1]);
  u.password_hash = Str(r[2]);
  u.domains = SplitSpaces(Str(r[3]));
  u.addresses = SplitSpaces(Str(r[4]));
  u.rate = Str(r[5]);
  if (!r[6].is_null()) u.daily_quota = r[6].as<int64_t>();
  u.disabled = r[7].as<bool>();
  u.created_at = FromEpoch(r[8].as<double>());
  u.updated_at = FromEpoch(r[9].as<double>());
  return u;
}

std::optional<std::string> OptRate(const UserRow& u) {
  if (u.rate.empty()) return std::nullopt;
  return u.rate;
}

}  // namespace

Status PgDatabase::AddUser(const UserRow& u) {
  return Guard("adding the user", [&]() -> Status {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec_params(
        "INSERT INTO users (name, password_hash, domains, addresses, rate, daily_quota, disabled) "
        "VALUES ($1, $2, $3::text[], $4::text[], $5, $6, $7) ON CONFLICT (name) DO NOTHING "
        "RETURNING id",
        u.name, u.password_hash, ArrayLiteral(u.domains), ArrayLiteral(u.addresses), OptRate(u),
        u.daily_quota, u.disabled);
    if (r.empty()) {
      return Status::AlreadyExists(fmt::format("user \"{}\" already exists", u.name));
    }
    tx.commit();
    return Status::Ok();
  });
}

Status PgDatabase::UpdateUser(const UserRow& u) {
  return Guard("updating the user", [&]() -> Status {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec_params(
        "UPDATE users SET password_hash = $2, domains = $3::text[], addresses = $4::text[], "
        "rate = $5, daily_quota = $6, disabled = $7, updated_at = now() WHERE name = $1 "
        "RETURNING id",
        u.name, u.password_hash, ArrayLiteral(u.domains), ArrayLiteral(u.addresses), OptRate(u),
        u.daily_quota, u.disabled);
    if (r.empty()) return Status::NotFound(fmt::format("no user \"{}\"", u.name));
    tx.commit();
    return Status::Ok();
  });
}

Result<bool> PgDatabase::RemoveUser(const std::string& name) {
  return Guard("removing the user", [&]() -> Result<bool> {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec_params("DELETE FROM users WHERE name = $1", name);
    tx.commit();
    return r.affected_rows() > 0;
  });
}

Result<std::vector<UserRow>> PgDatabase::ListUsers() {
  return Guard("listing users", [&]() -> Result<std::vector<UserRow>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec(fmt::format("SELECT {} FROM users ORDER BY name", kUserColumns));
    std::vector<UserRow> out;
    for (const auto& row : r) out.push_back(ReadUser(row));
    return out;
  });
}

Result<std::optional<UserRow>> PgDatabase::GetUser(const std::string& name) {
  return Guard("reading the user", [&]() -> Result<std::optional<UserRow>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r =
        tx.exec_params(fmt::format("SELECT {} FROM users WHERE name = $1", kUserColumns), name);
    if (r.empty()) return std::optional<UserRow>();
    return std::optional<UserRow>(ReadUser(r[0]));
  });
}

Result<int64_t> PgDatabase::SubmittedToday(const std::string& user) {
  return Guard("counting today's submissions", [&]() -> Result<int64_t> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT count(*) FROM submitted_messages WHERE user_name = $1 AND received_at >= "
        "date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
        user);
    return r[0][0].as<int64_t>();
  });
}

}  // namespace postino::db::internal
