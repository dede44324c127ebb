#include "client/consumer.h"

#include "common/log.h"

namespace yilian::client {
namespace {
Millis Now() { return SystemClock::Default()->NowMillis(); }
}  // namespace

Consumer::Consumer(zmq::context_t& context, ClientOptions options, int result_timeout_ms)
    : connection_(context,
                  [&] {
                    options.role = v1::CONSUMER;
                    return options;
                  }()),
      result_timeout_ms_(result_timeout_ms) {
  connection_.SetOnConnected([this](const v1::Welcome&) {
    for (auto& [id, r] : results_) r.sent_at = 0;
    // Deliveries of the old session that were not answered go back to the
    // broker's queue on its side; drop local copies not yet handed out.
    inbox_.clear();
  });
}

void Consumer::Answer(v1::Result result) {
  std::string id = result.event_id();
  v1::Envelope env;
  *env.mutable_result() = std::move(result);
  // Kept encoded: it is sent as it is, now and on every resend.
  PendingResult& pending = results_[std::move(id)];
  pending = PendingResult{env.SerializeAsString(), 0};
  // Sent at once; the scan below only resends what is unsent or unanswered.
  if (!connection_.connected()) return;
  if (connection_.SendEncoded(pending.envelope)) pending.sent_at = Now();
}

void Consumer::SendResults() {
  if (!connection_.connected()) return;
  Millis now = Now();
  // A walk over every pending result, so not on every call: results are
  // resent only after result_timeout_ms anyway.
  if (now < next_scan_) return;
  next_scan_ = now + kScanIntervalMs;
  for (auto& [id, r] : results_) {
    if (r.sent_at != 0 && now - r.sent_at < result_timeout_ms_) continue;
    if (!connection_.SendEncoded(r.envelope)) return;
    r.sent_at = now;
  }
}

void Consumer::OnAck(const v1::ResultAck& ack) {
  auto it = results_.find(ack.event_id());
  if (it == results_.end()) return;
  if (ack.status() == v1::RESULT_REFUSED && ack.error() == v1::STORE_UNAVAILABLE) {
    it->second.sent_at = Now();  // transient: resend after the timeout
    return;
  }
  if (ack.status() == v1::RESULT_REFUSED) {
    GetLogger("client")->warn("result for event {} refused: {} {}", ack.event_id(), v1::ErrorCode_Name(ack.error()),
                              ack.message());
  }
  results_.erase(it);
  if (on_ack_) on_ack_(ack);
}

std::optional<v1::Deliver> Consumer::Receive(int timeout_ms) {
  Millis deadline = Now() + timeout_ms;
  do {
    if (!inbox_.empty()) {
      v1::Deliver d = std::move(inbox_.front());
      inbox_.pop_front();
      return d;
    }
    SendResults();
    Millis left = deadline - Now();
    auto env = connection_.Poll(static_cast<int>(std::max<Millis>(0, std::min<Millis>(left, 100))));
    if (!env) continue;
    if (env->has_deliver()) {
      inbox_.push_back(std::move(*env->mutable_deliver()));
    } else if (env->has_result_ack()) {
      OnAck(env->result_ack());
    } else if (env->has_acks()) {
      for (const auto& ack : env->acks().result_acks()) OnAck(ack);
    }
  } while (Now() < deadline || !inbox_.empty());
  return std::nullopt;
}

}  // namespace yilian::client
