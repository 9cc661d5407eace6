// csv_fuzz.cc: reads arbitrary bytes as CSV with small limits (chosen by the
// first byte: delimiter, UTF-8 check, limits) and checks the reader's
// promises: it ends, it never keeps more than its limits, a record without
// error under the UTF-8 check holds only UTF-8, lines and offsets only move
// forward. Every field also goes through the Latin-1 and Windows-1252
// transcoders, whose output must be UTF-8 of bounded size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "common/csv.h"
#include "common/utf8.h"

namespace {

using postino::CsvEncoding;
using postino::CsvOptions;
using postino::CsvReader;
using postino::CsvRecord;
using postino::CsvTranscoder;

CsvTranscoder* Transcoder(CsvEncoding e) {
  static CsvTranscoder* latin1 = CsvTranscoder::Open(CsvEncoding::kLatin1)->release();
  static CsvTranscoder* cp1252 = CsvTranscoder::Open(CsvEncoding::kWindows1252)->release();
  return e == CsvEncoding::kLatin1 ? latin1 : cp1252;
}

void Check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t config = data[0];
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);

  CsvOptions options;
  static constexpr char kDelimiters[] = {',', ';', '\t', '|'};
  options.delimiter = kDelimiters[config & 3];
  options.check_utf8 = (config & 4) != 0;
  if (config & 8) {
    options.limits.max_fields = 1 + (config >> 4);      // 1..16
    options.limits.max_field_bytes = 1 + (config >> 5) * 4;  // 1..29
    options.limits.max_record_bytes = 8 + (config >> 4) * 3;  // 8..53
  }

  std::istringstream in(input);
  CsvReader reader(in, options);
  CsvRecord rec;
  size_t records = 0;
  size_t last_line = 0;
  uint64_t last_offset = 0;
  while (reader.Next(&rec)) {
    Check(++records <= input.size() + 1);
    Check(rec.line >= last_line && rec.line >= 1);
    Check(records == 1 || rec.offset > last_offset);
    Check(rec.offset <= input.size());
    last_line = rec.line;
    last_offset = rec.offset;
    Check(rec.error.ok() == (rec.problem == postino::CsvProblem::kNone));
    Check(rec.fields.size() <= options.limits.max_fields);
    size_t total = 0;
    for (std::string& f : rec.fields) {
      Check(f.size() <= options.limits.max_field_bytes);
      total += f.size();
      if (rec.error.ok() && options.check_utf8) Check(postino::IsValidUtf8(f));
      for (CsvEncoding e : {CsvEncoding::kLatin1, CsvEncoding::kWindows1252}) {
        std::string copy = f;
        postino::Status s = Transcoder(e)->ToUtf8(&copy);
        if (e == CsvEncoding::kLatin1) Check(s.ok());
        if (s.ok()) {
          Check(postino::IsValidUtf8(copy));
          Check(copy.size() <= 3 * f.size());
        }
      }
    }
    Check(total <= options.limits.max_record_bytes);
    if (!rec.error.ok()) Check(!rec.error.message().empty());
  }
  Check(reader.line() >= last_line);
  return 0;
}
