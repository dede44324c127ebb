// Report: prints a run's results for people and appends them as one JSON
// object per line (JSON Lines) for scripts/bench, which builds the tables
// of docs/benchmarks.md from them. Field names are the contract with
// bench/report.py.
//
// Pure functions apart from the output; call from one thread.
#pragma once

#include <string>

#include "common/status.h"
#include "harness/runner.h"

namespace yilian::bench {

// What identifies a run in the results.
struct RunInfo {
  std::string system;            // System::name()
  std::string durability_class;  // "fsync" or "no-fsync"
  std::string durability;        // System::durability()
  std::string versions;          // System::versions()
  std::string mode;              // "settle" or "backlog"
  std::string label;             // free text from --label (e.g. "agencies")
  std::string deployment;        // free text from --deployment; "" for one server
  PublishPath publish_path;      // System::publish_path()
  int run = 0;                   // repetition number from --run
  int agencies = 0;
  int consumer_window = 0, publish_window = 0, max_unsettled = 0;
  double offered_rate = 0;  // 0: as fast as possible
  std::size_t events = 0;
  double mean_event_bytes = 0;
};

void PrintSettle(const RunInfo& info, const SettleResult& r);
void PrintBacklog(const RunInfo& info, const BacklogResult& r);
// Appends one line to `path`.
Status AppendJson(const std::string& path, const RunInfo& info, const SettleResult& r);
Status AppendJson(const std::string& path, const RunInfo& info, const BacklogResult& r);
// A one-line error record, so that a failed run shows in the results.
Status AppendJsonError(const std::string& path, const RunInfo& info, const Status& error);

}  // namespace yilian::bench
