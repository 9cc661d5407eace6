// test_util.h: helpers for the templates tests: temp files and running the
// Python checkers (python3-dkim, the email package) that live beside them.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace postino::templates::testing {

inline constexpr const char* kPython = "/usr/bin/python3";

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "postino-tpl-XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout
};

// Runs `kPython script args...` (arguments must be plain paths/words).
inline ProcessResult RunPython(const std::string& script, const std::vector<std::string>& args) {
  std::string cmd = std::string(kPython) + " '" + script + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>/dev/null";
  ProcessResult result;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Empty when python3 with `module` is usable, else the reason to skip.
inline std::string PythonMissing(const std::string& module) {
  if (!std::filesystem::exists(kPython)) return std::string(kPython) + " not found";
  std::string cmd = std::string(kPython) + " -c 'import " + module + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    return "python module '" + module + "' missing (Debian: python3-" + module + ")";
  }
  return {};
}

inline std::string ScriptPath(const std::string& name) {
  return std::string(POSTINO_TEMPLATES_TEST_DIR) + "/" + name;
}

}  // namespace postino::templates::testing
