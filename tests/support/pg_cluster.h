// pg_cluster.h: a throwaway PostgreSQL cluster for integration tests,
// started with deploy/pg-throwaway.sh (as the postgres user when root) on a
// free port under /tmp, and stopped and removed at the end.
#pragma once

#include <string>

namespace postino::testing {

class PgCluster {
 public:
  // Starts the cluster; on failure `error()` says why and url() is "".
  PgCluster();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // postgresql://postgres@127.0.0.1:PORT/postino
  const std::string& url() const { return url_; }
  const std::string& error() const { return error_; }
  // Creates another empty database and returns its URL.
  std::string CreateDatabase(const std::string& name);
  // Runs SQL with psql, returns its unaligned, tuples-only output (trimmed).
  std::string Psql(const std::string& sql, const std::string& db = "postino");
  // Stops the server (fast shutdown: sessions are cut) and starts it again
  // on the same port and data, to test database outages. True on success.
  bool Stop();
  bool Start();

 private:
  std::string dir_;
  int port_ = 0;
  std::string url_;
  std::string error_;
};

}  // namespace postino::testing
