#include "address/address.h"

#include <gtest/gtest.h>

namespace postino::address {
namespace {

TEST(ParseAddressTest, AcceptsOrdinaryAddressesAndLowercasesDomain) {
  auto a = ParseAddress("  John.Doe+news@Example.COM ");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->local, "John.Doe+news");
  EXPECT_EQ(a->domain, "example.com");
  EXPECT_EQ(a->ToString(), "John.Doe+news@example.com");
  EXPECT_FALSE(a->utf8_local);
}

TEST(ParseAddressTest, ConvertsIdnaDomainsToALabels) {
  auto a = ParseAddress("anna@münchen.de");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->domain, "xn--mnchen-3ya.de");
  auto b = ParseAddress("li@例え.jp");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->domain.rfind("xn--", 0), 0u);
}

TEST(ParseAddressTest, Utf8LocalPartNeedsSmtputf8) {
  auto a = ParseAddress("josé@example.com");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->utf8_local);
}

TEST(ParseAddressTest, QuotedLocalPart) {
  auto a = ParseAddress("\"john smith\"@example.com");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->local, "\"john smith\"");
}

struct BadCase {
  const char* input;
  const char* reason;
};

class BadAddressTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadAddressTest, IsRejectedWithReason) {
  auto a = ParseAddress(GetParam().input);
  ASSERT_FALSE(a.ok()) << GetParam().input;
  EXPECT_NE(a.status().message().find(GetParam().reason), std::string::npos)
      << a.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadAddressTest,
    ::testing::Values(BadCase{"", "empty address"}, BadCase{"no-at.example.com", "missing '@'"},
                      BadCase{"@example.com", "empty local part"},
                      BadCase{"user@", "empty domain"}, BadCase{"a..b@example.com", "'..'"},
                      BadCase{".a@example.com", "starts or ends with '.'"},
                      BadCase{"a b@example.com", "not allowed in local part"},
                      BadCase{"a@exa mple.com", "not allowed in domain"},
                      BadCase{"a@localhost", "no dot"}, BadCase{"a@-x.com", "starts or ends with '-'"},
                      BadCase{"a@x..com", "empty label"}, BadCase{"a@[192.0.2.1]", "literals"},
                      BadCase{"a\r\nBcc: x@y.com@example.com", "control character"},
                      BadCase{"\xC0\x80" "bob@example.com", "not valid UTF-8"},
                      BadCase{"\"a\\\nRCPT TO:<x@evil.com>\"@example.com", "control character"},
                      BadCase{"a@a\u200Db.com", "IDNA"},
                      BadCase{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.com",
                              "longer than 64"}));

TEST(ParseNameAddrTest, DisplayNameForms) {
  auto a = ParseNameAddr("Postino News <news@Example.com>");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->display_name, "Postino News");
  EXPECT_EQ(a->address.ToString(), "news@example.com");
  auto b = ParseNameAddr("\"Café, Ltd\" <hi@cafe.fr>");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->display_name, "Café, Ltd");
  auto c = ParseNameAddr("plain@example.org");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->display_name, "");
  EXPECT_FALSE(ParseNameAddr("Broken <x@y.com").ok());
}

}  // namespace
}  // namespace postino::address
