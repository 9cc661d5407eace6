// mime_test.cc: quoted-printable, header encoding/folding, addresses with
// IDNA, and the message builder — structure checked here, decoding checked
// by Python's email package (an independent parser), header injection with
// hostile recipient attributes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "templates/header_rules.h"
#include "templates/message_builder.h"
#include "templates/mime_encoding.h"
#include "tests/unit/templates/test_util.h"

namespace postino::templates {
namespace {

using nlohmann::json;
using testing::TempDir;

// RFC 5322 wire-format rules: CRLF only, no NUL, no line over 998 octets,
// header lines (before the first empty line) at most 78 columns.
std::string WireFormatProblems(const std::string& m) {
  std::string problems;
  bool in_headers = true;
  size_t line_start = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\0') problems += "NUL at " + std::to_string(i) + "; ";
    if (m[i] == '\r' && (i + 1 == m.size() || m[i + 1] != '\n')) {
      problems += "bare CR at " + std::to_string(i) + "; ";
    }
    if (m[i] == '\n') {
      if (i == 0 || m[i - 1] != '\r') problems += "bare LF at " + std::to_string(i) + "; ";
      size_t len = i - line_start - 1;
      if (len > 998) problems += "line over 998 at " + std::to_string(line_start) + "; ";
      if (in_headers && len > 78) {
        problems += "header line over 78: " + m.substr(line_start, len) + "; ";
      }
      if (len == 0) in_headers = false;
      line_start = i + 1;
    }
  }
  if (!m.empty() && m.back() != '\n') problems += "no final CRLF; ";
  return problems;
}

std::vector<std::string> HeaderNames(const std::string& m) {
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos < m.size()) {
    size_t eol = m.find("\r\n", pos);
    if (eol == pos || eol == std::string::npos) break;
    if (m[pos] != ' ' && m[pos] != '\t') names.push_back(m.substr(pos, m.find(':', pos) - pos));
    pos = eol + 2;
  }
  return names;
}

