// corpus_test.cc: every message of the bounce corpus
// (../shared/testdata/bounces, see its README) is parsed without a crash,
// and the parse agrees with the labels per recipient (matched by address,
// else by order) at least as often as the floors below. Prints agreement
// per reason. Skips, naming the path, when the corpus is absent.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "inbound/returns/mailbox.h"
#include "inbound/returns/report.h"
#include "tests/support/testdata.h"

namespace postino::inbound::returns {
namespace {

// A little below what the parser reaches (bench/RESULTS.md, issue 13), so a
// regression fails and a real improvement can raise them.
constexpr double kMinReason = 0.93;
constexpr double kMinHardBounce = 0.98;
constexpr double kMinStatus = 0.73;
constexpr double kMinReplyCode = 0.96;
constexpr double kMinFeedbackType = 0.99;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(ReturnsCorpus, EveryMessageParsesWithoutACrash) {
  std::string dir = testing::TestDataPath("bounces/eml");
  if (dir.empty()) GTEST_SKIP() << "bounce corpus absent (../shared/testdata/bounces/eml)";
  size_t files = 0, with_recipients = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string bytes = ReadAll(e.path());
    SplitMbox(bytes, [&](size_t, std::string_view m) {
      ReturnReport r = ParseReturn(m);
      if (!r.recipients.empty()) ++with_recipients;
    });
    ++files;
  }
  EXPECT_GE(files, 409u);
  EXPECT_GE(with_recipients, files * 95 / 100) << "reports with no recipient found";
}

TEST(ReturnsCorpus, AgreesWithTheLabels) {
  std::string labels_path = testing::TestDataPath("bounces/labels.json");
  if (labels_path.empty()) GTEST_SKIP() << "bounce corpus absent (../shared/testdata/bounces)";
  nlohmann::json labels = nlohmann::json::parse(ReadAll(labels_path));
  std::filesystem::path eml = std::filesystem::path(labels_path).parent_path() / "eml";
  struct Tally {
    int n = 0, ok = 0;
  };
  std::map<std::string, Tally> per_reason;
  int n = 0, reason = 0, hard = 0, status = 0, code = 0, fbt = 0, missing = 0;
  for (const auto& file : labels) {
    ReturnReport r = ParseReturn(ReadAll(eml / file["file"].get<std::string>()));
    const auto& want = file["recipients"];
    for (size_t i = 0; i < want.size(); ++i) {
      const auto& w = want[i];
      ++n;
      std::string wreason = w["reason"].get<std::string>();
      ++per_reason[wreason].n;
      const RecipientReport* got = nullptr;
      for (const RecipientReport& g : r.recipients)
        if (Lower(g.address) == Lower(w["address"].get<std::string>())) got = &g;
      if (!got && i < r.recipients.size()) got = &r.recipients[i];
      if (!got) {
        ++missing;
        continue;
      }
      if (got->reason == wreason) {
        ++reason;
        ++per_reason[wreason].ok;
      }
      hard += got->hard_bounce == w["hard_bounce"].get<bool>();
      std::string wstatus = w["status"].is_null() ? "" : w["status"].get<std::string>();
      status += got->status == wstatus;
      std::string wcode = w["reply_code"].is_null() ? "" : w["reply_code"].get<std::string>();
      code += (got->reply_code ? std::to_string(got->reply_code) : "") == wcode;
      std::string wfbt = w["feedback_type"].is_null() ? "" : w["feedback_type"].get<std::string>();
      fbt += got->feedback_type == wfbt;
    }
  }
  ASSERT_GT(n, 0);
  auto pct = [&](int k) { return 100.0 * k / n; };
  std::printf("bounce corpus: %d recipients, %d not found\n", n, missing);
  std::printf("  reason %.1f%%  hard/soft %.1f%%  status %.1f%%  reply_code %.1f%%  feedback_type %.1f%%\n",
              pct(reason), pct(hard), pct(status), pct(code), pct(fbt));
  for (const auto& [name, t] : per_reason)
    std::printf("  %-16s %3d/%3d  %5.1f%%\n", name.c_str(), t.ok, t.n, 100.0 * t.ok / t.n);
  EXPECT_GE(reason, kMinReason * n);
  EXPECT_GE(hard, kMinHardBounce * n);
  EXPECT_GE(status, kMinStatus * n);
  EXPECT_GE(code, kMinReplyCode * n);
  EXPECT_GE(fbt, kMinFeedbackType * n);
}

}  // namespace
}  // namespace postino::inbound::returns
