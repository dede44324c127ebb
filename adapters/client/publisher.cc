#include "client/publisher.h"

#include "common/log.h"
#include "wire/wire.h"

namespace yilian::client {
namespace {
Millis Now() { return SystemClock::Default()->NowMillis(); }
}  // namespace

Publisher::Publisher(zmq::context_t& context, ClientOptions options, int publish_timeout_ms)
    : connection_(context,
                  [&] {
                    options.role = v1::PUBLISHER;
                    return options;
                  }()),
      publish_timeout_ms_(publish_timeout_ms) {
  connection_.SetOnConnected([this](const v1::Welcome&) {
    // A new session: nothing is in flight on it yet.
    for (auto& [id, p] : pending_) p.sent_at = 0;
    in_flight_ = 0;
    next_unsent_ = 0;
  });
}

std::uint64_t Publisher::Publish(const v1::EnterpriseEvent& event) { return PublishEncoded(event.SerializeAsString()); }

// Written once around the event's bytes when queued, instead of copying the
// event into an Envelope and encoding it on every send.
std::uint64_t Publisher::PublishEncoded(std::string event) {
  std::uint64_t id = next_id_++;
  pending_.emplace(id, Pending{EncodePublish(id, event), 0});
  return id;
}

std::string EncodePublish(std::uint64_t correlation_id, std::string_view event) {
  const std::size_t inner = wire::VarintFieldSize(v1::Publish::kCorrelationIdFieldNumber, correlation_id) +
                            wire::LengthDelimitedSize(v1::Publish::kEventFieldNumber, event.size());
  std::string out(wire::LengthDelimitedSize(v1::Envelope::kPublishFieldNumber, inner), '\0');
  char* p = wire::WriteLengthPrefix(v1::Envelope::kPublishFieldNumber, inner, out.data());
  p = wire::WriteVarintField(v1::Publish::kCorrelationIdFieldNumber, correlation_id, p);
  wire::WriteLengthDelimited(v1::Publish::kEventFieldNumber, event, p);
  return out;
}

void Publisher::SendSome() {
  if (!connection_.connected()) return;
  std::size_t window = std::max<std::uint32_t>(1, connection_.welcome().max_inflight_publishes());
  Millis now = Now();
  auto send = [&](Pending& p) {
    if (!connection_.SendEncoded(p.envelope)) return false;
    if (p.sent_at == 0) ++in_flight_;
    p.sent_at = now;
    return true;
  };
  // Events not sent on this session yet, in publish order, as the window
  // allows. Everything before next_unsent_ has been sent.
  for (auto it = pending_.lower_bound(next_unsent_); it != pending_.end() && in_flight_ < window; ++it) {
    if (!send(it->second)) return;
    next_unsent_ = it->first + 1;
  }
  // Resends of events unanswered for publish_timeout_ms: a walk over all of
  // them, so at most every kScanIntervalMs.
  if (now < next_scan_) return;
  next_scan_ = now + kScanIntervalMs;
  for (auto it = pending_.begin(); it != pending_.end() && it->first < next_unsent_; ++it) {
    if (it->second.sent_at != 0 && now - it->second.sent_at < publish_timeout_ms_) continue;
    if (!send(it->second)) return;
  }
}

void Publisher::Poll(int timeout_ms, const AckFn& on_ack) {
  Millis deadline = Now() + timeout_ms;
  do {
    SendSome();
    Millis left = deadline - Now();
    auto env = connection_.Poll(static_cast<int>(std::max<Millis>(0, std::min<Millis>(left, 100))));
    if (!env) continue;
    if (env->has_publish_ack()) OnAck(env->publish_ack(), on_ack);
    if (env->has_acks()) {
      for (const auto& ack : env->acks().publish_acks()) OnAck(ack, on_ack);
    }
  } while (Now() < deadline);
}

void Publisher::OnAck(const v1::PublishAck& ack, const AckFn& on_ack) {
  auto it = pending_.find(ack.correlation_id());
  if (it == pending_.end()) return;  // answer to a resend already settled
  bool transient =
      ack.status() == v1::REFUSED && (ack.error() == v1::STORE_UNAVAILABLE || ack.error() == v1::OVER_LIMIT);
  if (in_flight_ > 0 && it->second.sent_at != 0) --in_flight_;
  if (transient) {
    // Try again after the publish timeout.
    it->second.sent_at = Now();
    ++in_flight_;
    return;
  }
  std::uint64_t id = it->first;
  pending_.erase(it);
  on_ack(id, ack);
}

}  // namespace yilian::client
