// postino_fixture.cc: shared set-up of the integration tests.
#include "tests/integration/postino_fixture.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/testdata.h"

namespace postino::testing {

PgCluster* PostinoTest::cluster_ = nullptr;

SmtpSink::SmtpSink(const std::vector<std::string>& extra) {
  dir_ = MakeTempDir("postino-sink");
  dump_ = dir_ + "/dump";
  port_ = FreePort();
  std::vector<std::string> argv = {"/usr/sbin/smtp-sink"};
  if (geteuid() == 0) {
    argv.push_back("-u");
    argv.push_back("nobody");
  }
  // smtp-sink takes one of -d (a file per message) or -D (one dump file).
  bool per_message = std::find(extra.begin(), extra.end(), "-d") != extra.end();
  if (!per_message) argv.insert(argv.end(), {"-D", dump_});
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(fmt::format("127.0.0.1:{}", port_));
  argv.push_back("256");
  proc_ = std::make_unique<BackgroundProcess>(argv, std::map<std::string, std::string>{},
                                              dir_ + "/sink.log");
  if (!WaitForPort(port_, std::chrono::seconds(10))) {
    ADD_FAILURE() << "smtp-sink did not start: " << ReadFile(dir_ + "/sink.log");
  }
}

SmtpSink::~SmtpSink() {
  proc_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> SmtpSink::Recipients() const {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(dump_));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("X-Rcpt-Args: ", 0) == 0) {
      std::string v = line.substr(13);
      if (!v.empty() && v.back() == '\r') v.pop_back();
      // "TO:<a@b>" possibly followed by parameters.
      size_t lt = v.find('<'), gt = v.find('>');
      if (lt != std::string::npos && gt != std::string::npos) v = v.substr(lt + 1, gt - lt - 1);
      out.push_back(v);
    }
  }
  return out;
}

void PostinoTest::SetUpTestSuite() {
  if (!cluster_) cluster_ = new PgCluster();
}

void PostinoTest::TearDownTestSuite() {
  delete cluster_;
  cluster_ = nullptr;
}

void PostinoTest::SetUp() {
  if (!cluster_->error().empty()) GTEST_FAIL() << cluster_->error();
  if (access("/usr/sbin/smtp-sink", X_OK) != 0) {
    GTEST_FAIL() << "smtp-sink not installed (run deploy/install-deps.sh)";
  }
  static int counter = 0;
  db_name_ = fmt::format("t{}_{}", getpid(), ++counter);
  db_url_ = cluster_->CreateDatabase(db_name_);
  dir_ = MakeTempDir("postino-test");
  config_path_ = dir_ + "/postino.toml";
}

void PostinoTest::WriteConfig(int sink_port, const std::string& extra_toml) {
  std::string key = Write("unsubscribe.key", "test-unsubscribe-secret-0123456789\n");
  chmod(key.c_str(), 0600);  // [unsubscribe] refuses a key other users can read
  Write("postino.toml", fmt::format(R"([database]
url = "{}"

[node]
id = "test"
batch_size = 500
lease_seconds = 60

[[sources]]
name = "lo"
address = "127.0.0.1"
ehlo = "test.postino.example"

[[routes]]
domain = "*"
to = "127.0.0.1:{}"
tls = "none"

[unsubscribe]
url_base = "https://news.example.com/u"
mailto = "unsubscribe@news.example.com"
secret_file = "{}"
{}
)",
                                    db_url_, sink_port, key, extra_toml));
}

std::string PostinoTest::Binary() { return BinaryDir() + "/cli/postino"; }

ProcessResult PostinoTest::Postino(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {Binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, {{"POSTINO_CONFIG", config_path_}});
}

std::unique_ptr<BackgroundProcess> PostinoTest::StartPostino(const std::vector<std::string>& args,
                                                             const std::string& log_name) {
  std::vector<std::string> argv = {Binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<BackgroundProcess>(
      argv, std::map<std::string, std::string>{{"POSTINO_CONFIG", config_path_}},
      dir_ + "/" + log_name);
}

std::string PostinoTest::Write(const std::string& name, const std::string& content) {
  std::string path = dir_ + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string PostinoTest::WriteRecipients(int n, const std::string& name) {
  static const char* kDomains[] = {"example.com", "example.org", "münchen.example"};
  std::string csv = "email,first_name,city\n";
  for (int i = 0; i < n; ++i) {
    csv += fmt::format("user{}@{},Zoë {},Roma\n", i, kDomains[i % 3], i);
  }
  return Write(name, csv);
}

void PostinoTest::Prepare(int n, const std::string& name) {
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ProcessResult imp = Postino({"list", "import", "news", WriteRecipients(n)});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  AddTemplate();
  Launch(name);
}

void PostinoTest::Launch(const std::string& name) {
  ProcessResult c = Postino({"campaign", "create", name, "--list", "news", "--template", "t",
                             "--from", "news@news.example.com"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  ProcessResult l = Postino({"campaign", "launch", name});
  ASSERT_EQ(l.exit_code, 0) << l.err;
}

int PostinoTest::Count(const std::string& where) {
  std::string v = Sql("SELECT count(*) FROM deliveries WHERE " + where);
  return v.rfind("ERROR", 0) == 0 ? -1 : std::stoi(v);
}

std::map<std::string, int> PostinoTest::Multiplicity(const std::vector<std::string>& rcpts) {
  std::map<std::string, int> m;
  for (const auto& r : rcpts) ++m[r];
  return m;
}

void PostinoTest::AddTemplate() {
  std::string html = Write("t.html", "<p>Ciao {{first_name}} da {{city}}</p>\n");
  std::string text = Write("t.txt", "Ciao {{first_name}} da {{city}}\n");
  ProcessResult r = Postino({"template", "add", "t", "--subject", "Novità per {{first_name}}",
                             "--html", html, "--text", text});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace postino::testing