// Parses with Python's email package.
json ParseWithPython(const std::string& message) {
  TempDir dir;
  testing::WriteFile(dir.File("m.eml"), message);
  auto r = testing::RunPython(testing::ScriptPath("parse_message.py"), {dir.File("m.eml")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return json();
  return json::parse(r.output);
}

std::string Header(const json& parsed, const std::string& name) {
  for (const auto& h : parsed["headers"]) {
    if (h[0] == name) return h[1];
  }
  return "<absent>";
}

std::string QpDecode(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
      i += 2;
    } else if (in[i] == '=') {
      out.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

TEST(QuotedPrintableTest, EncodesLongLinesSpacesAndBreaks) {
  std::string in =
      std::string(200, 'a') + " \nx\t\r\ny=z\rend é\r\n.leading dot " + std::string(300, '\xc3');
  std::string out;
  AppendQuotedPrintable(in, &out);
  EXPECT_EQ(WireFormatProblems(out + "\r\n"), "");
  size_t start = 0;
  while (start < out.size()) {
    size_t eol = out.find("\r\n", start);
    if (eol == std::string::npos) eol = out.size();
    EXPECT_LE(eol - start, 76u) << out.substr(start, eol - start);
    EXPECT_NE(out[eol - 1], ' ');
    EXPECT_NE(out[eol - 1], '\t');
    start = eol + 2;
  }
  std::string normalized = std::string(200, 'a') + " \r\nx\t\r\ny=z\r\nend é\r\n.leading dot " +
                           std::string(300, '\xc3');
  EXPECT_EQ(QpDecode(out), normalized);
  EXPECT_NE(out.find("=20\r\n"), std::string::npos);
  EXPECT_NE(out.find("=09\r\n"), std::string::npos);
  EXPECT_NE(out.find("y=3Dz"), std::string::npos);
}

TEST(HeaderEncodingTest, AsciiSubjectFoldsAtSpaces) {
  std::string value;
  for (int i = 0; i < 30; ++i) value += "word" + std::to_string(i) + " ";
  value += "end";
  std::string out;
  AppendUnstructuredHeader("Subject", value, &out);
  EXPECT_EQ(WireFormatProblems(out), "");
  std::string unfolded = out;
  for (size_t p; (p = unfolded.find("\r\n ")) != std::string::npos;) unfolded.erase(p, 2);
  EXPECT_EQ(unfolded, "Subject: " + value + "\r\n");
}

// Standard base64 decoding (stops at the first '=').
std::string DecodeBase64(std::string_view b64) {
  static const std::string kAlpha =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string raw;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<uint32_t>(kAlpha.find(c));
    bits += 6;
    if (bits >= 8) {
      raw.push_back(static_cast<char>((acc >> (bits - 8)) & 0xFF));
      bits -= 8;
    }
  }
  return raw;
}

// The text of a header line written by AppendUnstructuredHeader: encoded
// words decoded (whitespace between adjacent encoded words dropped, as RFC
// 2047 says), plain text unfolded.
std::string DecodeUnstructured(const std::string& header) {
  std::string body = header.substr(header.find(": ") + 2);
  body.resize(body.size() - 2);  // final CRLF
  if (body.rfind("=?UTF-8?B?", 0) != 0) {
    for (size_t p; (p = body.find("\r\n")) != std::string::npos;) body.erase(p, 2);
    return body;
  }
  std::string out;
  size_t pos = 0;
  while ((pos = body.find("=?UTF-8?B?", pos)) != std::string::npos) {
    size_t end = body.find("?=", pos + 10);
    out += DecodeBase64(std::string_view(body).substr(pos + 10, end - pos - 10));
    pos = end + 2;
  }
  return out;
}

// Issue 11 item 12: a run of spaces was never folded, so a Subject with
// ~1,000 spaces made a line over 998 octets (the recipient was bounced).
TEST(HeaderEncodingTest, LongWhitespaceRunsAndWordsNeverMakeOverlongLines) {
  const std::vector<std::string> values = {
      "Hello" + std::string(1000, ' ') + "world", std::string(1000, ' '),
      "Sale" + std::string(100000, ' ') + "now",  std::string(5000, 'x'),
      "a " + std::string(5000, 'x') + " b",       "trailing blanks" + std::string(70, ' '),
      std::string(70, ' ') + "leading blanks",    "tabs\t\t\t" + std::string(200, '\t') + "end",
  };
  for (const std::string& value : values) {
    std::string out;
    AppendUnstructuredHeader("Subject", value, &out);
    EXPECT_EQ(WireFormatProblems(out), "") << value.size() << " octets";
    EXPECT_EQ(DecodeUnstructured(out), value) << value.size() << " octets";
    // No continuation line of white space only (RFC 5322 §3.2.2).
    for (size_t p = 0; (p = out.find("\r\n", p)) != std::string::npos; p += 2) {
      size_t next = out.find("\r\n", p + 2);
      if (next == std::string::npos) break;
      std::string line = out.substr(p + 2, next - p - 2);
      EXPECT_NE(line.find_first_not_of(" \t"), std::string::npos) << value.size() << " octets";
    }
  }
}

TEST(HeaderEncodingTest, NonAsciiBecomesEncodedWordsWithoutSplittingCharacters) {
  std::string value;
  for (int i = 0; i < 40; ++i) value += "è€😀";
  std::string out;
  AppendUnstructuredHeader("Subject", value, &out);
  EXPECT_EQ(WireFormatProblems(out), "");
  EXPECT_EQ(out.rfind("Subject: =?UTF-8?B?", 0), 0u);
  // Every encoded word decodes to whole UTF-8 characters.
  size_t pos = 0;
  std::string rebuilt;
  while ((pos = out.find("=?UTF-8?B?", pos)) != std::string::npos) {
    size_t end = out.find("?=", pos + 10);
    ASSERT_LE(end - pos + 2, 75u);
    std::string raw = DecodeBase64(std::string_view(out).substr(pos + 10, end - pos - 10));
    EXPECT_NE(static_cast<unsigned char>(raw[0]) & 0xC0, 0x80u) << "word starts mid-character";
    rebuilt += raw;
    pos = end + 2;
  }
  EXPECT_EQ(rebuilt, value);
}

TEST(AddressTest, IdnaDomainsBecomeALabels) {
  auto a = NormalizeAddress("user@bücher.example");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, "user@xn--bcher-kva.example");
  EXPECT_EQ(*NormalizeAddress("Ada.Lovelace+news@Example.ORG"), "Ada.Lovelace+news@Example.ORG");
  for (const char* bad : {"no-at", "@x.org", "a@", "a b@x.org", "a@x..org", "a\r\n@x.org",
                          "ü@x.org", "a@-x.org", "\"q\"@x.org", "a@x_y.org", ".a@x.org"}) {
    EXPECT_FALSE(NormalizeAddress(bad).ok()) << bad;
  }
}

TEST(NeutralizeTest, ControlsBecomeSpacesNulIsRemoved) {
  std::string s("a\r\nb\0c\x01\td", 9);
  EXPECT_EQ(NeutralizeHeaderText(&s), 4u);
  EXPECT_EQ(s, "a  bc \td");
}

CampaignSpec BasicSpec() {
  CampaignSpec spec;
  spec.name = "Primavera";
  spec.from = {"Négozio Àrte", "news@négozio.example"};
  spec.reply_to = {"Support", "help@example.com"};
  spec.subject_template = "Ciao {{first_name | default: \"amico\"}}, novità da {{campaign.name}}";
  spec.text_template =
      "Ciao {{first_name}}!\n{{#items}}- {{name}}: {{price}}\n{{/items}}Annulla: "
      "{{unsubscribe_url}}\n";
  spec.html_template =
      "<p>Ciao {{first_name}} &mdash; {{city.name | upper}}</p><ul>{{#items}}<li>{{name}}</li>"
      "{{/items}}</ul><a href=\"{{unsubscribe_url}}\">annulla</a>";
  spec.list_id = "Notizie <news.example.com>";
  spec.unsubscribe_url_base = "https://example.com/u";
  spec.unsubscribe_mailto = "unsub@example.com";
  spec.feedback_id = "c42:customer1:newsletter:postino";
  spec.extra_headers = {{"X-Campaign", "42"}};
  spec.verp_domain = "bounces.example.com";
  return spec;
}

json Attributes() {
  return json{
      {"first_name", "Élodie"},
      {"city", {{"name", "torino"}}},
      {"items", {{{"name", "<Borsa>"}, {"price", 10}}, {{"name", "Sciarpa"}, {"price", 5.5}}}}};
}

WallTime Noon() { return WallTime(std::chrono::seconds(1709640000)); }  // 2024-03-05 12:00 UTC

TEST(MessageBuilderTest, BuildsAWellFormedMultipartMessage) {
  auto prepared = PreparedCampaign::Prepare(BasicSpec());
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  json attrs = Attributes();
  RecipientData r;
  r.email = "élodie@bücher.example";
  r.email = "elodie@bücher.example";
  r.display_name = "Élodie Dupont";
  r.attributes = &attrs;
  r.unsubscribe_token = "tok-123";
  auto m = (*prepared)->Render(r, Noon());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(WireFormatProblems(m->bytes), "");
  EXPECT_EQ(m->envelope_from, "bounces+tok-123@bounces.example.com");
  EXPECT_EQ(m->message_id.front(), '<');
  EXPECT_NE(m->message_id.find("@xn--ngozio-bva.example>"), std::string::npos) << m->message_id;
  EXPECT_EQ(m->stats.missing_values, 0u);
  EXPECT_EQ(
      HeaderNames(m->bytes),
      (std::vector<std::string>{"From", "To", "Subject", "Date", "Message-ID", "Reply-To",
                                "MIME-Version", "List-Id", "List-Unsubscribe-Post", "Precedence",
                                "Feedback-ID", "X-Campaign", "List-Unsubscribe", "Content-Type"}));
  EXPECT_NE(m->bytes.find("Date: Tue, 05 Mar 2024 12:00:00 +0000\r\n"), std::string::npos);
  EXPECT_NE(m->bytes.find("List-Unsubscribe: <https://example.com/u?t=tok-123>,\r\n "
                          "<mailto:unsub@example.com?subject=unsubscribe-tok-123>\r\n"),
            std::string::npos);

  if (std::string why = testing::PythonMissing("email"); !why.empty()) GTEST_SKIP() << why;
  json parsed = ParseWithPython(m->bytes);
  ASSERT_TRUE(parsed.is_object());
  EXPECT_EQ(parsed["defects"], json::array());
  EXPECT_EQ(Header(parsed, "Subject"), "Ciao Élodie, novità da Primavera");
  EXPECT_EQ(Header(parsed, "From"), "Négozio Àrte <news@xn--ngozio-bva.example>");
  EXPECT_EQ(Header(parsed, "To"), "Élodie Dupont <elodie@xn--bcher-kva.example>");
  EXPECT_EQ(Header(parsed, "Reply-To"), "Support <help@example.com>");
  EXPECT_EQ(Header(parsed, "List-Id"), "Notizie <news.example.com>");
  EXPECT_EQ(Header(parsed, "Precedence"), "bulk");
  EXPECT_EQ(Header(parsed, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  ASSERT_EQ(parsed["parts"].size(), 2u);
  EXPECT_EQ(parsed["parts"][0]["type"], "text/plain");
  EXPECT_EQ(parsed["parts"][0]["cte"], "quoted-printable");
  auto body = [&](int i) {
    std::string b = parsed["parts"][i]["body"];
    for (size_t p; (p = b.find("\r\n")) != std::string::npos;) b.erase(p, 1);
    return b;
  };
  EXPECT_EQ(
      body(0),
      "Ciao Élodie!\n- <Borsa>: 10\n- Sciarpa: 5.5\nAnnulla: https://example.com/u?t=tok-123\n");
  EXPECT_EQ(parsed["parts"][1]["type"], "text/html");
  EXPECT_EQ(body(1),
            "<p>Ciao Élodie &mdash; TORINO</p><ul><li>&lt;Borsa&gt;</li><li>Sciarpa</li></ul>"
            "<a href=\"https://example.com/u?t=tok-123\">annulla</a>");
}

TEST(MessageBuilderTest, MessageIdsAndBoundariesAreUnique) {
  auto prepared = PreparedCampaign::Prepare(BasicSpec());
  ASSERT_TRUE(prepared.ok());
  json attrs = Attributes();
  RecipientData r{.email = "a@example.org", .attributes = &attrs, .unsubscribe_token = "t"};
  std::set<std::string> ids;
  std::set<std::string> boundaries;
  RenderedMessage m;
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE((*prepared)->Render(r, Noon(), &m).ok());
    ids.insert(m.message_id);
    size_t b = m.bytes.find("boundary=\"");
    boundaries.insert(m.bytes.substr(b, m.bytes.find('"', b + 10) - b));
  }
  EXPECT_EQ(ids.size(), 500u);
  EXPECT_EQ(boundaries.size(), 500u);
}

TEST(MessageBuilderTest, RetryReusesStoredMessageId) {
  auto prepared = PreparedCampaign::Prepare(BasicSpec());
  ASSERT_TRUE(prepared.ok());
  RecipientData r{.email = "a@example.org", .unsubscribe_token = "t", .message_id = "abc.1@x.org"};
  auto m = (*prepared)->Render(r, Noon());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->message_id, "<abc.1@x.org>");
  EXPECT_NE(m->bytes.find("\r\nMessage-ID: <abc.1@x.org>\r\n"), std::string::npos);
  r.message_id = "bad\r\nBcc: x@y";
  EXPECT_FALSE((*prepared)->Render(r, Noon()).ok());
}

TEST(MessageBuilderTest, MissingAttributesAreCounted) {
  auto prepared = PreparedCampaign::Prepare(BasicSpec());
  ASSERT_TRUE(prepared.ok());
  RecipientData r{.email = "a@example.org", .unsubscribe_token = "t"};  // no attributes at all
  auto m = (*prepared)->Render(r, Noon());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->stats.defaults_used, 1u);   // subject first_name
  EXPECT_EQ(m->stats.missing_values, 3u);  // text first_name, html first_name, city.name
  EXPECT_EQ(m->stats.missing_names, (std::vector<std::string>{"first_name", "city.name"}));
}

