// csv.h: a streaming RFC 4180 CSV reader for list and suppression imports,
// bounded in memory whatever the input.
// Handles quoted fields with embedded delimiters, quotes ("") and newlines, a
// UTF-8 byte order mark, and LF, CRLF or lone CR line ends. A malformed or
// oversized record is reported with its line number and the reader carries
// on with the next one; it never stores more than the limits below (an
// oversized record is read to its end without being kept). Optionally checks
// that the bytes are UTF-8, naming the line and byte offset of the first
// bad byte. CsvTranscoder converts Latin-1 / Windows-1252 fields to UTF-8.
#pragma once

#include <iconv.h>

#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace postino {

// What the reader keeps of one record, at most. Defaults suit subscriber
// lists: no attribute is near 1 MiB, no list has 1,000 columns.
struct CsvLimits {
  size_t max_fields = 1000;              // fields per record (and columns in a header)
  size_t max_field_bytes = size_t{1} << 20;   // 1 MiB per field
  size_t max_record_bytes = size_t{4} << 20;  // 4 MiB per record, delimiters and quotes included
};

struct CsvOptions {
  char delimiter = ',';
  bool check_utf8 = false;  // report bytes that are not UTF-8 as a record error
  CsvLimits limits;
};

// Why a record is in error.
enum class CsvProblem {
  kNone,
  kSyntax,    // unclosed quote, character after a closing quote
  kTooLarge,  // a limit of CsvLimits was passed
  kEncoding,  // not UTF-8 (with check_utf8)
};

struct CsvRecord {
  std::vector<std::string> fields;
  size_t line = 0;      // 1-based physical line where the record starts
  uint64_t offset = 0;  // 0-based byte offset in the input where the record starts
  Status error;         // non-OK when the record is malformed; fields are then partial
  CsvProblem problem = CsvProblem::kNone;  // the first problem found
};

class CsvReader {
 public:
  explicit CsvReader(std::istream& in, char delimiter = ',');
  CsvReader(std::istream& in, const CsvOptions& options);
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the next record into *record. Returns false at the end of input.
  // Blank lines are skipped.
  bool Next(CsvRecord* record);

  // The physical line the reader is on (1-based).
  size_t line() const { return line_; }

 private:
  int Get();   // next byte or EOF; counts lines and offsets, checks UTF-8
  int Peek();
  void SkipLine();  // to the start of the next physical line
  void CheckUtf8(unsigned char b);
  void EndUtf8();   // at the end of input: a sequence left open is an error
  void SetError(CsvProblem problem, std::string message);
  void Append(char c, std::string* field);
  void EndField(std::string* field);

  std::streambuf* buf_;
  CsvOptions options_;
  size_t line_ = 1;
  uint64_t offset_ = 0;
  bool started_ = false;

  // The record being read.
  CsvRecord* record_ = nullptr;
  size_t record_bytes_ = 0;
  bool discard_ = false;  // a limit was passed: read to the end, keep nothing more

  // UTF-8 check: continuation bytes still expected and the range the next
  // one must be in (RFC 3629 table: no overlongs, surrogates, > U+10FFFF).
  int utf8_need_ = 0;
  unsigned char utf8_lo_ = 0x80, utf8_hi_ = 0xBF;
  unsigned char utf8_lead_ = 0;
  uint64_t utf8_lead_offset_ = 0;
  size_t utf8_lead_line_ = 0;
};

enum class CsvEncoding { kUtf8, kLatin1, kWindows1252 };

// "utf-8"/"utf8", "latin1"/"iso-8859-1", "windows-1252"/"cp1252" (any case).
Result<CsvEncoding> ParseCsvEncoding(std::string_view name);
const char* CsvEncodingName(CsvEncoding encoding);

// Converts fields from a single-byte encoding to UTF-8 with iconv(3). The
// output of one field is at most 3 times its input (the largest UTF-8 form
// of a Windows-1252 character), so it is bounded by the reader's limits.
class CsvTranscoder {
 public:
  // Opens the converter; kUtf8 gives a transcoder that only passes through.
  static Result<std::unique_ptr<CsvTranscoder>> Open(CsvEncoding from);
  ~CsvTranscoder();
  CsvTranscoder(const CsvTranscoder&) = delete;
  CsvTranscoder& operator=(const CsvTranscoder&) = delete;

  // Converts *field in place. An error names the byte and its position in
  // the field ("byte 0x81 at position 4 is not a windows-1252 character").
  Status ToUtf8(std::string* field);

 private:
  CsvTranscoder(CsvEncoding from, iconv_t cd) : from_(from), cd_(cd) {}
  CsvEncoding from_;
  iconv_t cd_;
  std::string out_;
};

}  // namespace postino
