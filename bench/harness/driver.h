// Driver: the command line shared by every benchmark driver (yilian-bench,
// bench-rabbitmq, bench-nats, bench-zmq) and the code that runs one measured
// run and reports it. Each driver adds its own options (endpoints,
// durability), builds its System and calls RunDriver.
//
// Used from main() only.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "harness/system.h"
#include "harness/workload.h"

namespace yilian::bench {

struct DriverArgs {
  std::string mode = "settle";  // settle | backlog
  std::string workload;         // workload file; empty: generate in memory
  int events = 20000;
  double rate = 0;
  int agencies = 4;
  int consumer_window = 256;
  int publish_window = 1000;
  int max_unsettled = 2000;
  bool no_restart = false;
  std::string json;
  std::string label;
  std::string deployment;                  // "" for one server
  std::vector<std::string> cpu_pid_files;  // more server processes whose CPU counts
  int run = 0;
  GenerateOptions generate;
};

// Adds the shared options. `modes` are the accepted --mode values.
void AddDriverOptions(CLI::App& app, DriverArgs* args, const std::vector<std::string>& modes = {"settle", "backlog"});

// Loads or generates the workload, runs args.mode against the system,
// prints the result and appends it to args.json. Returns the exit code.
int RunDriver(System& system, const DriverArgs& args);

}  // namespace yilian::bench
