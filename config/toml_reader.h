// toml_reader.h: a checked walk over a toml++ document. A TableReader hands
// out typed values of one table and remembers which keys were asked for, so
// Finish() can report every other key as unknown. Errors are collected as
// "FILE:LINE:COL: KEY.PATH: what is wrong; what is expected" lines.
// Internal to config/.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/rate.h"

namespace postino::config::internal {

class ErrorSink {
 public:
  explicit ErrorSink(std::string file) : file_(std::move(file)) {}
  void Add(const toml::source_region& where, std::string_view key, std::string_view what);
  void AddAt(uint32_t line, uint32_t column, std::string_view key, std::string_view what);
  bool empty() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& file() const { return file_; }
  // Keys allowed at the top level, for a hint when one appears inside a table.
  void set_root_keys(std::vector<std::string> keys) { root_keys_ = std::move(keys); }
  const std::vector<std::string>& root_keys() const { return root_keys_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
  std::vector<std::string> root_keys_;
};

// "integer", "string", ... for error messages.
std::string_view TypeName(toml::node_type type);

class TableReader {
 public:
  // `path` is the key path of the table ("" for the root, "routes[2]").
  TableReader(ErrorSink* sink, const toml::table* table, std::string path);

  const std::string& path() const { return path_; }
  std::string KeyPath(std::string_view key) const;
  const toml::table& table() const { return *table_; }
  ErrorSink* sink() const { return sink_; }

  // Marks `key` as known and returns its node, or nullptr when absent.
  const toml::node* Get(std::string_view key);
  // Reports a missing required key (at the table's position).
  void Missing(std::string_view key, std::string_view expected);
  void Error(const toml::node& at, std::string_view key, std::string_view what);

  // Each getter leaves `*out` unchanged when the key is absent and returns
  // true iff a valid value was stored. A wrong type or range is reported.
  bool String(std::string_view key, std::string* out, bool required = false);
  bool Bool(std::string_view key, bool* out);
  bool Int(std::string_view key, int64_t min, int64_t max, int64_t* out, bool required = false);
  bool Float(std::string_view key, double min, double max, double* out);
  bool StringArray(std::string_view key, std::vector<std::string>* out);
  bool Enum(std::string_view key, std::initializer_list<std::string_view> names, int* out);
  bool Rate(std::string_view key, std::optional<postino::Rate>* out);
  // A duration string ("30m"); when `seconds_ok`, a plain integer means seconds.
  bool Duration(std::string_view key, Nanos* out, bool seconds_ok = false, bool required = false);
  bool DurationArray(std::string_view key, std::vector<Nanos>* out);
  // A sub-table; nullopt when absent or not a table (reported).
  std::optional<TableReader> Table(std::string_view key);
  // An array of tables ([[key]] or [{...}, ...]); calls `each` per element.
  void Tables(std::string_view key, const std::function<void(TableReader&, size_t)>& each);

  // Reports every key that no getter asked for.
  void Finish();

 private:
  bool TypeError(const toml::node& node, std::string_view key, std::string_view expected);

  ErrorSink* sink_;
  const toml::table* table_;
  std::string path_;
  std::vector<std::string> known_;
};

}  // namespace postino::config::internal
