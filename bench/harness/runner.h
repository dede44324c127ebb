// Runner: the measured runs, the same code for every system under test.
//
//   settle   every agency online; the publisher offers the workload at a
//            fixed rate, or as fast as it can with at most max_unsettled
//            events published but not yet settled (a closed loop, so the
//            run is a steady state rather than a growing backlog); measures
//            publish-confirm latency, publish-to-settled latency (the event
//            acknowledged by all agencies), sustained settled throughput,
//            server CPU per 1,000 events and server peak RSS.
//   backlog  the agencies are offline while the whole workload is published
//            and waits; measures the fill rate and the server's memory with
//            the backlog; then (optionally) restarts the server and
//            measures the time until the first delivery; then the agencies
//            come online and the drain rate is measured.
//
// Latency is measured from the moment an event was due (fixed rate) or sent
// (as fast as possible) so that a publisher held back by a full window
// counts the wait (no coordinated omission). The clock is steady_clock.
//
// Threads: the caller's thread publishes; one thread per consumer. The
// System is driven as described in harness/system.h.
#pragma once

#include <string>
#include <vector>

#include "harness/system.h"
#include "harness/workload.h"

namespace yilian::bench {

struct Latency {
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  std::size_t count = 0;
};

struct SettleOptions {
  Topology topology;
  double rate = 0;  // offered events/s; 0: as fast as the windows allow
  // rate 0 only: published events not yet settled at every agency, at most.
  int max_unsettled = 2000;
  int stall_timeout_ms = 60000;  // give up when nothing progresses this long
  // More server processes whose CPU counts in server_cpu_s, each with its
  // descendants: the pid files of a cluster's other nodes, or of the
  // database servers a broker stores in (read after Prepare).
  std::vector<std::string> cpu_pid_files;
};

struct SettleResult {
  std::size_t events = 0;
  double publish_s = 0;              // first send to last confirm
  double settled_per_s = 0;          // sustained: settled events/s between the 10% and 90% marks
  double settled_overall_per_s = 0;  // events / (first send to last settle)
  Latency confirm;                   // publish -> confirm
  Latency settle;                    // publish -> acknowledged by every agency
  Latency recorded;                  // publish -> every acknowledgement recorded (if answered)
  Latency request;                   // a request's send -> its answer (publishers that batch; else count 0)
  bool acks_recorded = false;        // the system answers acknowledgements
  double server_cpu_s = 0, client_cpu_s = 0;  // server: its process and those of cpu_pid_files
  int server_processes = 1;                   // processes (with descendants) in server_cpu_s
  double peak_rss_mb = -1;                    // the server process alone
  std::size_t refused = 0, duplicates = 0;
};

struct BacklogOptions {
  Topology topology;    // agencies all offline while the backlog builds
  bool restart = true;  // restart the server before draining
  int stall_timeout_ms = 120000;
};

struct BacklogResult {
  std::size_t events = 0;
  double fill_s = 0, fill_per_s = 0;
  double rss_mb = -1, peak_rss_fill_mb = -1;
  double restart_ready_s = -1;  // Start() until the first delivery arrived
  double rss_after_restart_mb = -1;
  double drain_s = 0, drain_per_s = 0;  // first to last delivery settled at every agency
  double peak_rss_drain_mb = -1;
  double server_cpu_fill_s = 0, server_cpu_drain_s = 0;
  std::size_t refused = 0;
};

Result<SettleResult> RunSettle(System& system, const Workload& workload, const SettleOptions& options);
Result<BacklogResult> RunBacklog(System& system, const Workload& workload, const BacklogOptions& options);

// Nearest-rank percentile of unsorted samples (copies them).
double Percentile(std::vector<double> samples, double p);
Latency Summarize(std::vector<double> samples_ms);

}  // namespace yilian::bench
