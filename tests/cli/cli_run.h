// Runs the built `yilian` tool as a child process and collects what a
// script would see: exit code, standard output and standard error. Output
// goes through files in `dir`, one pair per run. Test main thread only.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testing/process.h"

namespace yilian::testing {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline CliRun RunCli(const std::string& dir, const std::vector<std::string>& args, int timeout_ms = 60000) {
  static int runs = 0;
  std::string base = dir + "/cli-" + std::to_string(++runs);
  std::vector<std::string> argv = {CliBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto process = Process::Start(argv, base + ".out", base + ".err");
  CliRun run;
  EXPECT_TRUE(process->WaitExit(timeout_ms, &run.exit_code)) << "yilian " << args[0] << " did not exit";
  run.out = ReadFile(base + ".out");
  run.err = ReadFile(base + ".err");
  return run;
}

}  // namespace yilian::testing
