// strings_test.cc: the shared ASCII helpers and EscapeControl.
#include "common/strings.h"

#include <gtest/gtest.h>

namespace postino {
namespace {

TEST(StringsTest, AsciiLowerLeavesUtf8Alone) {
  EXPECT_EQ(AsciiLower("MiXeD.Example"), "mixed.example");
  EXPECT_EQ(AsciiLower("ÄÖÜ-X"), "ÄÖÜ-x");
}

TEST(StringsTest, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("Message-ID", "message-id"));
  EXPECT_FALSE(EqualsIgnoreCase("Message-ID", "message-i"));
  EXPECT_FALSE(EqualsIgnoreCase("abc", "abd"));
  EXPECT_TRUE(StartsWithIgnoreCase("List-Unsubscribe-Post", "list-unsubscribe"));
  EXPECT_FALSE(StartsWithIgnoreCase("List", "list-unsubscribe"));
}

TEST(StringsTest, Trim) {
  EXPECT_EQ(Trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(TrimLeft("  a "), "a ");
  EXPECT_EQ(TrimRight("  a "), "  a");
  EXPECT_EQ(Trim("   "), "");
  EXPECT_EQ(TrimBlanks("\t a\r\n "), "a\r\n");
}

TEST(EscapeControlTest, TerminalEscapesArePrintedInert) {
  EXPECT_EQ(EscapeControl("550 \x1b[31mred\x1b[0m"), "550 \\x1b[31mred\\x1b[0m");
  EXPECT_EQ(EscapeControl("a\r\nb\tc\x7f"), "a\\r\\nb\\tc\\x7f");
  EXPECT_EQ(EscapeControl(std::string_view("nul\0x", 5)), "nul\\x00x");
}

TEST(EscapeControlTest, BackslashIsDoubledSoEscapesAreUnambiguous) {
  EXPECT_EQ(EscapeControl("C:\\x1b"), "C:\\\\x1b");
}

TEST(EscapeControlTest, ValidUtf8IsKeptInvalidBytesAndC1AreEscaped) {
  EXPECT_EQ(EscapeControl("Zoë – ok 😀"), "Zoë – ok 😀");
  EXPECT_EQ(EscapeControl("bad \xff\xc3"), "bad \\xff\\xc3");
  EXPECT_EQ(EscapeControl("\xc2\x9b"
                          "31m"),
            "\\xc2\\x9b31m");                                   // U+009B is the 8-bit CSI
  EXPECT_EQ(EscapeControl("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
}

}  // namespace
}  // namespace postino
