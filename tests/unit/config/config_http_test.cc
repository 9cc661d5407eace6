// config_http_test.cc: the [http] section — defaults, a full table, and
// positioned errors for bad addresses, URLs, ranges and a half TLS pair.
#include <gtest/gtest.h>
#include <stdlib.h>

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

Result<Config> Parse(const std::string& extra) {
  unsetenv("POSTINO_DATABASE_URL");
  return ParseConfig(std::string(kBase) + extra, "postino.toml");
}

TEST(ConfigHttpTest, AbsentMeansOff) {
  Result<Config> r = Parse("");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->http.enabled());
  EXPECT_EQ(r->http.threads, 4);
}

TEST(ConfigHttpTest, FullTable) {
  Result<Config> r = Parse(R"([http]
listen = ["127.0.0.1:8080", "[::1]:8443"]
cert_file = "/etc/postino/http.crt"
key_file = "/etc/postino/http.key"
public_url = "https://mail.example.com/postino"
threads = 8
max_connections = 2000
max_connections_per_ip = 50
idle_timeout_seconds = 30
max_body_bytes = 4096
)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const HttpConfig& h = r->http;
  EXPECT_TRUE(h.enabled());
  EXPECT_EQ(h.listen, (std::vector<std::string>{"127.0.0.1:8080", "[::1]:8443"}));
  EXPECT_EQ(h.cert_file, "/etc/postino/http.crt");
  EXPECT_EQ(h.public_url, "https://mail.example.com/postino");
  EXPECT_EQ(h.threads, 8);
  EXPECT_EQ(h.max_connections, 2000);
  EXPECT_EQ(h.max_connections_per_ip, 50);
  EXPECT_EQ(h.idle_timeout_seconds, 30);
  EXPECT_EQ(h.max_body_bytes, 4096);
}

TEST(ConfigHttpTest, BadListenAddressNamesItsPosition) {
  Result<Config> r = Parse("[http]\nlisten = [\"127.0.0.1:8080\", \"localhost:80\"]\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("postino.toml:10:"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("http.listen[1]"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("localhost:80"), std::string::npos);
}

TEST(ConfigHttpTest, BadPublicUrlAndRangesAreRefused) {
  Result<Config> r = Parse("[http]\nlisten = [\"127.0.0.1:1\"]\npublic_url = \"mail.example.com\"\n"
                           "threads = 0\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("http.public_url"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("http.threads"), std::string::npos) << r.status().message();
}

TEST(ConfigHttpTest, CertWithoutKeyIsRefused) {
  Result<Config> r = Parse("[http]\nlisten = [\"127.0.0.1:1\"]\ncert_file = \"/x.pem\"\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("http.key_file"), std::string::npos) << r.status().message();
}

TEST(ConfigHttpTest, UnknownKeyIsRefused) {
  Result<Config> r = Parse("[http]\nlisten = [\"127.0.0.1:1\"]\nport = 80\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("http.port"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace postino::config
