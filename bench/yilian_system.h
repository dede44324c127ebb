// YilianSystem: yilian-broker as a system under test (harness/system.h).
// Starts a real broker process on 127.0.0.1 with a fresh data directory for
// every run, configured with one agency per consumer (agency0, agency1, ...)
// that acts on every event type; clients are the reference client library
// (adapters/client) sharing one ZeroMQ context.
//
// Publishing over HTTPS (publish_over "https"): the broker also gets HTTPS
// on a free port with a self-signed certificate made by the openssl tool in
// the run's directory, a tokens file with one publisher token, and no
// publish rate limit; the publisher is an HttpsPublisher (https_publisher.h)
// sending the workload's events as JSON lines, converted once per workload
// before the measured run. The consumers are the same as with ZeroMQ.
//
// Ownership: owns the broker process and its temporary directory (removed
// by Finish). Threads: see harness/system.h.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "harness/system.h"
#include "testing/process.h"

namespace yilian::bench {

struct YilianOptions {
  std::string broker_bin;
  std::string sync = "full";  // store.synchronous
  int max_batch = 0;          // store.max_batch; 0: the broker's default
  // Non-empty: the PostgreSQL store of this libpq connection string (its
  // tables are dropped before each run), instead of SQLite.
  std::string postgresql;
  std::string publish_over = "zeromq";  // or "https"
  int http_batch = 100;                 // https: events per request
  int http_connections = 4;             // https: keep-alive connections, one request in flight each
  // > 0 (SQLite only): a retention of one second, an archive run asked for
  // every this many ms (POST /api/v1/archive on a plain-HTTP port) and a
  // watcher taking the case updates, so that the archive job moves settled
  // events all through the run.
  int archive_every_ms = 0;
};

class YilianSystem : public System {
 public:
  explicit YilianSystem(YilianOptions options);
  ~YilianSystem() override;

  std::string name() const override { return "yilian"; }
  std::string durability() const override;
  std::string durability_class() const override {
    return !options_.postgresql.empty() || options_.sync == "full" ? "fsync" : "no-fsync";
  }
  std::string versions() const override;
  bool acks_answered() const override { return true; }
  PublishPath publish_path() const override;

  Status Prepare(const Topology& topology, const Workload& workload) override;
  pid_t server_pid() const override;
  Status Stop() override;
  Status Start() override;
  void Finish() override;

  Result<std::unique_ptr<Publisher>> NewPublisher() override;
  Result<std::unique_ptr<Consumer>> NewConsumer(int agency) override;

 private:
  YilianOptions options_;
  Topology topology_;
  const Workload* workload_ = nullptr;
  std::vector<std::string> extra_args_;  // broker options this version needs
  bool https() const { return options_.publish_over == "https"; }
  Status PrepareHttps();  // certificate, token, JSON lines

  std::string dir_, endpoint_;
  int http_port_ = 0;  // https only
  std::string token_;  // https only: the publisher's bearer token
  // https only: the workload's events as one-line proto3 JSON, by index.
  std::vector<std::string> json_lines_;
  const Workload* json_of_ = nullptr;
  std::unique_ptr<testing::Process> broker_;
  zmq::context_t context_{1};
  // archive_every_ms: the thread asking for archive runs, and its HTTP port.
  void StartArchiving();
  void StopArchiving();
  int archive_http_port_ = 0;
  std::thread archiving_;
  std::atomic<bool> archiving_stop_{false};
};

}  // namespace yilian::bench
