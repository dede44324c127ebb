// bench-nats: the yilian benchmark workload on NATS JetStream (nats_system.h),
// measured by the same runner as yilian-bench. The server must be running on
// 127.0.0.1 with JetStream enabled (scripts/bench starts one with its data in
// a temporary folder, or a 3-node cluster for --replicas 3: the driver
// connects to the node on --port).
#include <CLI/CLI.hpp>

#include "harness/driver.h"
#include "nats_system.h"

int main(int argc, char** argv) {
  yilian::bench::DriverArgs args;
  yilian::bench::NatsOptions no;
  CLI::App app{"bench-nats: the yilian benchmark workload on a running NATS JetStream server"};
  yilian::bench::AddDriverOptions(app, &args);
  app.add_option("--port", no.port, "client port on 127.0.0.1")->capture_default_str();
  app.add_option("--pid-file", no.pid_file, "the server's pid file (CPU and memory are read from /proc)")->required();
  app.add_option("--server-ctl", no.control, "command that takes 'stop' or 'start' (backlog mode restarts)");
  app.add_option("--server-version", no.server_version, "version of the running nats-server, for the report");
  app.add_option("--replicas", no.replicas,
                 "the stream's replicas (1 to 5; more than 1 needs a JetStream cluster of at least that many servers)")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  yilian::bench::NatsSystem system(no);
  return yilian::bench::RunDriver(system, args);
}
