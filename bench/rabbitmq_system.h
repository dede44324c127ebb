// RabbitMQSystem: RabbitMQ as a system under test (harness/system.h), through
// the C client librabbitmq (rabbitmq-c).
//
// Topology, made fresh by Prepare: a durable fanout exchange
// "ylbench.events" bound to one durable queue per agency ("ylbench.agency0",
// ...): a classic queue, or a quorum queue (x-queue-type=quorum, replicated
// by Raft to every node of a cluster, its leader on the node the driver is
// connected to). The publisher uses publisher confirms on its own
// connection; each consumer has its own connection, basic.qos prefetch =
// the consumer window, manual acknowledgements (one basic.ack per message,
// sent right after receipt). Every message carries the event id as its
// message_id.
//
// The server is started by scripts/bench (bench/servers.sh); this driver is
// told its port, its pid file and a control command for restarts.
//
// Ownership: owns its admin connection. Threads: see harness/system.h; each
// Publisher and Consumer has its own connection (librabbitmq connections
// are not thread-safe).
#pragma once

#include <string>

#include "harness/system.h"

namespace yilian::bench {

struct RabbitOptions {
  int port = 5672;
  std::string pid_file;    // the server's pid file (RABBITMQ_PID_FILE)
  std::string control;     // "CMD": `CMD stop` and `CMD start` restart the server
  bool persistent = true;  // delivery_mode 2 (fsync before confirm) or 1 (transient)
  bool quorum = false;     // quorum queues instead of classic ones (always persistent)
};

class RabbitMQSystem : public System {
 public:
  explicit RabbitMQSystem(RabbitOptions options) : options_(std::move(options)) {}
  ~RabbitMQSystem() override = default;

  std::string name() const override { return "rabbitmq"; }
  std::string durability() const override;
  std::string durability_class() const override {
    return options_.persistent || options_.quorum ? "fsync" : "no-fsync";
  }
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

  RabbitOptions options_;
  Topology topology_;
  const Workload* workload_ = nullptr;
  pid_t pid_ = -1;
  std::string server_version_;
};

}  // namespace yilian::bench
