// conninfo.h: PostgreSQL connection strings made safe to print. libpq
// itself (PQconninfoParse) reads the URI or key=value string, so a password
// in the user info, in "?password=", with an escaped '@' or quoted with
// spaces is found exactly as libpq would use it.
#pragma once

#include <string>
#include <string_view>

namespace postino::db {

// `conninfo` without its secrets. Unchanged when it holds no password;
// otherwise the options libpq parsed, as "key=value" pairs, with every
// secret option (password, sslpassword: libpq marks them) shown as "***".
// A string libpq cannot parse is shown as "(unparsable connection string)".
std::string MaskConnectionString(std::string_view conninfo);

// `text` (an error message) with every occurrence of the password that
// `conninfo` holds replaced by "***" (passwords shorter than 4 characters
// are left alone: masking them would garble ordinary words).
std::string MaskPasswordIn(std::string_view text, std::string_view conninfo);

}  // namespace postino::db
