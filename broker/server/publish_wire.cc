#include "server/publish_wire.h"

#include "wire/wire.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian::server {

std::optional<PublishView> ScanPublish(std::string_view envelope) {
  wire::Reader outer(envelope);
  std::uint32_t field = 0;
  wire::WireType type = wire::WireType::kVarint;
  std::string_view publish;
  if (!outer.ReadTag(&field, &type) || field != v1::Envelope::kPublishFieldNumber ||
      type != wire::WireType::kLengthDelimited || !outer.ReadLengthDelimited(&publish) || !outer.done()) {
    return std::nullopt;
  }
  wire::Reader in(publish);
  PublishView view;
  bool seen_correlation = false;
  while (!in.done()) {
    wire::Field f;
    if (!in.ReadField(&f)) return std::nullopt;
    if (f.number == v1::Publish::kCorrelationIdFieldNumber && f.type == wire::WireType::kVarint && !seen_correlation) {
      view.correlation_id = f.value;
      seen_correlation = true;
    } else if (f.number == v1::Publish::kEventFieldNumber && f.type == wire::WireType::kLengthDelimited &&
               view.event.empty() && !f.payload.empty()) {
      view.event = f.payload;
    } else {
      return std::nullopt;
    }
  }
  if (view.event.empty()) return std::nullopt;
  return view;
}

bool AppendAck(std::string_view envelope, std::string* acks) {
  wire::Reader in(envelope);
  std::uint32_t field = 0;
  wire::WireType type = wire::WireType::kVarint;
  if (!in.ReadTag(&field, &type) || type != wire::WireType::kLengthDelimited) return false;
  int entry_field;
  if (field == v1::Envelope::kPublishAckFieldNumber) {
    entry_field = v1::Acks::kPublishAcksFieldNumber;
  } else if (field == v1::Envelope::kResultAckFieldNumber) {
    entry_field = v1::Acks::kResultAcksFieldNumber;
  } else {
    return false;
  }
  std::string_view ack;
  if (!in.ReadLengthDelimited(&ack) || !in.done()) return false;
  wire::AppendLengthDelimited(entry_field, ack, acks);
  return true;
}

std::string EncodeAcks(std::string_view acks) {
  std::string out;
  wire::AppendLengthDelimited(v1::Envelope::kAcksFieldNumber, acks, &out);
  return out;
}

}  // namespace yilian::server