TEST(MessageBuilderTest, HostileAttributesCannotInjectHeadersOrParts) {
  CampaignSpec spec = BasicSpec();
  spec.subject_template = "{{{s}}}";
  spec.text_template = "{{{s}}}\n";
  spec.html_template = "<p>{{{s}}}</p>";
  auto prepared = PreparedCampaign::Prepare(spec);
  ASSERT_TRUE(prepared.ok());
  const std::string hostile_values[] = {
      "x\r\nBcc: victim@evil",
      "x\nBcc: victim@evil",
      "x\rBcc: victim@evil",
      "\r\n\r\n--=_pst_aaaa\r\nContent-Type: text/html\r\n\r\n<script>",
      std::string("nul\0Bcc: victim@evil", 20),
      "é\r\nBcc: victim@evil é",
  };
  for (const std::string& hostile : hostile_values) {
    json attrs{{"s", hostile}};
    RecipientData r{.email = "a@example.org",
                    .display_name = hostile,
                    .attributes = &attrs,
                    .unsubscribe_token = "t"};
    auto m = (*prepared)->Render(r, Noon());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(WireFormatProblems(m->bytes), "");
    EXPECT_GT(m->stats.header_chars_neutralized, 0u);
    for (const auto& name : HeaderNames(m->bytes)) {
      EXPECT_NE(name, "Bcc");
      EXPECT_NE(name, "bcc");
    }
    // Exactly the two parts plus the closing delimiter.
    size_t b = m->bytes.find("boundary=\"") + 10;
    std::string boundary = "\r\n--" + m->bytes.substr(b, m->bytes.find('"', b) - b);
    size_t count = 0;
    for (size_t p = 0; (p = m->bytes.find(boundary, p)) != std::string::npos; ++p) ++count;
    EXPECT_EQ(count, 3u);  // before part 1, before part 2, the close delimiter
    if (!testing::PythonMissing("email").empty()) continue;
    json parsed = ParseWithPython(m->bytes);
    ASSERT_TRUE(parsed.is_object());
    EXPECT_EQ(parsed["parts"].size(), 2u);
    EXPECT_EQ(Header(parsed, "Bcc"), "<absent>");
    std::string subject = Header(parsed, "Subject");
    EXPECT_EQ(subject.find_first_of(std::string("\r\n\0", 3)), std::string::npos) << subject;
    if (hostile.find("Bcc") != std::string::npos) {
      EXPECT_NE(subject.find("Bcc: victim@evil"), std::string::npos);  // kept as inert text
    }
    EXPECT_EQ(Header(parsed, "To").find('\n'), std::string::npos);
  }
}

