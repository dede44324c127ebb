// bench-zmq: the ceiling. yilian's message pattern (publish -> confirm,
// deliver to every agency -> result -> result ack) over raw ZeroMQ with no
// storage and no protobuf (zmq_system.h), measured by the same runner as
// yilian, RabbitMQ and NATS JetStream.
//   bench-zmq [driver options]              run a measurement (starts the server)
//   bench-zmq --serve ENDPOINT AGENCIES     the server process itself
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>

#include "harness/driver.h"
#include "zmq_system.h"

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--serve") == 0) return yilian::bench::ServeZmq(argv[2], std::atoi(argv[3]));
  yilian::bench::DriverArgs args;
  CLI::App app{"bench-zmq: the message pattern over raw ZeroMQ, no storage (the transport's ceiling)"};
  yilian::bench::AddDriverOptions(app, &args);
  CLI11_PARSE(app, argc, argv);
  if (args.mode == "backlog") args.no_restart = true;  // nothing is stored: a restart loses everything
  char self[4096] = {};
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return 2;
  yilian::bench::ZmqSystem system(std::string(self, static_cast<std::size_t>(len)));
  return yilian::bench::RunDriver(system, args);
}
