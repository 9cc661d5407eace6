// toml_reader.cc: typed, position-aware access to a toml++ table.
#include "config/toml_reader.h"

#include <fmt/format.h>

#include <algorithm>

namespace postino::config::internal {
namespace {

// Edit distance with adjacent transpositions (optimal string alignment),
// for "did you mean" hints on unknown keys: "tsl" is 1 from "tls".
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

void ErrorSink::Add(const toml::source_region& where, std::string_view key, std::string_view what) {
  AddAt(where.begin.line, where.begin.column, key, what);
}

void ErrorSink::AddAt(uint32_t line, uint32_t column, std::string_view key, std::string_view what) {
  if (line == 0) line = 1;
  if (column == 0) column = 1;
  if (key.empty()) {
    errors_.push_back(fmt::format("{}:{}:{}: {}", file_, line, column, what));
  } else {
    errors_.push_back(fmt::format("{}:{}:{}: {}: {}", file_, line, column, key, what));
  }
}

std::string_view TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

TableReader::TableReader(ErrorSink* sink, const toml::table* table, std::string path)
    : sink_(sink), table_(table), path_(std::move(path)) {}

std::string TableReader::KeyPath(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return fmt::format("{}.{}", path_, key);
}

const toml::node* TableReader::Get(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  return table_->get(key);
}

void TableReader::Missing(std::string_view key, std::string_view expected) {
  sink_->Add(table_->source(), KeyPath(key), fmt::format("missing; expected {}", expected));
}

void TableReader::Error(const toml::node& at, std::string_view key, std::string_view what) {
  sink_->Add(at.source(), KeyPath(key), what);
}

bool TableReader::TypeError(const toml::node& node, std::string_view key,
                            std::string_view expected) {
  std::string got(TypeName(node.type()));
  if (const auto* s = node.as_string()) got += " (" + Quote(s->get()) + ")";
  Error(node, key, fmt::format("expected {}, got {}", expected, got));
  return false;
}

bool TableReader::String(std::string_view key, std::string* out, bool required) {
  const toml::node* n = Get(key);
  if (n == nullptr) {
    if (required) Missing(key, "a string");
    return false;
  }
  const auto* s = n->as_string();
  if (s == nullptr) return TypeError(*n, key, "a string");
  *out = s->get();
  return true;
}

bool TableReader::Bool(std::string_view key, bool* out) {
  const toml::node* n = Get(key);
  if (n == nullptr) return false;
  const auto* b = n->as_boolean();
  if (b == nullptr) return TypeError(*n, key, "true or false");
  *out = b->get();
  return true;
}

bool TableReader::Int(std::string_view key, int64_t min, int64_t max, int64_t* out, bool required) {
  const toml::node* n = Get(key);
  if (n == nullptr) {
    if (required) Missing(key, "an integer");
    return false;
  }
  const auto* i = n->as_integer();
  if (i == nullptr) return TypeError(*n, key, fmt::format("an integer from {} to {}", min, max));
  if (i->get() < min || i->get() > max) {
    Error(*n, key, fmt::format("{} is out of range; expected {} to {}", i->get(), min, max));
    return false;
  }
  *out = i->get();
  return true;
}

bool TableReader::Float(std::string_view key, double min, double max, double* out) {
  const toml::node* n = Get(key);
  if (n == nullptr) return false;
  double v = 0;
  if (const auto* f = n->as_floating_point()) {
    v = f->get();
  } else if (const auto* i = n->as_integer()) {
    v = static_cast<double>(i->get());
  } else {
    return TypeError(*n, key, fmt::format("a number from {} to {}", min, max));
  }
  if (!(v >= min && v <= max)) {
    Error(*n, key, fmt::format("{} is out of range; expected {} to {}", v, min, max));
    return false;
  }
  *out = v;
  return true;
}

bool TableReader::StringArray(std::string_view key, std::vector<std::string>* out) {
  const toml::node* n = Get(key);
  if (n == nullptr) return false;
  const auto* arr = n->as_array();
  if (arr == nullptr) return TypeError(*n, key, "an array of strings");
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    if (const auto* s = e.as_string()) {
      values.push_back(s->get());
    } else {
      ok = TypeError(e, fmt::format("{}[{}]", key, i), "a string");
    }
  }
  if (ok) *out = std::move(values);
  return ok;
}

bool TableReader::Enum(std::string_view key, std::initializer_list<std::string_view> names,
                       int* out) {
  std::string value;
  const toml::node* n = Get(key);
  std::string list;
  for (std::string_view name : names) list += (list.empty() ? "" : ", ") + std::string(name);
  if (n == nullptr) return false;
  if (!String(key, &value)) return false;
  int index = 0;
  for (std::string_view name : names) {
    if (value == name) {
      *out = index;
      return true;
    }
    ++index;
  }
  Error(*n, key, fmt::format("{} is not one of {}", Quote(value), list));
  return false;
}

bool TableReader::Rate(std::string_view key, std::optional<postino::Rate>* out) {
  std::string value;
  const toml::node* n = Get(key);
  if (n == nullptr || !String(key, &value)) return false;
  auto r = ParseRate(value);
  if (!r.ok()) {
    Error(*n, key, r.status().message());
    return false;
  }
  *out = *r;
  return true;
}

bool TableReader::Duration(std::string_view key, Nanos* out, bool seconds_ok, bool required) {
  const toml::node* n = Get(key);
  if (n == nullptr) {
    if (required) Missing(key, "a duration such as \"30m\"");
    return false;
  }
  if (seconds_ok) {
    if (const auto* i = n->as_integer()) {
      if (i->get() <= 0 || i->get() > 100LL * 365 * 24 * 3600) {
        Error(*n, key,
              fmt::format("{} is out of range; expected a positive number of seconds", i->get()));
        return false;
      }
      *out = std::chrono::seconds(i->get());
      return true;
    }
  }
  const auto* s = n->as_string();
  if (s == nullptr) {
    return TypeError(
        *n, key,
        seconds_ok ? "seconds or a duration such as \"30s\"" : "a duration such as \"30m\"");
  }
  Result<Nanos> d = ParseDuration(s->get());
  if (!d.ok()) {
    Error(*n, key, d.status().message());
    return false;
  }
  *out = *d;
  return true;
}

bool TableReader::DurationArray(std::string_view key, std::vector<Nanos>* out) {
  const toml::node* n = Get(key);
  if (n == nullptr) return false;
  const auto* arr = n->as_array();
  if (arr == nullptr) return TypeError(*n, key, "an array of durations such as [\"5m\", \"1h\"]");
  if (arr->empty()) {
    Error(*n, key, "is empty; expected at least one duration");
    return false;
  }
  std::vector<Nanos> values;
  bool ok = true;
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    std::string item_key = fmt::format("{}[{}]", key, i);
    const auto* s = e.as_string();
    if (s == nullptr) {
      ok = TypeError(e, item_key, "a duration such as \"5m\"");
      continue;
    }
    Result<Nanos> d = ParseDuration(s->get());
    if (!d.ok()) {
      Error(e, item_key, d.status().message());
      ok = false;
      continue;
    }
    values.push_back(*d);
  }
  if (ok) *out = std::move(values);
  return ok;
}

