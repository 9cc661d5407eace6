// address_test.cc: IP literal and host:port parsing.
#include "engine/net/address.h"

#include <gtest/gtest.h>

namespace postino::net {
namespace {

TEST(AddressTest, ParsesHostPortForms) {
  auto a = ParseHostPort("127.0.0.1:5353", 53);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 5353);
  auto b = ParseHostPort("[::1]:25", 53);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 25);
  auto c = ParseHostPort("mx.example.com", 25);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 25);
  auto d = ParseHostPort("::1", 25);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "::1");
  EXPECT_FALSE(ParseHostPort("host:0", 25).ok());
  EXPECT_FALSE(ParseHostPort("host:99999", 25).ok());
  EXPECT_FALSE(ParseHostPort("host:x", 25).ok());
  EXPECT_FALSE(ParseHostPort("[::1", 25).ok());
  EXPECT_FALSE(ParseHostPort(":25", 25).ok());
}

TEST(AddressTest, SockaddrRoundTrip) {
  sockaddr_storage ss;
  ASSERT_TRUE(MakeSockaddr("::1", 465, &ss).ok());
  EXPECT_EQ(SockaddrIp(reinterpret_cast<sockaddr*>(&ss)), "::1");
  EXPECT_EQ(SockaddrPort(reinterpret_cast<sockaddr*>(&ss)), 465);
  ASSERT_TRUE(MakeSockaddr("127.0.0.2", 25, &ss).ok());
  EXPECT_EQ(SockaddrIp(reinterpret_cast<sockaddr*>(&ss)), "127.0.0.2");
  EXPECT_FALSE(MakeSockaddr("mx.example.com", 25, &ss).ok());
  EXPECT_TRUE(IsIpLiteral("[::1]"));
  EXPECT_FALSE(IsIpLiteral("localhost"));
}

}  // namespace
}  // namespace postino::net
