// Broker: the yilian-broker daemon's core. One ZeroMQ ROUTER socket, one loop
// thread, one Store. Publishes are validated, routed, committed, then
// confirmed; deliveries are handed to agency adapters under credit, one
// outstanding per (USCC, agency), and retried until settled.
//
// Operation: each loop turn receives up to store.max_batch messages, handles
// them and the due timers inside one store transaction, hands over ready
// deliveries, commits, and only then sends confirms, result acks and
// deliveries (group commit). See docs/protocol.md and docs/storage.md.
// Concurrency: Run() blocks the calling thread, which owns the socket and the
// store. Stop() may be called from any thread or a signal handler.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"

namespace yilian::server {

class BrokerImpl;

class Broker {
 public:
  // Opens the store and rebuilds the delivery queues from it. Does not bind.
  static Result<std::unique_ptr<Broker>> Create(const config::BrokerConfig& config,
                                                Clock* clock = SystemClock::Default());
  ~Broker();

  // Binds config.listen and serves until Stop(). The bound endpoint (with a
  // resolved port for "tcp://127.0.0.1:*") is logged.
  Status Run();

  // Requests an orderly stop: the current turn is committed and its replies
  // sent, then Run() returns. Async-signal-safe.
  void Stop();

 private:
  explicit Broker(std::unique_ptr<BrokerImpl> impl);
  std::unique_ptr<BrokerImpl> impl_;
};

}  // namespace yilian::server
