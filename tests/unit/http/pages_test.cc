// pages_test.cc: language pick, HTML escaping and the rendered pages.
#include "http/pages.h"

#include <gtest/gtest.h>

namespace postino::http {
namespace {

TEST(PagesTest, LanguageFromAttributeFirst) {
  EXPECT_EQ(PickLanguage("it", ""), Language::kIt);
  EXPECT_EQ(PickLanguage("it-IT", "en"), Language::kIt);
  EXPECT_EQ(PickLanguage("it_IT.UTF-8", ""), Language::kIt);
  EXPECT_EQ(PickLanguage("Italiano", ""), Language::kIt);
  EXPECT_EQ(PickLanguage("EN", "it"), Language::kEn);
}

TEST(PagesTest, LanguageFromAcceptLanguageThenEnglish) {
  EXPECT_EQ(PickLanguage("", "it-CH,en;q=0.5"), Language::kIt);
  EXPECT_EQ(PickLanguage("de", "de, it;q=0.3"), Language::kIt);
  EXPECT_EQ(PickLanguage("fr", "fr, de"), Language::kEn);
  EXPECT_EQ(PickLanguage("", ""), Language::kEn);
  EXPECT_EQ(PickLanguage("", "en;q=0.9, it"), Language::kIt);
}

TEST(PagesTest, HtmlEscape) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape(std::string("a\0b\x01" "c\x7f", 6)), "abc");
  EXPECT_EQ(HtmlEscape("Zoë"), "Zoë");
}

TEST(PagesTest, ConfirmPageHasOneButtonFormAndEscapesValues) {
  PageValues v;
  v.email = "<img src=x onerror=alert(1)>@example.com";
  v.list_name = "News & \"Offers\"";
  v.form_action = "/u/1.2.abc\"><script>";
  std::string html = RenderPage(Page::kConfirm, Language::kEn, v);
  EXPECT_NE(html.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(html.find("lang=\"en\""), std::string::npos);
  EXPECT_NE(html.find("<form method=\"post\" action=\"/u/1.2.abc&quot;&gt;&lt;script&gt;\">"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("name=\"List-Unsubscribe\" value=\"One-Click\""), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;@example.com"), std::string::npos);
  EXPECT_NE(html.find("News &amp; &quot;Offers&quot;"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  size_t first = html.find("<button");
  EXPECT_NE(first, std::string::npos);
  EXPECT_EQ(html.find("<button", first + 1), std::string::npos);
}

TEST(PagesTest, ItalianTexts) {
  PageValues v{"anna@example.it", "Notizie", "/u/x"};
  EXPECT_NE(RenderPage(Page::kConfirm, Language::kIt, v).find("Annulla l&#39;iscrizione"),
            std::string::npos);
  EXPECT_NE(RenderPage(Page::kDone, Language::kIt, v).find("Iscrizione annullata"), std::string::npos);
  EXPECT_NE(RenderPage(Page::kUnknown, Language::kIt, v).find("scaduto"), std::string::npos);
  EXPECT_NE(RenderPage(Page::kDone, Language::kIt, v).find("lang=\"it\""), std::string::npos);
}

TEST(PagesTest, ErrorPagesShowNoAddress) {
  PageValues v{"anna@example.it", "Notizie", "/u/x"};
  for (Page p : {Page::kMalformed, Page::kUnknown, Page::kUnavailable, Page::kNeedsBody}) {
    std::string html = RenderPage(p, Language::kEn, v);
    EXPECT_EQ(html.find("anna@"), std::string::npos);
    EXPECT_EQ(html.find("<form"), std::string::npos);
  }
}

TEST(PagesTest, DoneWithoutListName) {
  PageValues v{"a@b.example", "", ""};
  std::string html = RenderPage(Page::kDone, Language::kEn, v);
  EXPECT_NE(html.find("will not receive these emails any more"), std::string::npos) << html;
}

}  // namespace
}  // namespace postino::http
