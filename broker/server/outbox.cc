#include "server/outbox.h"

#include "common/mask.h"
#include "server/publish_wire.h"

namespace yilian::server {
namespace {

// `reply`'s ack refused because the store cannot take the turn.
void MarkStoreUnavailable(v1::Envelope* reply, const std::string& detail) {
  const std::string message = "store unavailable: " + ScrubPersonalData(detail) + "; send again";
  if (reply->has_publish_ack()) {
    auto* a = reply->mutable_publish_ack();
    a->set_status(v1::REFUSED);
    a->set_error(v1::STORE_UNAVAILABLE);
    a->set_message(message);
    a->clear_sequence();
    a->clear_agencies();
  } else if (reply->has_result_ack()) {
    auto* a = reply->mutable_result_ack();
    a->set_status(v1::RESULT_REFUSED);
    a->set_error(v1::STORE_UNAVAILABLE);
    a->set_message(message);
  }
}

}  // namespace

void Outbox::Reply(const std::string& routing_id, const v1::Envelope& env) {
  ReplyBytes(routing_id, env.SerializeAsString());
}

void Outbox::ReplyBytes(const std::string& routing_id, std::string bytes) {
  auto it = sessions_.find(routing_id);
  if (it != sessions_.end() && it->second.batch_acks && AppendAck(bytes, &pending_acks_[routing_id])) return;
  messages_.push_back(Message{routing_id, std::move(bytes), 0});
}

void Outbox::SendError(const std::string& routing_id, v1::ErrorCode code, const std::string& message) {
  v1::Envelope env;
  env.mutable_error()->set_code(code);
  env.mutable_error()->set_message(message);
  Reply(routing_id, env);
}

void Outbox::Deliver(const std::string& routing_id, std::string bytes, InflightKey delivery) {
  messages_.push_back(Message{routing_id, std::move(bytes), delivery});
}

Outbox::Staged* Outbox::Stage(const std::string& routing_id, const v1::Envelope& reply) {
  return &staged_.emplace_back(Staged{routing_id, reply.SerializeAsString()});
}

void Outbox::Refuse(const Staged& staged) {
  v1::Envelope refusal;
  refusal.ParseFromString(staged.bytes);
  MarkStoreUnavailable(&refusal, turn_.error().message());
  Reply(staged.routing_id, refusal);
}

void Outbox::RefuseForStore(const std::string& routing_id, v1::Envelope reply, const Status& status) {
  if (!status.ok()) turn_.Fail(status);
  MarkStoreUnavailable(&reply, turn_.error().message());
  Reply(routing_id, reply);
}

std::vector<Outbox::Message> Outbox::Take() {
  for (const auto& [routing_id, acks] : pending_acks_) {
    if (!acks.empty()) messages_.push_back(Message{routing_id, EncodeAcks(acks), 0});
  }
  pending_acks_.clear();
  std::vector<Message> out;
  out.swap(messages_);
  return out;
}

}  // namespace yilian::server
