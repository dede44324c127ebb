// Publisher: publishes EnterpriseEvents with confirms. Every event is kept
// until the broker answers ACCEPTED, DUPLICATE or a final REFUSED; unanswered
// events are sent again after publish_timeout_ms and after every reconnect,
// in their original order (the broker deduplicates by event_id, so a resend
// is harmless). Transient refusals (STORE_UNAVAILABLE, OVER_LIMIT) are
// retried the same way.
//
// Concurrency: one thread; see Connection.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "client/connection.h"

namespace yilian::client {

// Envelope{publish: Publish{correlation_id, event: <event_bytes>}}, encoded
// around the event's bytes as they are.
std::string EncodePublish(std::uint64_t correlation_id, std::string_view event_bytes);

class Publisher {
 public:
  Publisher(zmq::context_t& context, ClientOptions options, int publish_timeout_ms = 10000);

  // Queues the event; returns its correlation id.
  std::uint64_t Publish(const v1::EnterpriseEvent& event);
  // The same for an event already encoded (a yilian.v1.EnterpriseEvent's
  // binary encoding, sent as it is; the broker refuses it if it does not
  // decode).
  std::uint64_t PublishEncoded(std::string event);

  // Pumps I/O for up to timeout_ms; calls on_ack once per event with its
  // final answer.
  using AckFn = std::function<void(std::uint64_t correlation_id, const v1::PublishAck& ack)>;
  void Poll(int timeout_ms, const AckFn& on_ack);

  // Events queued or sent and not finally answered.
  std::size_t outstanding() const { return pending_.size(); }
  Connection& connection() { return connection_; }

 private:
  struct Pending {
    std::string envelope;  // the encoded Publish, sent as it is each time
    Millis sent_at = 0;    // 0: not sent on the current session
  };
  void SendSome();
  void OnAck(const v1::PublishAck& ack, const AckFn& on_ack);

  Connection connection_;
  int publish_timeout_ms_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Pending> pending_;  // ordered by correlation id = publish order
  std::size_t in_flight_ = 0;
  std::uint64_t next_unsent_ = 0;  // lowest correlation id not sent on this session
  Millis next_scan_ = 0;
  static constexpr Millis kScanIntervalMs = 50;
};

}  // namespace yilian::client
