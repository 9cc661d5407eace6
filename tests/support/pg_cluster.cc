// pg_cluster.cc: starting and stopping the test cluster.
#include "tests/support/pg_cluster.h"

#include <unistd.h>

#include <filesystem>

#include "tests/support/process.h"
#include "tests/support/testdata.h"

namespace postino::testing {

PgCluster::PgCluster() {
  dir_ = MakeTempDir("postino-pg") + "/data";
  // Another test process may bind the port between FreePort and the
  // postmaster's bind; only that failure is worth another port.
  ProcessResult r;
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreePort();
    r = RunProcess(
        {"bash", SourceDir() + "/deploy/pg-throwaway.sh", "start", dir_, std::to_string(port_)});
    if (r.exit_code == 0 || r.err.find("Address already in use") == std::string::npos) break;
  }
  if (r.exit_code != 0) {
    error_ = "could not start PostgreSQL: " + r.err + r.out;
    return;
  }
  url_ = r.out.substr(0, r.out.find('\n'));
}

PgCluster::~PgCluster() {
  RunProcess({"bash", SourceDir() + "/deploy/pg-throwaway.sh", "stop", dir_});
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(dir_).parent_path(), ec);
}

bool PgCluster::Stop() {
  return RunProcess({"bash", SourceDir() + "/deploy/pg-throwaway.sh", "stop", dir_}).exit_code == 0;
}

bool PgCluster::Start() {
  return RunProcess({"bash", SourceDir() + "/deploy/pg-throwaway.sh", "start", dir_,
                     std::to_string(port_)})
             .exit_code == 0;
}

std::string PgCluster::CreateDatabase(const std::string& name) {
  Psql("CREATE DATABASE " + name, "postgres");
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + name;
}

std::string PgCluster::Psql(const std::string& sql, const std::string& db) {
  ProcessResult r = RunProcess({"psql", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U",
                                "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-Atq", "-c", sql});
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (r.exit_code != 0) return "ERROR: " + r.err;
  return out;
}

}  // namespace postino::testing
