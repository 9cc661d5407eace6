// process.h: running real programs from tests (the postino binary,
// smtp-sink, PostgreSQL tools), capturing their output.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace postino::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out, err;
};

// Runs argv[0] (searched in PATH) to completion. `env` entries are added to
// (or override) the current environment. Kills it after `timeout`.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::seconds timeout = std::chrono::seconds(300));

// A program running in the background; stdout/stderr go to files.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env, const std::string& log_path);
  ~BackgroundProcess();  // SIGKILLs it if still running
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit; returns the exit code (-1 if killed by a signal or
  // still running after `timeout`, in which case it is killed).
  int Wait(std::chrono::seconds timeout = std::chrono::seconds(120));
  bool Running();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// A port on 127.0.0.1, free for TCP and UDP a moment ago, below the kernel's
// ephemeral range so no outgoing connection can take it meanwhile.
int FreePort();

// Waits until something accepts connections on 127.0.0.1:port.
bool WaitForPort(int port, std::chrono::milliseconds timeout);

// Reads a whole file ("" if missing).
std::string ReadFile(const std::string& path);

// Creates a fresh empty directory under /tmp, world-writable (for smtp-sink
// running as nobody and PostgreSQL as postgres); returns its path.
std::string MakeTempDir(const std::string& prefix);

}  // namespace postino::testing
