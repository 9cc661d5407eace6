// fuzz_reader.h: how the fuzz targets that replay a session split their
// input: one byte at a time (choices) or a chunk of a given length (what the
// peer sends), never reading past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace postino::fuzz {

struct Reader {
  const uint8_t* p;
  size_t n;
  bool Empty() const { return n == 0; }
  uint8_t Byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::string_view Chunk(size_t len) {
    len = len < n ? len : n;
    std::string_view out(reinterpret_cast<const char*>(p), len);
    p += len;
    n -= len;
    return out;
  }
};

}  // namespace postino::fuzz
