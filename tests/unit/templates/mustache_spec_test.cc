// mustache_spec_test.cc: runs every case of the official Mustache spec
// (required modules) from ../shared/testdata/mustache-spec as its own test.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "templates/template.h"
#include "tests/support/testdata.h"

namespace postino::templates {
namespace {

struct SpecCase {
  std::string file;       // e.g. "sections.json"
  std::string spec_name;  // the spec's own test name, e.g. "Standalone Lines"
  std::string name;       // gtest-safe: "sections_Standalone_Lines"
  nlohmann::json spec;    // null when the file is missing
};

// What gtest prints for GetParam() (instead of the struct's raw bytes).
void PrintTo(const SpecCase& c, std::ostream* os) {
  *os << "mustache-spec/" << c.file << ": \"" << c.spec_name << "\"";
}

// "<file stem>_<spec name>" with every run of other characters as one '_'.
std::string SafeName(std::string_view file, std::string_view spec_name) {
  std::string stem(file.substr(0, file.find('.')));
  std::string out;
  for (char c : stem + " " + std::string(spec_name)) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

std::vector<SpecCase> LoadCases(const std::string& file) {
  std::string path = postino::testing::TestDataPath("mustache-spec/" + file);
  std::vector<SpecCase> cases;
  if (path.empty()) {
    cases.push_back({file, "(file missing)", SafeName(file, "FileMissing"), nullptr});
    return cases;
  }
  std::ifstream in(path);
  nlohmann::json doc = nlohmann::json::parse(in);
  std::set<std::string> seen;
  for (const auto& t : doc.at("tests")) {
    std::string spec_name = t.at("name").get<std::string>();
    std::string name = SafeName(file, spec_name);
    for (int n = 2; !seen.insert(name).second; ++n)
      name = SafeName(file, spec_name) + "_" + std::to_string(n);
    cases.push_back({file, spec_name, name, t});
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
