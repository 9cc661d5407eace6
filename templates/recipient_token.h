// recipient_token.h: the per-recipient token carried by List-Unsubscribe URLs
// and VERP return paths. "<campaign>.<delivery>.<mac>", where mac is the first
// 12 bytes (24 hex digits) of HMAC-SHA256(secret, "<campaign>.<delivery>.<email>").
// It names the delivery row and cannot be forged without the secret; the
// receiving side (http/ unsubscribes, inbound/ bounces) looks the delivery up
// by id and verifies the mac against its stored address.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postino::templates {

std::string MakeRecipientToken(std::string_view secret, int64_t campaign_id, int64_t delivery_id,
                               std::string_view email);

struct RecipientTokenParts {
  int64_t campaign_id = 0;
  int64_t delivery_id = 0;
  std::string mac_hex;  // 24 lowercase hex digits
};

// Syntax only: two decimal ids (no sign, at most 18 digits) and a 24-digit hex
// mac. Anything else (empty, extra dots, upper case, over-long) is nullopt.
std::optional<RecipientTokenParts> ParseRecipientToken(std::string_view token);

// True when parts.mac_hex is the mac of (campaign, delivery, email) under
// secret; compares in constant time. An empty secret never verifies.
bool VerifyRecipientToken(std::string_view secret, const RecipientTokenParts& parts,
                          std::string_view email);

}  // namespace postino::templates