// Issue 11 item 12 through the builder: a Subject rendered from recipient
// data with huge runs of spaces or one huge word still gives a message
// whose every line is within the limits.
TEST(MessageBuilderTest, SubjectWithHugeWhitespaceRunsIsFoldedOrEncoded) {
  CampaignSpec spec = BasicSpec();
  spec.subject_template = "{{s}}";
  auto prepared = PreparedCampaign::Prepare(spec);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  for (const std::string& subject :
       {"Hi" + std::string(1000, ' ') + "there", "Hi" + std::string(100000, ' ') + "there",
        std::string(5000, 'w')}) {
    json attrs = {{"s", subject}};
    RecipientData r;
    r.email = "ann@example.com";
    r.attributes = &attrs;
    r.unsubscribe_token = "tok-1";
    auto m = (*prepared)->Render(r, Noon());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(WireFormatProblems(m->bytes), "") << subject.size();
  }
}

TEST(MessageBuilderTest, HostileRecipientAddressOrTokenIsRefused) {
  auto prepared = PreparedCampaign::Prepare(BasicSpec());
  ASSERT_TRUE(prepared.ok());
  RecipientData r{.email = "a@example.org\r\nBcc: v@evil", .unsubscribe_token = "t"};
  auto m = (*prepared)->Render(r, Noon());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("recipient"), std::string::npos);
  r.email = "a@example.org";
  r.unsubscribe_token = "t>\r\nBcc: v@evil";
  EXPECT_FALSE((*prepared)->Render(r, Noon()).ok());
  r.unsubscribe_token = "";
  EXPECT_FALSE((*prepared)->Render(r, Noon()).ok());
}

