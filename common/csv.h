// csv.h: a streaming RFC 4180 CSV reader for list and suppression imports.
// Handles quoted fields with embedded commas, quotes ("") and newlines, a
// UTF-8 byte order mark, and LF or CRLF line ends. A malformed record is
// reported with its line number and the reader carries on with the next one.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

#include "common/status.h"

namespace postino {

struct CsvRecord {
  std::vector<std::string> fields;
  size_t line = 0;  // 1-based physical line where the record starts
  Status error;     // non-OK when the record is malformed; fields are then partial
};

class CsvReader {
 public:
  explicit CsvReader(std::istream& in, char delimiter = ',');
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the next record into *record. Returns false at the end of input.
  // Blank lines are skipped.
  bool Next(CsvRecord* record);

  // The physical line the reader is on (1-based).
  size_t line() const { return line_; }

 private:
  int Get();   // next byte or EOF; counts lines
  int Peek();
  void SkipLine();  // to the start of the next physical line

  std::streambuf* buf_;
  char delimiter_;
  size_t line_ = 1;
  bool started_ = false;
};

}  // namespace postino
