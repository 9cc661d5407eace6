// testdata.cc: locating external test data.
#include "tests/support/testdata.h"

#include <cstdlib>
#include <filesystem>

namespace postino::testing {

std::string TestDataDir() {
  std::string dir = POSTINO_TESTDATA_DEFAULT;
  if (const char* env = std::getenv("POSTINO_TESTDATA")) dir = env;
  return std::filesystem::is_directory(dir) ? dir : std::string();
}

std::string TestDataPath(const std::string& relative) {
  std::string dir = TestDataDir();
  if (dir.empty()) return {};
  std::string path = dir + "/" + relative;
  return std::filesystem::exists(path) ? path : std::string();
}

std::string SourceDir() { return POSTINO_SOURCE_DIR; }
std::string BinaryDir() { return POSTINO_BINARY_DIR; }

}  // namespace postino::testing
