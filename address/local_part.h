// local_part.h: whether postino can send to an address today, and why not.
// Shared by `list import` (a refused address is reported on its line) and
// meant for every other place that accepts recipients, so that nothing is
// accepted that the run would then record as `failed`: postino does not send
// SMTPUTF8 (RFC 6531) and does not write quoted local parts, and an
// invisible character (zero-width space, BOM, bidi control...) in an
// address is always a copy-and-paste accident.
#pragma once

#include <string_view>

#include "address/address.h"
#include "common/status.h"

namespace postino::address {

// Error "invisible character U+200B in the address" (or "unusual space
// character U+00A0 in the address") when `text` holds one; OK otherwise.
// Bytes that are not UTF-8 are left to the other checks.
Status CheckNoInvisible(std::string_view text);

// Error with the reason when postino cannot send to `address` (as parsed by
// ParseAddress): an invisible character, a quoted local part ("quoted local
// parts are not supported"), a non-ASCII local part ("non-ASCII local part
// needs SMTPUTF8, which postino does not send yet").
Status CheckSendable(const MailAddress& address);

}  // namespace postino::address
