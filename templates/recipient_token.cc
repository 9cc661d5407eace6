// recipient_token.cc: HMAC-SHA256 recipient tokens (see recipient_token.h).
#include "templates/recipient_token.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace postino::templates {
namespace {

constexpr size_t kMacBytes = 12;

std::string MacHex(std::string_view secret, int64_t campaign_id, int64_t delivery_id,
                   std::string_view email) {
  std::string data = fmt::format("{}.{}.{}", campaign_id, delivery_id, email);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kMacBytes * 2);
  for (size_t i = 0; i < kMacBytes; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

std::optional<int64_t> ParseId(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::string MakeRecipientToken(std::string_view secret, int64_t campaign_id, int64_t delivery_id,
                               std::string_view email) {
  return fmt::format("{}.{}.{}", campaign_id, delivery_id,
                     MacHex(secret, campaign_id, delivery_id, email));
}

std::optional<RecipientTokenParts> ParseRecipientToken(std::string_view token) {
  size_t a = token.find('.');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = token.find('.', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  std::optional<int64_t> campaign = ParseId(token.substr(0, a));
  std::optional<int64_t> delivery = ParseId(token.substr(a + 1, b - a - 1));
  std::string_view mac = token.substr(b + 1);
  if (!campaign || !delivery || mac.size() != kMacBytes * 2) return std::nullopt;
  for (char c : mac) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return RecipientTokenParts{*campaign, *delivery, std::string(mac)};
}

bool VerifyRecipientToken(std::string_view secret, const RecipientTokenParts& parts,
                          std::string_view email) {
  if (secret.empty() || parts.mac_hex.size() != kMacBytes * 2) return false;
  std::string expected = MacHex(secret, parts.campaign_id, parts.delivery_id, email);
  return CRYPTO_memcmp(expected.data(), parts.mac_hex.data(), expected.size()) == 0;
}

}  // namespace postino::templates
