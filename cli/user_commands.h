// user_commands.h: `postino user add|rm|ls|passwd|disable|enable`: the
// accounts of the SMTP submission listener. Passwords come from a prompt
// without echo or from stdin (--password-stdin), never from a flag, and are
// stored only as Argon2id hashes; nothing prints or logs them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/context.h"

namespace postino::cli {

struct UserOptions {
  std::string name;
  std::vector<std::string> domains;
  std::vector<std::string> addresses;
  std::string rate;   // "100/min"; "" = none
  int64_t daily = 0;  // 0 = no quota
  bool password_stdin = false;
};

int RunUserAdd(Context& ctx, const UserOptions& options);
int RunUserRm(Context& ctx, const std::string& name);
int RunUserLs(Context& ctx);
int RunUserPasswd(Context& ctx, const UserOptions& options);
int RunUserSetDisabled(Context& ctx, const std::string& name, bool disabled);

}  // namespace postino::cli
