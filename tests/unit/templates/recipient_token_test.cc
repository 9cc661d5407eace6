// recipient_token_test.cc: the List-Unsubscribe / VERP token round-trips,
// rejects forgeries and malformed text.
#include "templates/recipient_token.h"

#include <gtest/gtest.h>

#include <vector>

namespace postino::templates {
namespace {

TEST(RecipientToken, RoundTripsAndVerifies) {
  std::string t = MakeRecipientToken("k3y", 42, 1001, "a@example.org");
  auto parts = ParseRecipientToken(t);
  ASSERT_TRUE(parts.has_value()) << t;
  EXPECT_EQ(parts->campaign_id, 42);
  EXPECT_EQ(parts->delivery_id, 1001);
  EXPECT_EQ(parts->mac_hex.size(), 24u);
  EXPECT_TRUE(VerifyRecipientToken("k3y", *parts, "a@example.org"));
}

TEST(RecipientToken, RefusesOtherSecretAddressOrIds) {
  std::string t = MakeRecipientToken("k3y", 42, 1001, "a@example.org");
  auto parts = ParseRecipientToken(t);
  ASSERT_TRUE(parts.has_value());
  EXPECT_FALSE(VerifyRecipientToken("other", *parts, "a@example.org"));
  EXPECT_FALSE(VerifyRecipientToken("k3y", *parts, "b@example.org"));
  EXPECT_FALSE(VerifyRecipientToken("", *parts, "a@example.org"));
  RecipientTokenParts moved = *parts;
  moved.delivery_id = 1002;
  EXPECT_FALSE(VerifyRecipientToken("k3y", moved, "a@example.org"));
}

TEST(RecipientToken, ParseRefusesMalformedText) {
  std::string mac(24, 'a');
  EXPECT_TRUE(ParseRecipientToken("1.2." + mac).has_value());
  for (const std::string& bad : std::vector<std::string>{"", "1.2", "1.2.", "x.2." + mac, "1.-2." + mac,
                          "1.2." + mac + "0", "1.2." + std::string(24, 'A'), "1..2." + mac,
                          "1.2.3." + mac, "1234567890123456789.2." + mac}) {
    EXPECT_FALSE(ParseRecipientToken(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace postino::templates
