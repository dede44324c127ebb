// bench-rabbitmq: the yilian benchmark workload on RabbitMQ (rabbitmq_system.h),
// measured by the same runner as yilian-bench. The server must be running on
// 127.0.0.1 (scripts/bench starts one with its data in a temporary folder,
// or a 3-node cluster for quorum queues: the driver connects to the node
// on --port).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "harness/driver.h"
#include "rabbitmq_system.h"

int main(int argc, char** argv) {
  yilian::bench::DriverArgs args;
  yilian::bench::RabbitOptions ro;
  std::string durability = "fsync";
  std::string queue_type = "classic";
  CLI::App app{"bench-rabbitmq: the yilian benchmark workload on a running RabbitMQ"};
  yilian::bench::AddDriverOptions(app, &args);
  app.add_option("--port", ro.port, "AMQP port on 127.0.0.1")->capture_default_str();
  app.add_option("--pid-file", ro.pid_file, "the server's pid file (CPU and memory are read from /proc)")->required();
  app.add_option("--server-ctl", ro.control, "command that takes 'stop' or 'start' (backlog mode restarts)");
  app.add_option("--durability", durability, "fsync: persistent messages; no-fsync: transient messages")
      ->check(CLI::IsMember({"fsync", "no-fsync"}))
      ->capture_default_str();
  app.add_option("--queue-type", queue_type,
                 "classic, or quorum (x-queue-type=quorum: replicated to every node of the cluster the server is "
                 "part of; its messages are always persistent, --durability must be fsync)")
      ->check(CLI::IsMember({"classic", "quorum"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  ro.persistent = durability == "fsync";
  ro.quorum = queue_type == "quorum";
  if (ro.quorum && !ro.persistent) {
    std::fprintf(stderr, "bench-rabbitmq: quorum queues keep every message persistent: use --durability fsync\n");
    return 2;
  }
  yilian::bench::RabbitMQSystem system(ro);
  return yilian::bench::RunDriver(system, args);
}
