// postino_fixture.h: what integration tests of the postino binary share: a
// PostgreSQL cluster per test binary, a fresh database and config per test,
// smtp-sink instances, and a way to run `postino` commands.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

namespace postino::testing {

// smtp-sink on 127.0.0.1:<free port>, dumping every transaction to a file.
class SmtpSink {
 public:
  // `extra` are additional smtp-sink options (e.g. {"-W", "DATA:1:5"}). With
  // {"-d", template} messages go to one file each and Recipients() is empty.
  explicit SmtpSink(const std::vector<std::string>& extra = {});
  ~SmtpSink();
  int port() const { return port_; }
  // Recipients of every transaction received so far (X-Rcpt-Args), in order.
  std::vector<std::string> Recipients() const;
  const std::string& dump_path() const { return dump_; }

 private:
  std::string dir_, dump_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> proc_;
};

class PostinoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  // Writes the config (database + route "*" to the sink + `extra_toml`).
  void WriteConfig(int sink_port, const std::string& extra_toml = "");
  // Runs `postino ARGS...` with this test's config.
  ProcessResult Postino(const std::vector<std::string>& args);
  std::unique_ptr<BackgroundProcess> StartPostino(const std::vector<std::string>& args,
                                                  const std::string& log_name);
  std::string Sql(const std::string& sql) { return cluster_->Psql(sql, db_name_); }
  // Writes a CSV of `n` recipients user<i>@<domain i%3> and returns its path.
  std::string WriteRecipients(int n, const std::string& name = "recipients.csv");
  // Adds template "t" with a small subject, text and HTML.
  void AddTemplate();
  std::string Write(const std::string& name, const std::string& content);

  // Imports `n` recipients into list "news", adds template "t" and creates
  // and launches campaign `name` (migrating the database first).
  void Prepare(int n, const std::string& name = "c");
  // Creates and launches campaign `name` on list "news" and template "t".
  void Launch(const std::string& name);
  // Deliveries matching the SQL condition `where` (-1 when the query fails).
  int Count(const std::string& where);
  // Polls `pred` until it holds; false after `timeout`.
  template <typename Pred>
  static bool WaitFor(Pred pred, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }
  // How often each recipient occurs.
  static std::map<std::string, int> Multiplicity(const std::vector<std::string>& rcpts);

  static std::string Binary();

  static PgCluster* cluster_;
  std::string db_name_, db_url_, dir_, config_path_;
};

}  // namespace postino::testing
