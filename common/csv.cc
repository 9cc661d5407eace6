// csv.cc: the CSV state machine.
#include "common/csv.h"

#include <fmt/format.h>

namespace postino {
namespace {
constexpr size_t kMaxField = 1 << 20;  // 1 MiB: no attribute is bigger
}  // namespace

CsvReader::CsvReader(std::istream& in, char delimiter) : buf_(in.rdbuf()), delimiter_(delimiter) {}

int CsvReader::Get() {
  int c = buf_->sbumpc();
  // LF, CRLF and a lone CR (old Mac files) each end one line.
  if (c == '\n' || (c == '\r' && buf_->sgetc() != '\n')) ++line_;
  return c;
}

int CsvReader::Peek() { return buf_->sgetc(); }

void CsvReader::SkipLine() {
  constexpr int kEof = std::char_traits<char>::eof();
  for (int d = Get(); d != kEof && d != '\n'; d = Get()) {
    if (d == '\r') {
      if (Peek() == '\n') Get();
      return;
    }
  }
}

bool CsvReader::Next(CsvRecord* record) {
  constexpr int kEof = std::char_traits<char>::eof();
  if (!started_) {
    started_ = true;
    // Skip a UTF-8 byte order mark.
    if (Peek() == 0xEF) {
      std::string bom;
      for (int i = 0; i < 3 && Peek() != kEof; ++i) bom += static_cast<char>(Get());
      if (bom != "\xEF\xBB\xBF") {
        // Not a BOM: put the bytes back by handling them as field data below.
        for (auto it = bom.rbegin(); it != bom.rend(); ++it) buf_->sputbackc(*it);
      }
    }
  }
  record->fields.clear();
  record->error = Status::Ok();

  // Skip blank lines.
  for (;;) {
    int c = Peek();
    if (c == kEof) return false;
    if (c == '\r' || c == '\n') {
      Get();
      continue;
    }
    break;
  }
  record->line = line_;

  std::string field;
  for (;;) {
    int c = Peek();
    if (c == '"' && field.empty()) {
      // Quoted field.
      Get();
      size_t open_line = line_;
      bool closed = false;
      bool too_long = false;
      for (;;) {
        int q = Get();
        if (q == kEof) break;
        if (q == '"') {
          if (Peek() == '"') {
            Get();
            if (field.size() < kMaxField) field += '"';
            continue;
          }
          closed = true;
          break;
        }
        if (field.size() < kMaxField) {
          field += static_cast<char>(q);
        } else {
          too_long = true;
        }
      }
      if (!closed) {
        record->fields.push_back(std::move(field));
        record->error = Status::InvalidArgument(fmt::format(
            "quoted field opened on line {} is never closed; the rows from line {} to the end of "
            "the file were not read",
            open_line, open_line));
        return true;
      }
      if (too_long) {
        record->fields.push_back(std::string());
        record->error = Status::InvalidArgument(
            fmt::format("field {} is longer than {} bytes", record->fields.size(), kMaxField));
        SkipLine();
        return true;
      }
      int after = Peek();
      if (after != delimiter_ && after != '\r' && after != '\n' && after != kEof) {
        record->error = Status::InvalidArgument(fmt::format(
            "unexpected character '{}' after a closing quote (field {})",
            static_cast<char>(after), record->fields.size() + 1));
        // Resynchronise at the end of this physical line.
        SkipLine();
        record->fields.push_back(std::move(field));
        return true;
      }
      continue;
    }
    if (c == delimiter_) {
      Get();
      record->fields.push_back(std::move(field));
      field.clear();
      continue;
    }
    if (c == '\r' || c == '\n' || c == kEof) {
      if (c == '\r') {
        Get();
        if (Peek() == '\n') Get();
      } else if (c == '\n') {
        Get();
      }
      record->fields.push_back(std::move(field));
      return true;
    }
    field += static_cast<char>(Get());
    if (field.size() > kMaxField) {
      record->fields.push_back(std::string());
      record->error = Status::InvalidArgument(
          fmt::format("field {} is longer than {} bytes", record->fields.size(), kMaxField));
      SkipLine();
      return true;
    }
  }
}

}  // namespace postino
