// user_commands.cc: submission users (see user_commands.h).
#include "cli/user_commands.h"

#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "address/address.h"
#include "common/rate.h"
#include "inbound/password.h"

namespace postino::cli {
namespace {

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 256) return false;
  for (char c : n) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '.' || c == '_' || c == '-' || c == '@' || c == '+')) return false;
  }
  return true;
}

// One line from stdin, without its line end.
Result<std::string> ReadLine() {
  std::string line;
  if (!std::getline(std::cin, line)) return Status::InvalidArgument("no password on stdin");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> Prompt(const char* text) {
  fmt::print(stderr, "{}", text);
  std::fflush(stderr);
  termios old{};
  bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  Result<std::string> line = ReadLine();
  if (tty) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  fmt::print(stderr, "\n");
  return line;
}

// The new password: from stdin, or typed twice at a prompt.
Result<std::string> NewPassword(bool from_stdin) {
  if (!from_stdin && !isatty(STDIN_FILENO)) {
    return Status::InvalidArgument("stdin is not a terminal: use --password-stdin");
  }
  Result<std::string> pw = from_stdin ? ReadLine() : Prompt("Password: ");
  if (!pw.ok()) return pw.status();
  if (!from_stdin) {
    Result<std::string> again = Prompt("Repeat password: ");
    if (!again.ok()) return again.status();
    if (*again != *pw) return Status::InvalidArgument("the passwords differ; nothing changed");
  }
  if (pw->size() < 8) return Status::InvalidArgument("the password is shorter than 8 characters");
  if (pw->size() > 1024) return Status::InvalidArgument("the password is longer than 1024 bytes");
  return pw;
}

// Checks domains, addresses, rate and quota into `row`.
Status FillLimits(const UserOptions& o, db::UserRow* row) {
  for (const std::string& d : o.domains) {
    Result<std::string> ascii = address::DomainToAscii(d);
    if (!ascii.ok()) {
      return Status::InvalidArgument(fmt::format("--domain \"{}\": {}", d, ascii.status().message()));
    }
    row->domains.push_back(*ascii);
  }
  for (const std::string& a : o.addresses) {
    Result<address::MailAddress> m = address::ParseAddress(a);
    if (!m.ok()) {
      return Status::InvalidArgument(fmt::format("--address \"{}\": {}", a, m.status().message()));
    }
    row->addresses.push_back(m->ToString());
  }
  if (row->domains.empty() && row->addresses.empty()) {
    return Status::InvalidArgument(
        "give the sender domains (--domain) or addresses (--address) the user may send from");
  }
  if (!o.rate.empty()) {
    Result<Rate> r = ParseRate(o.rate);
    if (!r.ok()) return Status::InvalidArgument(fmt::format("--rate: {}", r.status().message()));
    row->rate = r->ToString();
  }
  if (o.daily < 0) return Status::InvalidArgument("--daily must be positive");
  if (o.daily > 0) row->daily_quota = o.daily;
  return Status::Ok();
}

}  // namespace

int RunUserAdd(Context& ctx, const UserOptions& o) {
  if (!ValidName(o.name)) {
    return Fail(Status::InvalidArgument(fmt::format(
        "user name \"{}\": use 1-256 letters, digits and . _ - @ +", o.name)));
  }
  db::UserRow row;
  row.name = o.name;
  Status st = FillLimits(o, &row);
  if (!st.ok()) return Fail(st);
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::string> pw = NewPassword(o.password_stdin);
  if (!pw.ok()) return Fail(pw.status());
  Result<std::string> hash = inbound::HashPassword(*pw);
  std::fill(pw->begin(), pw->end(), '\0');
  if (!hash.ok()) return Fail(hash.status());
  row.password_hash = *hash;
  st = (*db)->AddUser(row);
  if (!st.ok()) return Fail(st);
  fmt::print("user {} added\n", o.name);
  return kExitOk;
}

int RunUserPasswd(Context& ctx, const UserOptions& o) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::optional<db::UserRow>> u = (*db)->GetUser(o.name);
  if (!u.ok()) return Fail(u.status());
  if (!*u) return Fail(Status::NotFound(fmt::format("no user \"{}\"", o.name)));
  Result<std::string> pw = NewPassword(o.password_stdin);
  if (!pw.ok()) return Fail(pw.status());
  Result<std::string> hash = inbound::HashPassword(*pw);
  std::fill(pw->begin(), pw->end(), '\0');
  if (!hash.ok()) return Fail(hash.status());
  db::UserRow row = std::move(**u);
  row.password_hash = *hash;
  Status st = (*db)->UpdateUser(row);
  if (!st.ok()) return Fail(st);
  fmt::print("password of user {} changed\n", o.name);
  return kExitOk;
}

int RunUserSetDisabled(Context& ctx, const std::string& name, bool disabled) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::optional<db::UserRow>> u = (*db)->GetUser(name);
  if (!u.ok()) return Fail(u.status());
  if (!*u) return Fail(Status::NotFound(fmt::format("no user \"{}\"", name)));
  db::UserRow row = std::move(**u);
  row.disabled = disabled;
  Status st = (*db)->UpdateUser(row);
  if (!st.ok()) return Fail(st);
  fmt::print("user {} {}\n", name, disabled ? "disabled" : "enabled");
  return kExitOk;
}

int RunUserRm(Context& ctx, const std::string& name) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<bool> removed = (*db)->RemoveUser(name);
  if (!removed.ok()) return Fail(removed.status());
  if (!*removed) return Fail(Status::NotFound(fmt::format("no user \"{}\"", name)));
  fmt::print("user {} removed\n", name);
  return kExitOk;
}

int RunUserLs(Context& ctx) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::vector<db::UserRow>> users = (*db)->ListUsers();
  if (!users.ok()) return Fail(users.status());
  fmt::print("{:<24} {:<8} {:<10} {:<8} {}\n", "NAME", "STATE", "RATE", "DAILY", "MAY SEND AS");
  for (const db::UserRow& u : *users) {
    std::string senders;
    for (const auto& d : u.domains) senders += (senders.empty() ? "@" : ", @") + d;
    for (const auto& a : u.addresses) senders += (senders.empty() ? "" : ", ") + a;
    fmt::print("{:<24} {:<8} {:<10} {:<8} {}\n", u.name, u.disabled ? "disabled" : "active",
               u.rate.empty() ? "-" : u.rate,
               u.daily_quota ? std::to_string(*u.daily_quota) : "-", senders);
  }
  return kExitOk;
}

}  // namespace postino::cli
