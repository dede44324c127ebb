// NatsSystem: NATS JetStream as a system under test (harness/system.h),
// through the C client libnats (nats.c).
//
// Topology, made fresh by Prepare: one file-backed stream "YLBENCH" on the
// subject "ylbench.events" (limits retention, like yilian it keeps the
// history; --replicas copies in a cluster) and one durable pull consumer
// per agency ("agency0", ...) with explicit acks and MaxAckPending = the
// consumer window. The publisher uses
// asynchronous publish with the event id as msg-id (Nats-Msg-Id, the
// stream's deduplication key) and counts the publish acks; each consumer
// fetches in batches and acks every message right after receipt.
//
// The server is started by scripts/bench (bench/servers.sh); this driver is
// told its port, its pid file and a control command for restarts.
//
// Ownership: every Publisher and Consumer has its own NATS connection.
// Threads: see harness/system.h. Publish acks arrive on a thread of the
// NATS library and are handed to the publisher thread under a mutex.
#pragma once

#include <string>

#include "harness/system.h"

namespace yilian::bench {

struct NatsOptions {
  int port = 4222;
  std::string pid_file;        // nats-server -P
  std::string control;         // "CMD": `CMD stop` and `CMD start` restart the server
  std::string server_version;  // as reported by `nats-server --version`
  int replicas = 1;            // the stream's (and so its consumers') replicas; > 1 needs a cluster
};

class NatsSystem : public System {
 public:
  explicit NatsSystem(NatsOptions options);
  ~NatsSystem() override;

  std::string name() const override { return "nats-jetstream"; }
  std::string durability() const override;
  std::string durability_class() const override { return "no-fsync"; }
  std::string versions() const override;
  bool acks_answered() const override { return false; }

  Status Prepare(const Topology& topology, const Workload& workload) override;
  pid_t server_pid() const override { return pid_; }
  Status Stop() override;
  Status Start() override;
  void Finish() override;

  Result<std::unique_ptr<Publisher>> NewPublisher() override;
  Result<std::unique_ptr<Consumer>> NewConsumer(int agency) override;

 private:
  Status ReadPid();

  NatsOptions options_;
  Topology topology_;
  const Workload* workload_ = nullptr;
  pid_t pid_ = -1;
};

}  // namespace yilian::bench
