// Consumer: an agency's session with the broker. Receives deliveries under
// credit and sends results; every result is kept until the broker
// acknowledges it (RESULT_RECORDED or RESULT_ALREADY_SETTLED) and is sent
// again after every reconnect and after result_timeout_ms, so a result is
// never lost while the process lives. (The adapter SDK persists unreported
// results across process restarts.)
//
// Concurrency: one thread; see Connection.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "client/connection.h"

namespace yilian::client {

class Consumer {
 public:
  Consumer(zmq::context_t& context, ClientOptions options, int result_timeout_ms = 5000);

  // Pumps I/O for up to timeout_ms; returns the next delivery, if any.
  std::optional<v1::Deliver> Receive(int timeout_ms);

  // Queues a result for sending; it stays until acknowledged.
  void Answer(v1::Result result);

  // Called for each acknowledged result (recorded, already settled, or
  // refused for good).
  void SetOnResultAck(std::function<void(const v1::ResultAck&)> fn) { on_ack_ = std::move(fn); }

  std::size_t unacknowledged() const { return results_.size(); }
  Connection& connection() { return connection_; }

 private:
  struct PendingResult {
    std::string envelope;  // the Result in its encoded Envelope
    Millis sent_at = 0;
  };
  // Sends results not sent yet (e.g. while disconnected) and resends those
  // unanswered for result_timeout_ms; walks them at most every
  // kScanIntervalMs.
  void SendResults();
  void OnAck(const v1::ResultAck& ack);

  static constexpr Millis kScanIntervalMs = 50;

  Connection connection_;
  int result_timeout_ms_;
  Millis next_scan_ = 0;
  std::map<std::string, PendingResult> results_;  // by event id
  std::deque<v1::Deliver> inbox_;
  std::function<void(const v1::ResultAck&)> on_ack_;
};

}  // namespace yilian::client
