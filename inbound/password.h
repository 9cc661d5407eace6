// password.h: Argon2id password hashes for submission users (libargon2).
// Hashes are PHC strings ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash") so
// the cost can be raised later without breaking stored ones. Slow by
// design: call only off the loop thread. Passwords are never logged.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace postino::inbound {

// Hashes with a fresh random salt (OWASP's Argon2id minimum: 19 MiB, t=2, p=1).
Result<std::string> HashPassword(std::string_view password);
// True iff `password` matches `hash`; false for a malformed hash.
bool VerifyPassword(const std::string& hash, std::string_view password);
// A valid hash of no real password, to spend the same time on an unknown
// user name as on a known one.
const std::string& DummyHash();

}  // namespace postino::inbound
