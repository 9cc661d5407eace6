// csv.cc: the CSV state machine, its bounds and UTF-8 check, and the
// iconv-based field transcoder.
#include "common/csv.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>

namespace postino {
namespace {

constexpr int kEof = std::char_traits<char>::eof();

std::string Bytes(size_t n) {
  if (n >= (size_t{1} << 20) && n % (size_t{1} << 20) == 0) {
    return fmt::format("{} MiB", n >> 20);
  }
  if (n >= 1024 && n % 1024 == 0) return fmt::format("{} KiB", n >> 10);
  return fmt::format("{} bytes", n);
}

}  // namespace

CsvReader::CsvReader(std::istream& in, char delimiter)
    : CsvReader(in, CsvOptions{delimiter, false, CsvLimits{}}) {}

CsvReader::CsvReader(std::istream& in, const CsvOptions& options)
    : buf_(in.rdbuf()), options_(options) {}

int CsvReader::Get() {
  int c = buf_->sbumpc();
  if (c == kEof) {
    EndUtf8();
    return c;
  }
  // LF, CRLF and a lone CR (old Mac files) each end one line.
  if (c == '\n' || (c == '\r' && buf_->sgetc() != '\n')) ++line_;
  if (options_.check_utf8) CheckUtf8(static_cast<unsigned char>(c));
  ++offset_;
  return c;
}

int CsvReader::Peek() { return buf_->sgetc(); }

void CsvReader::CheckUtf8(unsigned char b) {
  if (utf8_need_ > 0) {
    if (b >= utf8_lo_ && b <= utf8_hi_) {
      --utf8_need_;
      utf8_lo_ = 0x80;
      utf8_hi_ = 0xBF;
      return;
    }
    // The sequence started by utf8_lead_ is cut short; `b` starts afresh.
    utf8_need_ = 0;
    SetError(CsvProblem::kEncoding,
             fmt::format("not UTF-8: byte 0x{:02X} at line {}, byte offset {} does not start a "
                         "valid UTF-8 sequence",
                         utf8_lead_, utf8_lead_line_, utf8_lead_offset_));
  }
  if (b < 0x80) return;
  utf8_lead_ = b;
  utf8_lead_offset_ = offset_;
  utf8_lead_line_ = line_;
  utf8_lo_ = 0x80;
  utf8_hi_ = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    utf8_need_ = 1;
  } else if (b == 0xE0) {
    utf8_need_ = 2;
    utf8_lo_ = 0xA0;
  } else if (b == 0xED) {
    utf8_need_ = 2;
    utf8_hi_ = 0x9F;
  } else if (b >= 0xE1 && b <= 0xEF) {
    utf8_need_ = 2;
  } else if (b == 0xF0) {
    utf8_need_ = 3;
    utf8_lo_ = 0x90;
  } else if (b >= 0xF1 && b <= 0xF3) {
    utf8_need_ = 3;
  } else if (b == 0xF4) {
    utf8_need_ = 3;
    utf8_hi_ = 0x8F;
  } else {
    SetError(CsvProblem::kEncoding,
             fmt::format("not UTF-8: byte 0x{:02X} at line {}, byte offset {} cannot appear in "
                         "UTF-8 text",
                         b, line_, offset_));
  }
}

void CsvReader::EndUtf8() {
  if (utf8_need_ == 0) return;
  utf8_need_ = 0;
  SetError(CsvProblem::kEncoding,
           fmt::format("not UTF-8: the file ends inside the character started by byte 0x{:02X} "
                       "at line {}, byte offset {}",
                       utf8_lead_, utf8_lead_line_, utf8_lead_offset_));
}

void CsvReader::SetError(CsvProblem problem, std::string message) {
  if (record_ == nullptr || record_->problem != CsvProblem::kNone) return;  // the first one counts
  record_->problem = problem;
  record_->error = Status::InvalidArgument(std::move(message));
}

void CsvReader::SkipLine() {
  for (int d = Get(); d != kEof && d != '\n'; d = Get()) {
    if (d == '\r') {
      if (Peek() == '\n') Get();
      return;
    }
  }
}

void CsvReader::Append(char c, std::string* field) {
  ++record_bytes_;
  if (discard_) return;
  const CsvLimits& limits = options_.limits;
  if (record_bytes_ > limits.max_record_bytes) {
    SetError(CsvProblem::kTooLarge,
             fmt::format("row longer than {} (the limit per row): shorten its values or leave "
                         "columns out",
                         Bytes(limits.max_record_bytes)));
    discard_ = true;
    return;
  }
  if (field->size() >= limits.max_field_bytes) {
    SetError(CsvProblem::kTooLarge,
             fmt::format("field {} is longer than {} (the limit per field): shorten the value or "
                         "leave the column out",
                         record_->fields.size() + 1, Bytes(limits.max_field_bytes)));
    discard_ = true;
    return;
  }
  field->push_back(c);
}

void CsvReader::EndField(std::string* field) {
  ++record_bytes_;  // the delimiter or line end
  if (!discard_) {
    if (record_->fields.size() >= options_.limits.max_fields) {
      SetError(CsvProblem::kTooLarge,
               fmt::format("more than {} fields in one row (the limit): remove unused columns",
                           options_.limits.max_fields));
      discard_ = true;
    } else {
      record_->fields.push_back(std::move(*field));
    }
  }
  field->clear();
}

