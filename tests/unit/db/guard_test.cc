// guard_test.cc: db::internal::Guard turns libpqxx's exceptions into a
// Status, and a session the server ended (SQLSTATE class 57P or 08, which
// libpq may deliver as a statement's error, e.g. 57P01 during a fast
// shutdown) is kIoError, "connection lost", never an SQL error: the
// scheduler reconnects or journals on kIoError but writes rows one by one,
// dropping the ones that fail, on an SQL error.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "db/pg_database.h"

namespace postino::db::internal {
namespace {

Status Throwing(const char* sqlstate) {
  return Guard("writing results", [&]() -> Status {
    throw pqxx::sql_error("FATAL:  terminating connection due to administrator command\n",
                          "UPDATE deliveries ...", sqlstate);
  });
}

TEST(GuardTest, SessionsTheServerEndedAreConnectionsLost) {
  for (const char* state : {"57P01", "57P02", "57P03", "57P05", "08006", "08003"}) {
    Status s = Throwing(state);
    EXPECT_EQ(s.code(), Status::Code::kIoError) << state << ": " << s.message();
    EXPECT_NE(s.message().find("writing results: database connection lost"), std::string::npos)
        << s.message();
  }
}

TEST(GuardTest, OtherSqlErrorsStaySqlErrors) {
  // 57014 (query_canceled) is class 57 but not 57P: the session lives on.
  for (const char* state : {"23505", "42703", "57014", "40001"}) {
    Status s = Throwing(state);
    EXPECT_EQ(s.code(), Status::Code::kInternal) << state;
    EXPECT_NE(s.message().find("SQL error"), std::string::npos) << s.message();
  }
  Status none = Throwing(nullptr);
  EXPECT_EQ(none.code(), Status::Code::kInternal);
}

// Seen in the outage test: "Connection lost while committing transaction";
// as an SQL error it dropped a one-result batch whose message then went out
// twice.
TEST(GuardTest, ACommitInDoubtIsAConnectionLost) {
  Status s = Guard("recording delivery results", []() -> Status {
    throw pqxx::in_doubt_error("Connection lost while committing transaction ''.");
  });
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.message();
  EXPECT_NE(s.message().find("connection lost while committing"), std::string::npos)
      << s.message();
}

TEST(GuardTest, ABrokenConnectionIsAConnectionLost) {
  Status s = Guard("reading", []() -> Status { throw pqxx::broken_connection("gone"); });
  EXPECT_EQ(s.code(), Status::Code::kIoError);
}

}  // namespace
}  // namespace postino::db::internal
