// System: one message broker under test, as the benchmark runner sees it.
// Each driver (yilian, RabbitMQ, NATS JetStream, raw ZeroMQ) implements
// these three interfaces with the broker's own client library; the runner
// (harness/runner.h) does all timing and counting, identically for every
// system.
//
// The message pattern is always the same: one publisher sends each workload
// event once and waits for the broker's confirm; every agency has one
// consumer that receives the event and acknowledges it right after receipt.
//
// Ownership and threads: the runner owns the System and calls Prepare,
// Restart and Finish from its main thread. A Publisher is created and used
// by the publisher thread only; each Consumer by its own consumer thread
// only. Callbacks are invoked on the thread that called Poll.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "harness/workload.h"

namespace yilian::bench {

// How the publisher reaches the broker, when a system has more than one
// way: e.g. {"https", 100, 4} for batches of 100 events posted over 4
// HTTPS connections. `over` empty: the system's one way.
struct PublishPath {
  std::string over;
  int batch = 1;        // events per request
  int connections = 1;  // requests in flight at once, one per connection
};

// What the runner asks for; the same for every system.
struct Topology {
  int agencies = 4;           // consumers, one per agency
  int consumer_window = 256;  // unacknowledged deliveries per consumer
  int publish_window = 1000;  // unconfirmed publishes
};

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Sends workload event `index`. Its confirm arrives through Poll.
  virtual Status Send(std::size_t index) = 0;
  // Pumps I/O for up to timeout_ms (0: only what is ready) and reports each
  // confirm: on_confirm(index, accepted).
  using ConfirmFn = std::function<void(std::size_t index, bool accepted)>;
  virtual Status Poll(int timeout_ms, const ConfirmFn& on_confirm) = 0;
  // Publishers that send events in requests of several: the time from
  // sending each request to its answer, in ms (others: none).
  virtual std::vector<double> RequestLatenciesMs() const { return {}; }
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  struct Callbacks {
    // The consumer received this event and has sent its acknowledgement.
    std::function<void(std::string_view event_id)> acked;
    // The broker confirmed that the acknowledgement is recorded (only
    // systems whose acknowledgements are answered call this).
    std::function<void(std::string_view event_id)> recorded;
  };
  // Pumps I/O for up to timeout_ms: receives what arrives, acknowledges
  // each message right away, and reports it.
  virtual Status Poll(int timeout_ms, const Callbacks& callbacks) = 0;
  // True once the consumer has a session and can receive.
  virtual bool ready() { return true; }
  // Orderly goodbye (optional).
  virtual void Close() {}
};

class System {
 public:
  virtual ~System() = default;
  // "yilian", "rabbitmq", "nats-jetstream", "zeromq".
  virtual std::string name() const = 0;
  // One line: what a publish confirm means (fsynced or not, and what
  // survives a process crash or a power loss).
  virtual std::string durability() const = 0;
  // "fsync" (the confirm follows an fsync) or "no-fsync".
  virtual std::string durability_class() const = 0;
  // Client and server versions, e.g. "nats-server 2.9.10, nats.c 3.4.1".
  virtual std::string versions() const = 0;
  // True if the broker answers a consumer's acknowledgement (then the
  // consumer reports Callbacks::recorded, and a run ends when all are).
  virtual bool acks_answered() const = 0;
  virtual PublishPath publish_path() const { return {}; }

  // Makes an empty broker state for this topology: fresh queues, stream
  // and consumers (or a fresh broker process). The workload outlives the
  // run; publishers send its events by index.
  virtual Status Prepare(const Topology& topology, const Workload& workload) = 0;
  // The server process whose CPU and memory are measured.
  virtual pid_t server_pid() const = 0;
  // Stops the server (orderly) and starts it again on the same stored
  // state. Start returns once the new process exists; readiness is measured
  // by the runner (time to the first delivery).
  virtual Status Stop() = 0;
  virtual Status Start() = 0;
  // Deletes what Prepare made (or stops the broker process).
  virtual void Finish() = 0;

  virtual Result<std::unique_ptr<Publisher>> NewPublisher() = 0;
  virtual Result<std::unique_ptr<Consumer>> NewConsumer(int agency) = 0;
};

}  // namespace yilian::bench