std::optional<TableReader> TableReader::Table(std::string_view key) {
  const toml::node* n = Get(key);
  if (n == nullptr) return std::nullopt;
  const auto* t = n->as_table();
  if (t == nullptr) {
    TypeError(*n, key, "a table");
    return std::nullopt;
  }
  return TableReader(sink_, t, KeyPath(key));
}

void TableReader::Tables(std::string_view key,
                         const std::function<void(TableReader&, size_t)>& each) {
  const toml::node* n = Get(key);
  if (n == nullptr) return;
  const auto* arr = n->as_array();
  if (arr == nullptr) {
    TypeError(*n, key, fmt::format("an array of tables ([[{}]])", KeyPath(key)));
    return;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    std::string item_key = fmt::format("{}[{}]", key, i);
    const auto* t = e.as_table();
    if (t == nullptr) {
      TypeError(e, item_key, "a table");
      continue;
    }
    TableReader reader(sink_, t, KeyPath(item_key));
    each(reader, i);
    reader.Finish();
  }
}

void TableReader::Finish() {
  for (auto&& [k, v] : *table_) {
    std::string_view name = k.str();
    if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
    std::string hint;
    size_t best = 3;
    for (const std::string& candidate : known_) {
      size_t d = EditDistance(name, candidate);
      if (d < best) {
        best = d;
        hint = candidate;
      }
    }
    std::string list;
    for (const std::string& candidate : known_) list += (list.empty() ? "" : ", ") + candidate;
    std::string what =
        hint.empty() ? "unknown key" : fmt::format("unknown key (did you mean {}?)", hint);
    if (!list.empty()) what += fmt::format("; expected one of {}", list);
    const std::vector<std::string>& roots = sink_->root_keys();
    if (!path_.empty() && std::find(roots.begin(), roots.end(), name) != roots.end()) {
      what = fmt::format(
          "unknown key here; {} is a top-level key: move it above the first [table] header "
          "(in TOML, keys after a header belong to that table)",
          name);
    }
    const toml::source_region& where = k.source().begin.line != 0 ? k.source() : v.source();
    sink_->Add(where, KeyPath(name), what);
  }
}

}  // namespace postino::config::internal
