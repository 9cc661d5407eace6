// list_commands.cc: importing recipients from CSV and listing lists.
//
// Import rules: the header row names the columns; `email` is required; the
// other columns become the subscriber's attributes (a column "city.name"
// becomes the nested attribute {"city": {"name": ...}}, at most
// kMaxNesting levels; empty cells are left out so template defaults apply).
// A bad header stops the import (exit 2) before anything is written. Every
// row is validated; a bad row is reported as FILE:LINE: reason and skipped,
// the good ones are imported in one transaction with COPY. The reader's
// bounds (columns, field and row sizes) keep memory bounded on any input.
#include "cli/list_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "address/address.h"
#include "address/local_part.h"
#include "common/csv.h"
#include "templates/mime_encoding.h"

namespace postino::cli {
namespace {

// Dotted column names nest attributes at most this deep ("a.b.c" is 3).
// Templates address attributes by path; 16 levels is far beyond any real
// list and keeps JSON handling (here and in PostgreSQL) shallow.
constexpr size_t kMaxNesting = 16;

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

// `s` for a message: at most `max` bytes (cut between UTF-8 characters, with
// "…" and the full size), C0 controls and DEL as \xNN.
std::string Shown(std::string_view s, size_t max = 60) {
  std::string out;
  size_t n = std::min(s.size(), max);
  while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (n < s.size()) out += fmt::format("… ({} bytes)", s.size());
  return out;
}

Result<char> ParseDelimiter(const std::string& d) {
  if (d == "," || d == ";" || d == "|") return d[0];
  if (d == "\t" || d == "tab" || d == "\\t") return '\t';
  return Status::InvalidArgument(
      fmt::format("--delimiter \"{}\": use ',', ';', '|' or tab", Shown(d)));
}

const char* DelimiterAdvice(char d) {
  switch (d) {
    case ';': return "the file looks semicolon-separated: use --delimiter ';'";
    case '\t': return "the file looks tab-separated: use --delimiter tab";
    case '|': return "the file looks pipe-separated: use --delimiter '|'";
    default: return "the file looks comma-separated: use --delimiter ','";
  }
}

// When the header has no `email` column with `used`, but splitting its
// cells on another delimiter finds one: the advice to give, else "".
std::string DelimiterHint(const std::vector<std::string>& cells, char used) {
  for (char d : {';', '\t', '|', ','}) {
    if (d == used) continue;
    for (const std::string& cell : cells) {
      size_t start = 0;
      for (;;) {
        size_t end = cell.find(d, start);
        std::string part = Trim(cell.substr(start, end == std::string::npos ? end : end - start));
        if (part.size() >= 2 && part.front() == '"' && part.back() == '"') {
          part = part.substr(1, part.size() - 2);
        }
        if (Lower(part) == "email") return DelimiterAdvice(d);
        if (end == std::string::npos) break;
        start = end + 1;
      }
    }
  }
  return "";
}

// What to do about a record the reader found not to be UTF-8 (in full the
// first time; a Latin-1 file has that problem on many rows).
std::string WithEncodingAdvice(const CsvRecord& rec, bool* advised) {
  if (rec.problem != CsvProblem::kEncoding) return rec.error.message();
  if (*advised) return rec.error.message() + " (see --encoding above)";
  *advised = true;
  return rec.error.message() +
         "; if the file is Latin-1 or Windows-1252, import it with --encoding latin1 (or "
         "--encoding windows-1252)";
}

struct Column {
  std::string name;
  std::vector<std::string> path;  // name split at dots
};

// Validates the header and fills *columns and *email_col. Errors are
// complete messages ("FILE:LINE: ...").
Status ReadHeader(const std::string& file, const CsvRecord& header, char delimiter,
                  std::vector<Column>* columns, int* email_col) {
  std::unordered_map<std::string, size_t> seen;  // name -> column index (hashed: O(n))
  seen.reserve(header.fields.size());
  *email_col = -1;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    Column col;
    col.name = Trim(header.fields[i]);
    if (col.name.empty()) {
      return Status::InvalidArgument(fmt::format(
          "{}:{}: header column {} has no name; every column needs one", file, header.line, i + 1));
    }
    auto [it, inserted] = seen.emplace(col.name, i);
    if (!inserted) {
      return Status::InvalidArgument(fmt::format(
          "{}:{}: header column \"{}\" appears twice (columns {} and {}); rename or drop one",
          file, header.line, Shown(col.name), it->second + 1, i + 1));
    }
    if (Lower(col.name) == "email") {
      if (*email_col >= 0) {
        return Status::InvalidArgument(fmt::format(
            "{}:{}: two `email` columns (\"{}\" and \"{}\"); keep one", file, header.line,
            (*columns)[*email_col].name, col.name));
      }
      *email_col = static_cast<int>(i);
    }
    size_t start = 0;
    for (;;) {
      size_t dot = col.name.find('.', start);
      std::string part =
          col.name.substr(start, dot == std::string::npos ? dot : dot - start);
      if (part.empty()) {
        return Status::InvalidArgument(fmt::format(
            "{}:{}: header column {} (\"{}\") has an empty part between dots; name attributes "
            "like \"city.name\"",
            file, header.line, i + 1, Shown(col.name)));
      }
      if (col.path.size() == kMaxNesting) {
        return Status::InvalidArgument(fmt::format(
            "{}:{}: header column {} (\"{}\") nests attributes more than {} levels deep (the "
            "limit): use at most {} dots in a column name",
            file, header.line, i + 1, Shown(col.name), kMaxNesting, kMaxNesting - 1));
      }
      col.path.push_back(std::move(part));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    columns->push_back(std::move(col));
  }
  if (*email_col < 0) {
    std::vector<std::string> names;
    for (size_t i = 0; i < columns->size() && i < 20; ++i) names.push_back(Shown((*columns)[i].name));
    if (columns->size() > 20) names.push_back(fmt::format("... {} in all", columns->size()));
    std::string hint = DelimiterHint(header.fields, delimiter);
    return Status::InvalidArgument(fmt::format(
        "{}:{}: no `email` column in the header (found: {}){}", file, header.line,
        fmt::join(names, ", "), hint.empty() ? "" : "; " + hint));
  }
  // "a" and "a.b" cannot both hold values: the object would replace the text.
  for (size_t i = 0; i < columns->size(); ++i) {
    const Column& col = (*columns)[i];
    std::string prefix;
    for (size_t k = 0; k + 1 < col.path.size(); ++k) {
      if (k) prefix += '.';
      prefix += col.path[k];
      auto it = seen.find(prefix);
      if (it != seen.end() && static_cast<int>(it->second) != *email_col) {
        return Status::InvalidArgument(fmt::format(
            "{}:{}: header column \"{}\" would nest inside column \"{}\", which holds a value; "
            "rename one of them",
            file, header.line, Shown(col.name), Shown(prefix)));
      }
    }
  }
  return Status::Ok();
}

// Sets attrs[path] ("city.name" -> {"city": {"name": value}}).
void SetAttribute(nlohmann::json& attrs, const std::vector<std::string>& path,
                  const std::string& value) {
  nlohmann::json* node = &attrs;
  for (size_t k = 0; k + 1 < path.size(); ++k) {
    nlohmann::json& child = (*node)[path[k]];
    if (!child.is_object()) child = nlohmann::json::object();
    node = &child;
  }
  (*node)[path.back()] = value;
}

// Why postino could not send to `raw`, or OK with *addr filled: syntax, then
// what the run itself checks (templates::NormalizeAddress), so that nothing
// imported ends `failed` for its address. *syntax tells a malformed address.
Status CheckRecipient(const std::string& raw, address::MailAddress* addr, bool* syntax) {
  *syntax = false;
  if (Status s = address::CheckNoInvisible(raw); !s.ok()) return s;
  Result<address::MailAddress> parsed = address::ParseAddress(raw);
  if (!parsed.ok()) {
    *syntax = true;
    return parsed.status();
  }
  if (Status s = address::CheckSendable(*parsed); !s.ok()) return s;
  Result<std::string> sendable = templates::NormalizeAddress(parsed->ToString());
  if (!sendable.ok()) return sendable.status();
  *addr = std::move(parsed).value();
  return Status::Ok();
}

}  // namespace

int RunListImport(Context& ctx, const ListImportOptions& options) {
  Result<char> delimiter = ParseDelimiter(options.delimiter);
  if (!delimiter.ok()) return Fail(delimiter.status());
  Result<CsvEncoding> encoding = ParseCsvEncoding(options.encoding);
  if (!encoding.ok()) return Fail(Status::InvalidArgument("--encoding: " + encoding.status().message()));
  Result<std::unique_ptr<CsvTranscoder>> transcoder = CsvTranscoder::Open(*encoding);
  if (!transcoder.ok()) return Fail(transcoder.status());
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    return Fail(Status::NotFound(
        fmt::format("cannot open {}: {}", options.file, std::strerror(errno))));
  }
  if (options.list.empty()) return Fail(Status::InvalidArgument("the list name is empty"));

