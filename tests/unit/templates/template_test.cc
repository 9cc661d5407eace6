// template_test.cc: postino's template extensions (defaults, filters,
// escaping options, stats, errors with positions, limits on hostile input).
#include "templates/template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "templates/filters.h"

namespace postino::templates {
namespace {

using nlohmann::json;

CompileOptions Named(std::string name) {
  CompileOptions options;
  options.part_name = std::move(name);
  return options;
}

std::string RenderOrDie(std::string_view source, const json& data, bool escape = true,
                        RenderStats* stats_out = nullptr) {
  auto tpl = CompileTemplate(source);
  EXPECT_TRUE(tpl.ok()) << tpl.status().ToString();
  if (!tpl.ok()) return "<compile error>";
  std::string out;
  RenderStats stats;
  EXPECT_TRUE(tpl->RenderRoot(data, {.html_escape = escape}, &out, &stats).ok());
  if (stats_out) *stats_out = stats;
  return out;
}

TEST(TemplateTest, DefaultForMissingNullAndEmpty) {
  RenderStats stats;
  EXPECT_EQ(RenderOrDie(R"(Ciao {{first_name | default: "amico"}}!)", json::object(), true, &stats),
            "Ciao amico!");
  EXPECT_EQ(stats.defaults_used, 1u);
  EXPECT_EQ(stats.missing_values, 0u);
  EXPECT_EQ(
      RenderOrDie(R"({{a|default:'x'}}{{b | default: "y"}})", json{{"a", nullptr}, {"b", ""}}),
      "xy");
  EXPECT_EQ(RenderOrDie(R"({{a | default: "x"}})", json{{"a", "Anna"}}), "Anna");
  EXPECT_EQ(RenderOrDie(R"({{a | default: "say \"hi\""}})", json::object()), "say &quot;hi&quot;");
}

TEST(TemplateTest, CaseFiltersAreUtf8Aware) {
  json data{{"n", "élodie ÀÉÎÕÜ straße ŁÓDŹ ÿ"}};
  EXPECT_EQ(RenderOrDie("{{n | upper}}", data), "ÉLODIE ÀÉÎÕÜ STRAßE ŁÓDŹ Ÿ");
  EXPECT_EQ(RenderOrDie("{{n | lower}}", data), "élodie àéîõü straße łódź ÿ");
  EXPECT_EQ(RenderOrDie("{{n | capitalize}}", json{{"n", "éLODIE"}}), "Élodie");
  EXPECT_EQ(RenderOrDie("{{n | upper}}", json{{"n", "Čeština ďábel ŉ İı"}}), "ČEŠTINA ĎÁBEL ŉ İI");
  EXPECT_EQ(RenderOrDie("{{n | upper}}", json{{"n", "привет αβγ"}}), "ПРИВЕТ ΑΒΓ");
  // Invalid UTF-8 passes through untouched.
  EXPECT_EQ(RenderOrDie("{{n | upper}}", json{{"n",
                                               "a\xff"
                                               "b"}}),
            "A\xff"
            "B");
}

TEST(TemplateTest, DateFilter) {
  EXPECT_EQ(RenderOrDie(R"({{d | date: "%d/%m/%Y"}})", json{{"d", "2024-03-05"}}), "05/03/2024");
  EXPECT_EQ(RenderOrDie(R"({{d | date: "%A %e %B %Y %H:%M:%S %j %%"}})",
                        json{{"d", "2024-03-05T17:04:09.123+01:00"}}),
            "Tuesday  5 March 2024 17:04:09 065 %");
  EXPECT_EQ(RenderOrDie(R"({{d | date: "%a %b %y"}})", json{{"d", "2000-02-29 00:00Z"}}),
            "Tue Feb 00");
  RenderStats stats;
  EXPECT_EQ(RenderOrDie(R"({{d | date: "%Y"}})", json{{"d", "2023-02-29"}}, true, &stats),
            "2023-02-29");
  EXPECT_EQ(stats.filter_errors, 1u);
}

TEST(TemplateTest, ChainingAndNestedAttributes) {
  json data{{"city", {{"name", "torino"}}}, {"first", nullptr}};
  EXPECT_EQ(RenderOrDie(R"({{city.name | capitalize}} {{first | default: "amico" | upper}})", data),
            "Torino AMICO");
}

TEST(TemplateTest, EscapingIsAnOption) {
  json data{{"x", "<b>&\"'"}};
  EXPECT_EQ(RenderOrDie("{{x}}|{{{x}}}|{{& x}}", data, true),
            "&lt;b&gt;&amp;&quot;&#39;|<b>&\"'|<b>&\"'");
  EXPECT_EQ(RenderOrDie("{{x}}", data, false), "<b>&\"'");
  EXPECT_EQ(RenderOrDie("{{{x | upper}}}", data, true), "<B>&\"'");
}

TEST(TemplateTest, MissingValuesAreCountedAndNamed) {
  RenderStats stats;
  EXPECT_EQ(RenderOrDie("a{{x}}b{{y.z}}c{{x}}{{#s}}no{{/s}}{{^t}}yes{{/t}}", json::object(), true,
                        &stats),
            "abcyes");
  EXPECT_EQ(stats.missing_values, 3u);
  EXPECT_EQ(stats.missing_sections, 2u);
  EXPECT_EQ(stats.missing_names, (std::vector<std::string>{"x", "y.z"}));
}

TEST(TemplateTest, BuiltinsFrameWinsOverAttributes) {
  auto tpl = CompileTemplate("{{unsubscribe_url}} {{campaign.name}} {{recipient.email}} {{name}}");
  ASSERT_TRUE(tpl.ok());
  json attrs{{"unsubscribe_url", "https://evil"}, {"name", "Ada"}};
  json builtins{{"unsubscribe_url", "https://u/x"},
                {"campaign", {{"name", "Spring"}}},
                {"recipient", {{"email", "a@b.c"}}}};
  const json* frames[] = {&attrs, &builtins};
  std::string out;
  RenderStats stats;
  ASSERT_TRUE(tpl->Render(frames, {}, &out, &stats).ok());
  EXPECT_EQ(out, "https://u/x Spring a@b.c Ada");
  EXPECT_EQ(tpl->referenced_names(),
            (std::vector<std::string>{"unsubscribe_url", "campaign", "recipient", "name"}));
}

TEST(TemplateTest, EmptyStringIsFalseyZeroIsTruthy) {
  EXPECT_EQ(RenderOrDie("{{#a}}A{{/a}}{{^a}}noA{{/a}}{{#z}}Z{{/z}}", json{{"a", ""}, {"z", 0}}),
            "noAZ");
}

TEST(TemplateTest, SyntaxErrorsNamePartLineAndColumn) {
  auto r = CompileTemplate("line1\n  {{#items}}\n{{name}}\n", Named("html"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "html:2:3: unclosed section \"items\" (opened here, no {{/items}} follows)");
  r = CompileTemplate("{{#a}}\n{{/b}}", Named("text"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "text:2:1: closing tag \"b\" does not match open section \"a\" (opened at 1:1)");
  r = CompileTemplate("ab {{name", Named("subject"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "subject:1:4: unclosed tag \"{{\": no \"}}\" follows");
  r = CompileTemplate("{{x | shout}}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown filter \"shout\""), std::string::npos);
  EXPECT_FALSE(CompileTemplate("{{x | date}}").ok());
  EXPECT_FALSE(CompileTemplate("{{x | upper: \"a\"}}").ok());
  EXPECT_FALSE(CompileTemplate("{{x | default: \"a}}").ok());
  EXPECT_FALSE(CompileTemplate("{{/x}}").ok());
  EXPECT_FALSE(CompileTemplate("{{a..b}}").ok());
  EXPECT_FALSE(CompileTemplate("{{=<% =}}").ok());
  EXPECT_FALSE(CompileTemplate("{{#a | upper}}{{/a}}").ok());
  CompileOptions with_partial;
  with_partial.part_name = "html";
  with_partial.partials["footer"] = "ok\n{{#x}}";
  r = CompileTemplate("{{>footer}}", with_partial);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("html>footer:2:1: unclosed section", 0), 0u)
      << r.status().message();
}

TEST(TemplateTest, DeepNestingIsRefusedNotOverflowed) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "{{#a}}";
  auto r = CompileTemplate(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nest deeper"), std::string::npos);
}

TEST(TemplateTest, RecursivePartialStopsAtDepthLimit) {
  CompileOptions options;
  options.partials["loop"] = "x{{>loop}}";
  auto tpl = CompileTemplate("{{>loop}}", options);
  ASSERT_TRUE(tpl.ok());
  std::string out;
  RenderStats stats;
  ASSERT_TRUE(tpl->RenderRoot(json::object(), {}, &out, &stats).ok());
  EXPECT_EQ(out, std::string(options.limits.max_partial_depth, 'x'));
  EXPECT_EQ(stats.depth_limit_hits, 1u);
}

TEST(TemplateTest, RecursiveIndentedPartialIsRefused) {
  CompileOptions options;
  options.partials["grow"] = "x\n  {{>grow}}\n";
  auto tpl = CompileTemplate("{{>grow}}\n", options);
  EXPECT_FALSE(tpl.ok());
}

TEST(TemplateTest, OutputLimitStopsExplosion) {
  std::string src;
  for (int i = 0; i < 8; ++i) src += "{{#l}}";
  src += "0123456789";
  for (int i = 0; i < 8; ++i) src += "{{/l}}";
  auto tpl = CompileTemplate(src);
  ASSERT_TRUE(tpl.ok());
  json data{{"l", json::array()}};
  for (int i = 0; i < 100; ++i) data["l"].push_back(i);
  std::string out;
  RenderStats stats;
  Status s =
      tpl->RenderRoot(data, {.html_escape = true, .max_output_bytes = 1 << 20}, &out, &stats);
  EXPECT_FALSE(s.ok());
  EXPECT_LT(out.size(), (1u << 20) + 4096);
}

TEST(TemplateTest, StepLimitStopsSilentExponentialRecursion) {
  CompileOptions options;
  options.partials["q"] = "{{#l}}{{>q}}{{/l}}";  // 4^depth visits, no output
  auto tpl = CompileTemplate("{{>q}}", options);
  ASSERT_TRUE(tpl.ok());
  std::string out;
  RenderStats stats;
  Status s = tpl->RenderRoot(json{{"l", {1, 2, 3, 4}}}, {.max_steps = 100000}, &out, &stats);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("steps"), std::string::npos);
}

TEST(TemplateTest, CompiledTemplateRendersManyTimesIdentically) {
  auto tpl = CompileTemplate("{{#items}}<li>{{name}}</li>{{/items}}");
  ASSERT_TRUE(tpl.ok());
  json a{{"items", {{{"name", "a"}}, {{"name", "b"}}}}};
  json b{{"items", {{{"name", "c"}}}}};
  for (int i = 0; i < 3; ++i) {
    std::string out;
    RenderStats stats;
    ASSERT_TRUE(tpl->RenderRoot(i % 2 ? b : a, {}, &out, &stats).ok());
    EXPECT_EQ(out, i % 2 ? "<li>c</li>" : "<li>a</li><li>b</li>");
  }
}

}  // namespace
}  // namespace postino::templates
