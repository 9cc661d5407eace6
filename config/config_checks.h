// config_checks.h: value checks of postino.toml that need more than a type
// and a range — EHLO names (RFC 5321 §4.1.1.1), node ids, and secrets read
// from files with their permissions checked. Internal to config/.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace postino::config::internal {

// True iff `name` is what RFC 5321 §4.1.1.1 allows after EHLO: a Domain
// (LDH labels of 1..63 octets, not starting or ending with '-', at most 253
// octets, an optional final dot) or an address literal ("[192.0.2.1]",
// "[IPv6:2001:db8::1]").
bool IsValidEhloName(std::string_view name);

// Ok, or what is wrong with a node id: it must be 1..64 printable ASCII
// characters without spaces (it names the node in leases, logs and events).
Status CheckNodeId(std::string_view id);

// Smallest secret accepted for unsubscribe tokens, in octets.
inline constexpr size_t kMinSecretBytes = 16;

// Reads a secret from `path`: a regular file that other users cannot read
// or write (mode 0600 or 0640), at least kMinSecretBytes octets once a
// final newline is dropped. The error says what to change.
Result<std::string> ReadSecretFile(const std::string& path);

}  // namespace postino::config::internal
