// bench-rabbitmq: the yilian benchmark workload on RabbitMQ (rabbitmq_system.h),
// measured by the same runner as yilian-bench. The server must be running on
// 127.0.0.1 (scripts/bench starts one with its data in a temporary folder).
#include <CLI/CLI.hpp>

#include "harness/driver.h"
#include "rabbitmq_system.h"

int main(int argc, char** argv) {
  yilian::bench::DriverArgs args;
  yilian::bench::RabbitOptions ro;
  std::string durability = "fsync";
  CLI::App app{"bench-rabbitmq: the yilian benchmark workload on a running RabbitMQ"};
  yilian::bench::AddDriverOptions(app, &args);
  app.add_option("--port", ro.port, "AMQP port on 127.0.0.1")->capture_default_str();
  app.add_option("--pid-file", ro.pid_file, "the server's pid file (CPU and memory are read from /proc)")->required();
  app.add_option("--server-ctl", ro.control, "command that takes 'stop' or 'start' (backlog mode restarts)");
  app.add_option("--durability", durability, "fsync: persistent messages; no-fsync: transient messages")
      ->check(CLI::IsMember({"fsync", "no-fsync"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  ro.persistent = durability == "fsync";
  yilian::bench::RabbitMQSystem system(ro);
  return yilian::bench::RunDriver(system, args);
}
