// yilian-bench: starts a real yilian-broker process on 127.0.0.1 (a fresh
// data directory per run) and measures it with realistic ~1.5 KB events:
//   settle   sustained throughput of events settled (result recorded) at
//            every agency, publish-confirm and publish-to-settled latency
//            (at --rate events/s, or as fast as the publish window allows);
//   confirm  the same run, named for its publish-confirm percentiles (use
//            with --rate);
//   backlog  broker memory with the agencies offline while --events wait,
//            restart time with that history, then the drain rate.
// The same measurement code drives RabbitMQ and NATS JetStream (bench-rabbitmq,
// bench-nats) and raw ZeroMQ (bench-zmq); scripts/bench runs them all.
// --publish-over https publishes over the broker's HTTPS API instead of
// ZeroMQ (POST /api/v1/events, batches of JSON lines; yilian_system.h).
// Prints a summary and, with --json, appends one JSON line per run.
#include <CLI/CLI.hpp>

#include "harness/driver.h"
#include "yilian_system.h"

int main(int argc, char** argv) {
  yilian::bench::DriverArgs args;
  yilian::bench::YilianOptions yo;
  yo.broker_bin = std::string(YILIAN_BINARY_DIR) + "/broker/server/yilian-broker";
  CLI::App app{"yilian-bench: measure a real yilian-broker on 127.0.0.1"};
  yilian::bench::AddDriverOptions(app, &args, {"settle", "confirm", "backlog"});
  app.add_option("--sync", yo.sync, "store.synchronous: full (fsync before confirm) or normal")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  app.add_option("--max-batch", yo.max_batch, "store.max_batch (0: the broker's default)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--postgresql", yo.postgresql,
                 "run the broker on the PostgreSQL store of this libpq connection string (its public schema is "
                 "emptied before each run) instead of SQLite");
  app.add_option("--publish-over", yo.publish_over,
                 "how the publisher sends: zeromq (the reference client) or https (POST /api/v1/events, JSON lines "
                 "in batches of --http-batch, on --http-connections keep-alive connections)")
      ->check(CLI::IsMember({"zeromq", "https"}))
      ->capture_default_str();
  app.add_option("--http-batch", yo.http_batch, "https: events per request (at most http.max_publish_batch)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--http-connections", yo.http_connections,
                 "https: keep-alive connections, one request in flight on each (the broker gets as many "
                 "http.workers, at least its default 4)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--archive-every-ms", yo.archive_every_ms,
                 "SQLite store, ZeroMQ publisher: a retention of one second and an archive run asked for every this "
                 "many ms, to measure publishing while the archive job moves settled events (0: off)")
      ->check(CLI::Range(0, 3600000));
  app.add_option("--broker-bin", yo.broker_bin, "yilian-broker to run (may be a wrapper script)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // One agency waits offline in the backlog run unless told otherwise.
  if (args.mode == "backlog" && app.count("--agencies") == 0) args.agencies = 1;
  if (args.mode == "confirm") args.mode = "settle";
  yilian::bench::YilianSystem system(yo);
  return yilian::bench::RunDriver(system, args);
}
