// returns_config_test.cc: the [returns] section (issue 13): values read,
// defaults, and FILE:LINE:COL errors for bad domains, addresses, sizes and
// the not-yet-available listener.
#include <gtest/gtest.h>

#include "config/config.h"

namespace postino::config {
namespace {

constexpr const char* kBase = R"(
[database]
url = "postgresql:///t"

[[sources]]
name = "ip1"
address = "127.0.0.1"

)";

std::string ErrorOf(const std::string& text) {
  Result<Config> r = ParseConfig(text, "postino.toml");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.status().message();
}

TEST(ReturnsConfig, ReadsValuesAndDefaults) {
  Result<Config> none = ParseConfig(kBase, "postino.toml");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->returns.verp_domains.empty());
  EXPECT_EQ(none->returns.max_message_size, 10u * 1024 * 1024);
  Result<Config> r = ParseConfig(std::string(kBase) + R"(
[returns]
verp_domains = ["bounces.example.com", "b2.example.com"]
feedback_addresses = ["fbl@example.com"]
max_message_size = 2048
)",
                                 "postino.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->returns.verp_domains.size(), 2u);
  EXPECT_EQ(r->returns.feedback_addresses.at(0), "fbl@example.com");
  EXPECT_EQ(r->returns.max_message_size, 2048u);
}

TEST(ReturnsConfig, BadValuesNameFileLineAndKey) {
  std::string e = ErrorOf(std::string(kBase) + "[returns]\nverp_domains = [\"not a domain\"]\n");
  EXPECT_NE(e.find("postino.toml:10:"), std::string::npos) << e;
  EXPECT_NE(e.find("returns.verp_domains[0]"), std::string::npos) << e;
  e = ErrorOf(std::string(kBase) + "[returns]\nfeedback_addresses = [\"nobody\"]\n");
  EXPECT_NE(e.find("is not an address"), std::string::npos) << e;
  e = ErrorOf(std::string(kBase) + "[returns]\nmax_message_size = 10\n");
  EXPECT_NE(e.find("returns.max_message_size"), std::string::npos) << e;
  e = ErrorOf(std::string(kBase) + "[returns]\nlisten = [\"127.0.0.1:2525\"]\ncert_file = \"a.pem\"\n");
  EXPECT_NE(e.find("returns.key_file"), std::string::npos) << e;
  e = ErrorOf(std::string(kBase) + "[returns]\nhostname = \"mx.example.com\"\n");
  EXPECT_NE(e.find("set returns.listen too"), std::string::npos) << e;
  e = ErrorOf(std::string(kBase) + "[returns]\nlisten = [\"nowhere\"]\n");
  EXPECT_NE(e.find("is not \"IP:port\""), std::string::npos) << e;
  e = ErrorOf(std::string(kBase) + "[returns]\nverp_domain = \"typo.example.com\"\n");
  EXPECT_NE(e.find("returns.verp_domain"), std::string::npos) << e;
}

}  // namespace
}  // namespace postino::config