TEST(MessageBuilderTest, SinglePartAndPlainEnvelope) {
  CampaignSpec spec;
  spec.from = {"", "news@example.com"};
  spec.subject_template = "Hi";
  spec.text_template = std::string(3000, 'x') + "\n";
  auto prepared = PreparedCampaign::Prepare(spec);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  auto m = (*prepared)->Render({.email = "a@example.org"}, Noon());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(WireFormatProblems(m->bytes), "");
  EXPECT_EQ(m->envelope_from, "news@example.com");
  EXPECT_EQ(m->bytes.find("multipart"), std::string::npos);
  EXPECT_NE(m->bytes.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
  EXPECT_EQ(m->bytes.find("List-Unsubscribe"), std::string::npos);
}

// Issue 11 item 13: the one check behind `campaign create --header`,
// `campaign launch` and the renderer.
TEST(ExtraHeaderTest, RefusesRoutingAndPostinoHeadersAndControlCharacters) {
  EXPECT_TRUE(ValidateExtraHeader("X-Campaign", "spring 2027").ok());
  EXPECT_TRUE(ValidateExtraHeader("X-Note", "Grüße\tund mehr").ok());
  for (std::string_view name :
       {"Bcc", "cc", "TO", "From", "Sender", "Return-Path", "Received", "Message-ID", "Date",
        "DKIM-Signature", "List-Unsubscribe", "List-Unsubscribe-Post", "MIME-Version",
        "Content-Type", "content-transfer-encoding", "Reply-To", "Subject"}) {
    Status s = ValidateExtraHeader(name, "x@example.com");
    EXPECT_FALSE(s.ok()) << name;
    EXPECT_NE(s.message().find("cannot be set"), std::string::npos) << s.message();
  }
  const std::string long_name = "X-" + std::string(80, 'a');
  for (std::string_view name :
       {std::string_view(""), std::string_view("Bad Name"), std::string_view("X:Y"),
        std::string_view("X-\x01"), std::string_view("X-\xc3\xa9"), std::string_view(long_name)}) {
    Status s = ValidateExtraHeader(name, "1");
    EXPECT_FALSE(s.ok()) << name;
    EXPECT_NE(s.message().find("header name"), std::string::npos) << s.message();
  }
  for (std::string_view value :
       {std::string_view("1\r\nBcc: x@y"), std::string_view("a\nb"), std::string_view("a\0b", 3),
        std::string_view("\x1b[31m"), std::string_view("\x7f")}) {
    Status s = ValidateExtraHeader("X-A", value);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("control character"), std::string::npos) << s.message();
  }
  EXPECT_FALSE(ValidateExtraHeader("X-A", "\xff").ok());
  EXPECT_FALSE(ValidateExtraHeader("X-A", std::string(901, 'a')).ok());
}

