// mime_decode_test.cc: decoding what the message builder writes (round
// trip: non-ASCII and long subjects, quoted-printable bodies with long
// lines, both parts) and hostile input (truncated, unterminated, deep
// nesting) decoding without errors.
#include "templates/mime_decode.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "templates/message_builder.h"

namespace postino::templates {
namespace {

WallTime Noon() { return WallTime(std::chrono::sys_days(std::chrono::year(2026) / 3 / 5) + std::chrono::hours(12)); }

TEST(MimeDecode, RoundTripsTheBuildersMessage) {
  CampaignSpec spec;
  spec.name = "Primavera";
  spec.from = {"Négozio", "news@example.com"};
  spec.subject_template = "Novità per {{first_name}} — {{campaign.name}} " + std::string(60, 'x');
  std::string long_line(300, 'a');
  spec.text_template = "Ciao {{first_name}}!\n" + long_line + " = fine\n";
  spec.html_template = "<p>Ciao {{first_name}} &amp; <b>{{city}}</b></p>";
  auto prepared = PreparedCampaign::Prepare(spec);
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  nlohmann::json attrs = {{"first_name", "Zoë"}, {"city", "Roma"}};
  RecipientData r{.email = "zoe@example.org", .attributes = &attrs};
  auto m = (*prepared)->Render(r, Noon());
  ASSERT_TRUE(m.ok()) << m.status().message();

  DecodedMessage d = DecodeMessage(m->bytes);
  EXPECT_EQ(d.Header("subject"), "Novità per Zoë — Primavera " + std::string(60, 'x'));
  EXPECT_EQ(d.Header("From"), "Négozio <news@example.com>");
  ASSERT_TRUE(d.has_text);
  ASSERT_TRUE(d.has_html);
  EXPECT_EQ(d.text, "Ciao Zoë!\n" + long_line + " = fine\n");
  EXPECT_EQ(d.html, "<p>Ciao Zoë &amp; <b>Roma</b></p>");
  EXPECT_EQ(d.Header("X-Absent"), "");
}

TEST(MimeDecode, EncodedWords) {
  EXPECT_EQ(DecodeEncodedWords("=?utf-8?B?Tm92aXTDoA==?= =?utf-8?Q?_per_te?="), "Novità per te");
  EXPECT_EQ(DecodeEncodedWords("plain =?utf-8?Q?caf=C3=A9?= end"), "plain café end");
  EXPECT_EQ(DecodeEncodedWords("=?broken"), "=?broken");
  EXPECT_EQ(DecodeEncodedWords("a =?x?Z?y?= b"), "a =?x?Z?y?= b");
}

TEST(MimeDecode, HostileInputNeverFails) {
  EXPECT_EQ(DecodeQuotedPrintable("a=4"), "a=4");
  EXPECT_EQ(DecodeQuotedPrintable("a=ZZb=\r\nc=3D"), "a=ZZbc=");
  EXPECT_EQ(DecodeBase64("SGk=!!"), "Hi");
  std::string nested = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 50; ++i) {
    nested += "--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n";
  }
  DecodedMessage d = DecodeMessage(nested);
  EXPECT_FALSE(d.has_text);
  d = DecodeMessage("Subject: x\r\n");
  EXPECT_EQ(d.Header("Subject"), "x");
  d = DecodeMessage("Content-Type: multipart/alternative; boundary=\"q\"\r\n\r\n--q\r\n"
                    "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nSGk=\r\n");
  EXPECT_EQ(d.text, "Hi");
}

}  // namespace
}  // namespace postino::templates
