// context.h: what every `postino` command shares: exit codes, the loaded
// configuration and the database connection, opened on first use.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "db/database.h"

namespace postino::cli {

// Exit codes (documented in README.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,       // the command failed (message on stderr)
  kExitUsage = 2,         // bad command line
  kExitConfig = 3,        // the configuration file is invalid
  kExitDatabase = 4,      // database unreachable or schema mismatch
  kExitPartial = 5,       // input partly rejected (e.g. CSV rows), the rest accepted
  kExitNotFound = 6,      // a named list, template or campaign does not exist
  kExitState = 7,         // not allowed in the current state (launching a finished campaign)
  // A check found problems (template preview: fields the recipient lacks;
  // campaign check: something that would hurt the send). Output says what.
  kExitCheck = 8,
};

// Maps a Status to the exit code a script should see.
int ExitCodeFor(const Status& status);

class Context {
 public:
  explicit Context(std::string config_flag) : config_flag_(std::move(config_flag)) {}

  // Loads the configuration (once). Errors name file, line and key.
  Result<const config::Config*> Config();
  // Connects to the database (once) and checks the schema unless `for_migrate`.
  Result<db::Database*> Database(bool for_migrate = false);

  const std::string& config_flag() const { return config_flag_; }

  // Prints a Config()/Database() failure and returns its exit code:
  // kExitConfig for a bad configuration, kExitDatabase otherwise.
  int SetupFailure(const Status& status) const;

 private:
  std::string config_flag_;
  std::optional<config::Config> config_;
  bool config_failed_ = false;
  std::unique_ptr<db::Database> db_;
};

// Prints "postino: <message>" to stderr and returns the exit code for it.
int Fail(const Status& status);

}  // namespace postino::cli