TEST(MessageBuilderTest, PrepareRejectsBadCampaignData) {
  auto expect_error = [](CampaignSpec spec, std::string_view fragment) {
    auto p = PreparedCampaign::Prepare(spec);
    ASSERT_FALSE(p.ok()) << fragment;
    EXPECT_NE(p.status().message().find(fragment), std::string::npos) << p.status().message();
  };
  CampaignSpec s = BasicSpec();
  s.extra_headers = {{"Bad Name", "x"}};
  expect_error(s, "extra header name");
  s.extra_headers = {{"bcc", "x@y"}};
  expect_error(s, "cannot be set");
  s.extra_headers = {{"Content-Type", "text/plain"}};
  expect_error(s, "cannot be set");
  s.extra_headers = {{"List-Unsubscribe-Post", "x"}};
  expect_error(s, "cannot be set");
  s.extra_headers = {{"X-A", "1\r\nBcc: x@y"}};
  expect_error(s, "control character");
  s = BasicSpec();
  s.unsubscribe_url_base = "http://example.com/u";
  expect_error(s, "https://");
  s = BasicSpec();
  s.from.display_name = "a\nb";
  expect_error(s, "control character");
  s = BasicSpec();
  s.html_template = "<p>{{#x}}</p>";
  expect_error(s, "html:1:4: unclosed section \"x\"");
  s = BasicSpec();
  s.text_template = "";
  s.html_template = "";
  expect_error(s, "neither");
}

}  // namespace
}  // namespace postino::templates
