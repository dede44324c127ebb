// Wire-format helpers of the broker's hot paths, over wire/wire.h. Pure functions.
//
// ScanPublish: finds, without decoding it, the event inside an encoded
// Envelope that carries a Publish in its plain shape: one Envelope field,
// publish (3), holding correlation_id (1) and event (2) at most once each and
// nothing else. The broker stores and delivers those event bytes as they are.
// Anything else (other fields, repeated fields, an empty event, trailing
// bytes) is not the plain shape: nullopt, and the caller decodes the
// Envelope as usual, with its usual errors.
//
// AppendAck / EncodeAcks: batched acks (docs/protocol.md 5.7) built from
// acks already encoded as Envelopes, without a decode: the bytes of an
// Envelope's one field publish_ack (4) or result_ack (7) become one entry of
// Acks.publish_acks (1) or Acks.result_acks (2) as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace yilian::server {

struct PublishView {
  std::uint64_t correlation_id = 0;
  std::string_view event;  // points into the scanned envelope
};

std::optional<PublishView> ScanPublish(std::string_view envelope);

// Appends the ack held by `envelope` (an encoded Envelope whose only field is
// publish_ack or result_ack) to `acks`, the encoded body of an Acks message.
// False, with `acks` unchanged, for any other envelope.
bool AppendAck(std::string_view envelope, std::string* acks);

// The encoded Envelope whose only field is the Acks with body `acks`.
std::string EncodeAcks(std::string_view acks);

}  // namespace yilian::server
