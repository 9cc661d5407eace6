#include "common/utf8.h"

#include <gtest/gtest.h>

namespace postino {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("Zoë, 李, Юлия, \xF0\x9F\x93\xAE"));
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3)));
}

TEST(Utf8Test, RejectsOverlongSurrogatesAndOutOfRange) {
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("Empf\xe4nger"));      // Latin-1
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
}

TEST(Utf8Test, SanitizeReplacesBadBytesAndDropsNul) {
  EXPECT_EQ(SanitizeUtf8("Empf\xe4nger unbekannt"), "Empf\xEF\xBF\xBDnger unbekannt");
  EXPECT_EQ(SanitizeUtf8(std::string_view("a\0b", 3)), "ab");
  EXPECT_EQ(SanitizeUtf8("ok ë"), "ok ë");
  EXPECT_TRUE(IsValidUtf8(SanitizeUtf8("\xC0\x80\xED\xA0\x80\xFF")));
}

}  // namespace
}  // namespace postino
