// Test helpers for end-to-end tests: child processes, free ports, temporary
// directories, and polling with a deadline (tests never sleep to wait for an
// outcome). Used from the test's main thread only.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace yilian::testing {

// A child process with stdout and stderr redirected to files.
class Process {
 public:
  // Starts argv[0] with the given arguments. Output goes to the files (empty:
  // /dev/null). Aborts the test binary if fork/exec fails.
  static std::unique_ptr<Process> Start(const std::vector<std::string>& argv, const std::string& stdout_path = "",
                                        const std::string& stderr_path = "");
  ~Process();  // SIGKILLs and reaps the child if it still runs

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits up to timeout_ms for exit; returns true and sets *exit_code
  // (128+signal if killed) if it exited.
  bool WaitExit(int timeout_ms, int* exit_code);
  bool running();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeTcpPort();

// A new empty directory under /tmp, removed by RemoveTree.
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& text);
std::vector<std::string> ReadLines(const std::string& path);

// Calls `done` every 20 ms until it returns true or timeout_ms passes.
bool PollUntil(const std::function<bool()>& done, int timeout_ms);

// Paths of the built programs.
std::string BrokerBinary();
std::string CliBinary();

}  // namespace yilian::testing