  CsvOptions csv;
  csv.delimiter = *delimiter;
  csv.check_utf8 = *encoding == CsvEncoding::kUtf8;
  CsvReader reader(in, csv);
  // Converts the fields of a record to UTF-8; the error names the column.
  auto transcode = [&](CsvRecord* rec, const std::vector<Column>* columns) -> Status {
    for (size_t i = 0; i < rec->fields.size(); ++i) {
      Status s = (*transcoder)->ToUtf8(&rec->fields[i]);
      if (!s.ok()) {
        std::string where = columns && i < columns->size()
                                ? fmt::format("column \"{}\"", Shown((*columns)[i].name))
                                : fmt::format("field {}", i + 1);
        return Status::InvalidArgument(fmt::format(
            "{}: {}; check the file's encoding (--encoding latin1 accepts every byte)", where,
            s.message()));
      }
    }
    return Status::Ok();
  };

  bool advised = false;  // the --encoding advice was given
  CsvRecord header;
  if (!reader.Next(&header)) {
    return Fail(Status::InvalidArgument(fmt::format("{}: the file is empty; expected a header row "
                                                    "naming the columns, with `email` among them",
                                                    options.file)));
  }
  if (!header.error.ok()) {
    return Fail(Status::InvalidArgument(fmt::format(
        "{}:{}: header row: {}", options.file, header.line, WithEncodingAdvice(header, &advised))));
  }
  if (Status s = transcode(&header, nullptr); !s.ok()) {
    return Fail(Status::InvalidArgument(
        fmt::format("{}:{}: header row: {}", options.file, header.line, s.message())));
  }
  std::vector<Column> columns;
  int email_col = -1;
  if (Status s = ReadHeader(options.file, header, *delimiter, &columns, &email_col); !s.ok()) {
    return Fail(s);
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
      reject(WithEncodingAdvice(rec, &advised));
      continue;
    }
    if (rec.fields.size() != columns.size()) {
      reject(fmt::format("expected {} fields as in the header, found {}", columns.size(),
                         rec.fields.size()));
      continue;
    }
    if (Status s = transcode(&rec, &columns); !s.ok()) {
      reject(s.message());
      continue;
    }
    const std::string& raw = rec.fields[email_col];
    address::MailAddress addr;
    bool syntax = false;
    if (Status s = CheckRecipient(raw, &addr, &syntax); !s.ok()) {
      if (syntax) {
        reject(fmt::format("invalid address \"{}\": {}", Shown(raw, 320), s.message()));
      } else {
        reject(fmt::format("\"{}\": {}", Shown(raw, 320), s.message()));
      }
      continue;
    }
    auto nul = std::find_if(rec.fields.begin(), rec.fields.end(),
                            [](const std::string& f) { return f.find('\0') != std::string::npos; });
    if (nul != rec.fields.end()) {
      reject(fmt::format("column \"{}\" holds a NUL byte",
                         Shown(columns[nul - rec.fields.begin()].name)));
      continue;
    }
    nlohmann::json attrs = nlohmann::json::object();
    for (size_t i = 0; i < columns.size(); ++i) {
      if (static_cast<int>(i) == email_col || rec.fields[i].empty()) continue;
      SetAttribute(attrs, columns[i].path, rec.fields[i]);
    }
    std::string json_text;
    try {
      json_text = attrs.dump();
    } catch (const nlohmann::json::exception& e) {
      // Not reached: the reader checked UTF-8, or the transcoder produced it.
      reject(fmt::format("attribute value is not valid UTF-8 ({})", e.what()));
      continue;
    }
    row.line = rec.line;
    row.email = addr.ToString();
    row.domain = addr.domain;
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

}  // namespace postino::cli
