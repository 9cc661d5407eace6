// capabilities_test.cc: EHLO keyword parsing.
#include "engine/smtp/capabilities.h"

#include <gtest/gtest.h>

#include "engine/smtp/reply_parser.h"

namespace postino::smtp {
namespace {

Reply Parse(std::string_view text) {
  ReplyParser p;
  EXPECT_TRUE(p.Feed(text).ok());
  auto r = p.Next();
  EXPECT_TRUE(r.has_value());
  return r.value_or(Reply());
}

TEST(CapabilitiesTest, AllKnownKeywords) {
  Capabilities c = ParseCapabilities(
      Parse("250-mx.example.com greets you\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n"
            "250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"
            "250 AUTH LOGIN PLAIN XOAUTH2\r\n"));
  EXPECT_TRUE(c.esmtp);
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.eightbitmime);
  EXPECT_TRUE(c.smtputf8);
  EXPECT_TRUE(c.enhancedstatuscodes);
  EXPECT_TRUE(c.starttls);
  EXPECT_TRUE(c.auth_plain);
  EXPECT_TRUE(c.auth_login);
  EXPECT_TRUE(c.size_announced);
  EXPECT_EQ(c.size, 35882577u);
}

TEST(CapabilitiesTest, CaseInsensitiveAndOldAuthForm) {
  Capabilities c =
      ParseCapabilities(Parse("250-hi\r\n250-pipelining\r\n250-StartTLS\r\n250 auth=login\r\n"));
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.starttls);
  EXPECT_TRUE(c.auth_login);
  EXPECT_FALSE(c.auth_plain);
  Capabilities d = ParseCapabilities(Parse("250-hi\r\n250 AUTH=PLAIN LOGIN\r\n"));
  EXPECT_TRUE(d.auth_plain);
  EXPECT_TRUE(d.auth_login);
}

TEST(CapabilitiesTest, GreetingLineIsNotAKeyword) {
  Capabilities c = ParseCapabilities(Parse("250 PIPELINING\r\n"));
  EXPECT_TRUE(c.esmtp);
  EXPECT_FALSE(c.pipelining);
}

TEST(CapabilitiesTest, SizeWithoutOrWithBadLimit) {
  Capabilities c = ParseCapabilities(Parse("250-hi\r\n250 SIZE\r\n"));
  EXPECT_TRUE(c.size_announced);
  EXPECT_EQ(c.size, 0u);
  Capabilities d = ParseCapabilities(Parse("250-hi\r\n250 SIZE 12abc\r\n"));
  EXPECT_EQ(d.size, 0u);
  Capabilities e = ParseCapabilities(Parse("250-hi\r\n250 SIZE 99999999999999999999999\r\n"));
  EXPECT_EQ(e.size, 0u);
}

TEST(CapabilitiesTest, KeywordPrefixesDoNotMatch) {
  Capabilities c =
      ParseCapabilities(Parse("250-hi\r\n250-PIPELININGX\r\n250-XSTARTTLS\r\n250 AUTHX PLAIN\r\n"));
  EXPECT_FALSE(c.pipelining);
  EXPECT_FALSE(c.starttls);
  EXPECT_FALSE(c.auth_plain);
}

}  // namespace
}  // namespace postino::smtp
