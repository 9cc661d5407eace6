// request_test.cc: form and percent decoding, Accept-Language ordering.
#include "http/request.h"

#include <gtest/gtest.h>

namespace postino::http {
namespace {

TEST(RequestTest, ParseFormDecodesPlusAndPercent) {
  auto f = ParseForm("List-Unsubscribe=One-Click&x=a+b%20c%3D&empty=&flag");
  EXPECT_EQ(f["List-Unsubscribe"], "One-Click");
  EXPECT_EQ(f["x"], "a b c=");
  EXPECT_EQ(f["empty"], "");
  EXPECT_EQ(f.count("flag"), 1u);
}

TEST(RequestTest, ParseFormKeepsBadEscapesAndFirstValue) {
  auto f = ParseForm("a=%zz%4&a=second&b=%");
  EXPECT_EQ(f["a"], "%zz%4");
  EXPECT_EQ(f["b"], "%");
}

TEST(RequestTest, ParseFormIsBoundedInPairs) {
  std::string body;
  for (int i = 0; i < 1000; ++i) body += "k" + std::to_string(i) + "=v&";
  EXPECT_EQ(ParseForm(body, 32).size(), 32u);
}

TEST(RequestTest, PercentDecodeLeavesPlus) { EXPECT_EQ(PercentDecode("a+b%2B"), "a+b+"); }

TEST(RequestTest, AcceptLanguagesByQualityThenOrder) {
  EXPECT_EQ(AcceptLanguages("fr-CH, fr;q=0.9, it;q=0.95, en;q=0.8, *;q=0.5"),
            (std::vector<std::string>{"fr", "it", "fr", "en", "*"}));
  EXPECT_EQ(AcceptLanguages("de;q=0, it_IT"), (std::vector<std::string>{"it"}));
  EXPECT_TRUE(AcceptLanguages("").empty());
  EXPECT_TRUE(AcceptLanguages(";;;,,,q=").empty());
  std::string many;
  for (int i = 0; i < 100; ++i) many += "en,";
  EXPECT_LE(AcceptLanguages(many).size(), 16u);
}

}  // namespace
}  // namespace postino::http
