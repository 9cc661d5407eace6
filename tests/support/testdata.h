// testdata.h: where tests find ../shared/testdata (or $POSTINO_TESTDATA).
#pragma once

#include <string>

namespace postino::testing {

// The test data directory, or "" when it does not exist.
std::string TestDataDir();

// Path of a file under the test data directory, or "" when absent. Tests
// call GTEST_SKIP() with a message naming the path when this is empty.
std::string TestDataPath(const std::string& relative);

// The repository's source directory and the build directory.
std::string SourceDir();
std::string BinaryDir();

}  // namespace postino::testing
