// list_commands.cc: importing recipients from CSV and listing lists.
//
// Import rules: the header row names the columns; `email` is required; the
// other columns become the subscriber's attributes (a column "city.name"
// becomes the nested attribute {"city": {"name": ...}}; empty cells are left
// out so template defaults apply). Every row is validated; a bad row is
// reported as FILE:LINE: reason and skipped, the good ones are imported in
// one transaction with COPY.
#include "cli/list_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "address/address.h"
#include "common/csv.h"

namespace postino::cli {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Sets attrs[path] where path may be dotted ("city.name").
void SetAttribute(nlohmann::json& attrs, const std::string& path, const std::string& value) {
  nlohmann::json* node = &attrs;
  size_t start = 0;
  for (;;) {
    size_t dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    nlohmann::json& child = (*node)[key];
    if (!child.is_object()) child = nlohmann::json::object();
    node = &child;
    start = dot + 1;
  }
}

}  // namespace

int RunListImport(Context& ctx, const ListImportOptions& options) {
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    return Fail(Status::NotFound(
        fmt::format("cannot open {}: {}", options.file, std::strerror(errno))));
  }
  if (options.list.empty()) return Fail(Status::InvalidArgument("the list name is empty"));

  CsvReader reader(in);
  CsvRecord header;
  if (!reader.Next(&header)) {
    return Fail(Status::InvalidArgument(fmt::format("{}: the file is empty; expected a header row "
                                                    "naming the columns, with `email` among them",
                                                    options.file)));
  }
  if (!header.error.ok()) {
    return Fail(Status::InvalidArgument(
        fmt::format("{}:{}: header row: {}", options.file, header.line, header.error.message())));
  }
  std::vector<std::string> columns;
  int email_col = -1;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    std::string name = Trim(header.fields[i]);
    if (name.empty()) {
      return Fail(Status::InvalidArgument(fmt::format(
          "{}:{}: header column {} has no name; every column needs one", options.file,
          header.line, i + 1)));
    }
    if (std::find(columns.begin(), columns.end(), name) != columns.end()) {
      return Fail(Status::InvalidArgument(fmt::format(
          "{}:{}: header column \"{}\" appears twice", options.file, header.line, name)));
    }
    if (Lower(name) == "email") email_col = static_cast<int>(i);
    columns.push_back(name);
  }
  if (email_col < 0) {
    return Fail(Status::InvalidArgument(fmt::format(
        "{}:{}: no `email` column in the header (found: {})", options.file, header.line,
        fmt::join(columns, ", "))));
  }

  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::unique_ptr<db::ListImport>> import = (*db)->BeginListImport(options.list);
  if (!import.ok()) return Fail(import.status());

  int64_t invalid = 0;
  int64_t valid = 0;
  CsvRecord rec;
  db::ImportRow row;
  while (reader.Next(&rec)) {
    auto reject = [&](const std::string& why) {
      ++invalid;
      fmt::print(stderr, "{}:{}: {}\n", options.file, rec.line, why);
    };
    if (!rec.error.ok()) {
      reject(rec.error.message());
      continue;
    }
    if (rec.fields.size() != columns.size()) {
      reject(fmt::format("expected {} fields as in the header, found {}", columns.size(),
                         rec.fields.size()));
      continue;
    }
    const std::string& raw = rec.fields[email_col];
    Result<address::MailAddress> addr = address::ParseAddress(raw);
    if (!addr.ok()) {
      reject(fmt::format("invalid address \"{}\": {}", raw, addr.status().message()));
      continue;
    }
    auto nul = std::find_if(rec.fields.begin(), rec.fields.end(),
                            [](const std::string& f) { return f.find('\0') != std::string::npos; });
    if (nul != rec.fields.end()) {
      reject(fmt::format("column \"{}\" holds a NUL byte", columns[nul - rec.fields.begin()]));
      continue;
    }
    nlohmann::json attrs = nlohmann::json::object();
    for (size_t i = 0; i < columns.size(); ++i) {
      if (static_cast<int>(i) == email_col || rec.fields[i].empty()) continue;
      SetAttribute(attrs, columns[i], rec.fields[i]);
    }
    std::string json_text;
    try {
      json_text = attrs.dump();
    } catch (const nlohmann::json::exception& e) {
      reject(fmt::format("attribute value is not valid UTF-8 ({})", e.what()));
      continue;
    }
    row.line = rec.line;
    row.email = addr->ToString();
    row.domain = addr->domain;
    row.attributes = std::move(json_text);
    Status st = (*import)->Add(row);
    if (!st.ok()) return Fail(st);
    ++valid;
  }

  Result<db::ImportCounts> counts = (*import)->Finish(options.dry_run);
  if (!counts.ok()) return Fail(counts.status());
  for (const auto& [line, first] : counts->duplicate_lines) {
    fmt::print(stderr, "{}:{}: duplicate of line {} (the later row's attributes are kept)\n",
               options.file, line, first);
  }
  if (counts->duplicates_in_file > static_cast<int64_t>(counts->duplicate_lines.size())) {
    fmt::print(stderr, "{}: ... and {} more duplicate rows\n", options.file,
               counts->duplicates_in_file - counts->duplicate_lines.size());
  }
  fmt::print(
      "{}list \"{}\": {} rows read, {} valid, {} invalid, {} duplicates; {} new subscribers, {} "
      "updated; {} added to the list, {} already in it\n",
      options.dry_run ? "dry run (nothing written): " : "", options.list, valid + invalid, valid,
      invalid, counts->duplicates_in_file, counts->new_subscribers, counts->updated_subscribers,
      counts->added_to_list, counts->already_in_list);
  return invalid > 0 ? kExitPartial : kExitOk;
}

int RunListLs(Context& ctx) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::vector<db::ListInfo>> lists = (*db)->Lists();
  if (!lists.ok()) return Fail(lists.status());
  fmt::print("{:<30} {:>10} {:>10}\n", "LIST", "MEMBERS", "ACTIVE");
  for (const auto& l : *lists) fmt::print("{:<30} {:>10} {:>10}\n", l.name, l.members, l.active);
  return kExitOk;
}

}  // namespace postino::cli
