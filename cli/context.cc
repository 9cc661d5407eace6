// context.cc: configuration and database access for commands.
#include "cli/context.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace postino::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kNotFound: return kExitNotFound;
    case Status::Code::kFailedPrecondition:
    case Status::Code::kAlreadyExists: return kExitState;
    case Status::Code::kInvalidArgument: return kExitUsage;
    default: return kExitFailure;
  }
}

int Fail(const Status& status) {
  fmt::print(stderr, "postino: {}\n", status.message().empty() ? status.ToString() : status.message());
  return ExitCodeFor(status);
}

int Context::SetupFailure(const Status& status) const {
  Fail(status);
  return config_failed_ ? kExitConfig : kExitDatabase;
}

Result<const config::Config*> Context::Config() {
  if (config_) return &*config_;
  std::string path = config::ResolveConfigPath(config_flag_);
  bool explicit_path = !config_flag_.empty() || std::getenv("POSTINO_CONFIG") != nullptr;
  Result<config::Config> loaded = Status::Internal("unset");
  if (!explicit_path && !std::filesystem::exists(path) && std::getenv("POSTINO_DATABASE_URL")) {
    // No config file, but the database is named: run on defaults.
    loaded = config::ParseConfig("", "(defaults)");
  } else {
    loaded = config::LoadConfigFile(path);
  }
  if (!loaded.ok()) {
    config_failed_ = true;
    return Status(Status::Code::kInvalidArgument,
                  fmt::format("invalid configuration:\n{}", loaded.status().message()));
  }
  config_ = std::move(loaded).value();
  return &*config_;
}

Result<db::Database*> Context::Database(bool for_migrate) {
  if (db_) return db_.get();
  Result<const config::Config*> cfg = Config();
  if (!cfg.ok()) return cfg.status();
  if ((*cfg)->database.url.empty()) {
    config_failed_ = true;  // a configuration problem (exit 3), not a database one
    return Status::InvalidArgument(
        "no database configured: set database.url in the config file or POSTINO_DATABASE_URL");
  }
  Result<std::unique_ptr<db::Database>> conn = db::Database::Connect((*cfg)->database.url);
  if (!conn.ok()) return conn.status();
  if (!for_migrate) {
    Status schema = (*conn)->CheckSchema();
    if (!schema.ok()) return schema;
  }
  db_ = std::move(conn).value();
  return db_.get();
}

}  // namespace postino::cli
