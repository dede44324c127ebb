// Watcher: the platform side's session for case updates (completed, needs
// attention, overdue, resolved). Updates are durable at the broker and sent
// again until acknowledged, also after a reconnect; acknowledge an update
// only after it has been handled (printed, stored, forwarded).
//
// Concurrency: one thread; see Connection.
#pragma once

#include <optional>

#include "client/connection.h"

namespace yilian::client {

class Watcher {
 public:
  Watcher(zmq::context_t& context, ClientOptions options);

  // Pumps I/O for up to timeout_ms; returns the next case update, if any.
  // The same update may come again (after a reconnect) until acknowledged.
  std::optional<v1::CaseUpdate> Receive(int timeout_ms);

  // Tells the broker the update is handled; it is not sent again.
  bool Acknowledge(std::uint64_t update_id);

  Connection& connection() { return connection_; }

 private:
  Connection connection_;
};

}  // namespace yilian::client