bool CsvReader::Next(CsvRecord* record) {
  if (!started_) {
    started_ = true;
    // Skip a UTF-8 byte order mark (it is counted in offsets, not checked).
    if (Peek() == 0xEF) {
      std::string bom;
      for (int i = 0; i < 3 && Peek() != kEof; ++i) bom += static_cast<char>(buf_->sbumpc());
      if (bom == "\xEF\xBB\xBF") {
        offset_ += 3;
      } else {
        // Not a BOM: put the bytes back and read them as field data.
        for (auto it = bom.rbegin(); it != bom.rend(); ++it) buf_->sputbackc(*it);
      }
    }
  }
  record->fields.clear();
  record->error = Status::Ok();
  record->problem = CsvProblem::kNone;
  record_ = nullptr;  // errors of skipped blank lines belong to no record

  // Skip blank lines.
  for (;;) {
    int c = Peek();
    if (c == kEof) {
      Get();  // reports a UTF-8 sequence the file ends in (no record to attach it to)
      return false;
    }
    if (c == '\r' || c == '\n') {
      Get();
      continue;
    }
    break;
  }
  record_ = record;
  record->line = line_;
  record->offset = offset_;
  record_bytes_ = 0;
  discard_ = false;

  enum class State { kFieldStart, kUnquoted, kQuoted, kAfterQuote };
  State state = State::kFieldStart;
  std::string field;
  size_t quote_line = 0;
  for (;;) {
    int c = Get();
    switch (state) {
      case State::kFieldStart:
      case State::kUnquoted:
        if (c == '"' && state == State::kFieldStart) {
          state = State::kQuoted;
          quote_line = line_;
          ++record_bytes_;
          continue;
        }
        break;
      case State::kQuoted:
        if (c == kEof) {
          EndField(&field);
          SetError(CsvProblem::kSyntax,
                   fmt::format("quoted field opened on line {} is never closed; the rows from "
                               "line {} to the end of the file were not read",
                               quote_line, quote_line));
          record_ = nullptr;
          return true;
        }
        if (c == '"') {
          if (Peek() == '"') {
            Get();
            ++record_bytes_;
            Append('"', &field);
          } else {
            ++record_bytes_;
            state = State::kAfterQuote;
          }
          continue;
        }
        Append(static_cast<char>(c), &field);
        continue;
      case State::kAfterQuote:
        if (c != options_.delimiter && c != '\r' && c != '\n' && c != kEof) {
          SetError(CsvProblem::kSyntax,
                   fmt::format("unexpected character '{}' after a closing quote (field {})",
                               static_cast<char>(c), record->fields.size() + 1));
          EndField(&field);
          // Resynchronise at the end of this physical line.
          if (c != '\r' && c != '\n') SkipLine();
          record_ = nullptr;
          return true;
        }
        break;
    }
    // Unquoted text, or what follows a closing quote.
    if (c == options_.delimiter) {
      EndField(&field);
      state = State::kFieldStart;
      continue;
    }
    if (c == '\r' || c == '\n' || c == kEof) {
      if (c == '\r' && Peek() == '\n') Get();
      EndField(&field);
      record_ = nullptr;
      return true;
    }
    Append(static_cast<char>(c), &field);
    state = State::kUnquoted;
  }
}

Result<CsvEncoding> ParseCsvEncoding(std::string_view name) {
  std::string n;
  for (char c : name) {
    if (c != '-' && c != '_') n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (n == "utf8") return CsvEncoding::kUtf8;
  if (n == "latin1" || n == "iso88591" || n == "l1") return CsvEncoding::kLatin1;
  if (n == "windows1252" || n == "cp1252") return CsvEncoding::kWindows1252;
  return Status::InvalidArgument(fmt::format(
      "unknown encoding \"{}\": use utf-8, latin1 or windows-1252", name));
}

const char* CsvEncodingName(CsvEncoding encoding) {
  switch (encoding) {
    case CsvEncoding::kUtf8: return "utf-8";
    case CsvEncoding::kLatin1: return "latin1";
    case CsvEncoding::kWindows1252: return "windows-1252";
  }
  return "?";
}

Result<std::unique_ptr<CsvTranscoder>> CsvTranscoder::Open(CsvEncoding from) {
  iconv_t cd = reinterpret_cast<iconv_t>(-1);
  if (from != CsvEncoding::kUtf8) {
    const char* name = from == CsvEncoding::kLatin1 ? "ISO-8859-1" : "WINDOWS-1252";
    cd = iconv_open("UTF-8", name);
    if (cd == reinterpret_cast<iconv_t>(-1)) {
      return Status::Internal(fmt::format("iconv cannot convert from {} to UTF-8: {}", name,
                                          std::strerror(errno)));
    }
  }
  return std::unique_ptr<CsvTranscoder>(new CsvTranscoder(from, cd));
}

CsvTranscoder::~CsvTranscoder() {
  if (cd_ != reinterpret_cast<iconv_t>(-1)) iconv_close(cd_);
}

Status CsvTranscoder::ToUtf8(std::string* field) {
  if (from_ == CsvEncoding::kUtf8) return Status::Ok();
  bool ascii = true;
  for (char c : *field) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return Status::Ok();
  out_.assign(field->size() * 3, '\0');  // one byte becomes at most 3 (U+20AC)
  iconv(cd_, nullptr, nullptr, nullptr, nullptr);  // initial state
  char* in = field->data();
  size_t in_left = field->size();
  char* out = out_.data();
  size_t out_left = out_.size();
  if (iconv(cd_, &in, &in_left, &out, &out_left) == static_cast<size_t>(-1)) {
    size_t pos = field->size() - in_left;
    if (errno == EILSEQ || errno == EINVAL) {
      return Status::InvalidArgument(fmt::format(
          "byte 0x{:02X} at position {} is not a {} character", static_cast<unsigned char>(*in),
          pos + 1, CsvEncodingName(from_)));
    }
    return Status::Internal(fmt::format("iconv failed: {}", std::strerror(errno)));
  }
  out_.resize(out_.size() - out_left);
  field->swap(out_);
  return Status::Ok();
}

}  // namespace postino
