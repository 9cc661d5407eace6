// migrations.h: the ordered list of schema migrations.
#pragma once

#include <string>
#include <vector>

namespace postino::db {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// All migrations, ascending by version.
const std::vector<Migration>& AllMigrations();

}  // namespace postino::db
