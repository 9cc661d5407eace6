// mustache_spec_test.cc: runs every case of the official Mustache spec
// (required modules) from ../shared/testdata/mustache-spec as its own test.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "templates/template.h"
#include "tests/support/testdata.h"

namespace postino::templates {
namespace {

struct SpecCase {
  std::string file;     // e.g. "sections.json"
  std::string name;     // gtest-safe name
  nlohmann::json spec;  // null when the file is missing
};

std::vector<SpecCase> LoadCases(const std::string& file) {
  std::string path = postino::testing::TestDataPath("mustache-spec/" + file);
  std::vector<SpecCase> cases;
  if (path.empty()) {
    cases.push_back({file, "FileMissing", nullptr});
    return cases;
  }
  std::ifstream in(path);
  nlohmann::json doc = nlohmann::json::parse(in);
  int index = 0;
  for (const auto& t : doc.at("tests")) {
    std::string safe;
    for (char c : t.at("name").get<std::string>()) {
      if (std::isalnum(static_cast<unsigned char>(c))) safe.push_back(c);
    }
    cases.push_back({file, std::to_string(index++) + "_" + safe, t});
  }
  return cases;
}

class MustacheSpec : public ::testing::TestWithParam<SpecCase> {};

TEST_P(MustacheSpec, Renders) {
  const SpecCase& c = GetParam();
  if (c.spec.is_null()) {
    GTEST_SKIP() << "mustache-spec/" << c.file
                 << " not found under the test data dir (../shared/testdata or $POSTINO_TESTDATA)";
  }
  CompileOptions options;
  options.part_name = c.file;
  if (c.spec.contains("partials")) {
    for (const auto& [name, body] : c.spec["partials"].items()) {
      options.partials[name] = body.get<std::string>();
    }
  }
  auto tpl = CompileTemplate(c.spec.at("template").get<std::string>(), options);
  ASSERT_TRUE(tpl.ok()) << tpl.status().ToString() << "\n" << c.spec.at("desc");
  std::string out;
  RenderStats stats;
  ASSERT_TRUE(tpl->RenderRoot(c.spec.at("data"), {.html_escape = true}, &out, &stats).ok());
  EXPECT_EQ(out, c.spec.at("expected").get<std::string>())
      << c.spec.at("desc") << "\ntemplate: " << c.spec.at("template");
}

std::string CaseName(const ::testing::TestParamInfo<SpecCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Comments, MustacheSpec, ::testing::ValuesIn(LoadCases("comments.json")),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Delimiters, MustacheSpec,
                         ::testing::ValuesIn(LoadCases("delimiters.json")), CaseName);
INSTANTIATE_TEST_SUITE_P(Interpolation, MustacheSpec,
                         ::testing::ValuesIn(LoadCases("interpolation.json")), CaseName);
INSTANTIATE_TEST_SUITE_P(Inverted, MustacheSpec, ::testing::ValuesIn(LoadCases("inverted.json")),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Partials, MustacheSpec, ::testing::ValuesIn(LoadCases("partials.json")),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Sections, MustacheSpec, ::testing::ValuesIn(LoadCases("sections.json")),
                         CaseName);

}  // namespace
}  // namespace postino::templates
