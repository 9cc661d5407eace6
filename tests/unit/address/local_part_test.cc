// local_part_test.cc: the "can postino send to it today" checks that list
// import applies (issue 11 item 11).
#include "address/local_part.h"

#include <gtest/gtest.h>

namespace postino::address {
namespace {

std::string Why(const std::string& input) {
  Result<MailAddress> a = ParseAddress(input);
  if (!a.ok()) return "parse: " + a.status().message();
  Status s = CheckSendable(*a);
  return s.ok() ? "ok" : s.message();
}

TEST(CheckSendableTest, OrdinaryAndIdnaAddressesAreSendable) {
  EXPECT_EQ(Why("john.doe+news@example.com"), "ok");
  EXPECT_EQ(Why("anna@münchen.de"), "ok");  // the domain becomes A-labels
}

TEST(CheckSendableTest, QuotedLocalPartsAreRefused) {
  EXPECT_EQ(Why("\"john smith\"@example.com"), "quoted local parts are not supported");
}

TEST(CheckSendableTest, NonAsciiLocalPartsNeedSmtputf8) {
  EXPECT_EQ(Why("josé@example.com"),
            "non-ASCII local part needs SMTPUTF8, which postino does not send yet");
}

TEST(CheckSendableTest, InvisibleCharactersAreNamed) {
  EXPECT_EQ(Why("jo\u200Bhn@example.com"), "invisible character U+200B in the address");
  EXPECT_EQ(Why("john\u2060@example.com"), "invisible character U+2060 in the address");
  EXPECT_EQ(CheckNoInvisible("\xEF\xBB\xBFjohn@example.com").message(),
            "invisible character U+FEFF in the address");
  EXPECT_EQ(CheckNoInvisible("john@exa\u200Dmple.com").message(),
            "invisible character U+200D in the address");
  EXPECT_EQ(CheckNoInvisible("john\u00A0@example.com").message(),
            "unusual space character U+00A0 in the address");
  EXPECT_TRUE(CheckNoInvisible("josé@example.com").ok());
  EXPECT_TRUE(CheckNoInvisible("bad\xFF\xE2@example.com").ok());  // not UTF-8: other checks say so
}

}  // namespace
}  // namespace postino::address
