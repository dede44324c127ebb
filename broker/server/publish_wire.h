// ScanPublish: finds, without decoding it, the event inside an encoded
// Envelope that carries a Publish in its plain shape: one Envelope field,
// publish (3), holding correlation_id (1) and event (2) at most once each and
// nothing else. The broker stores and delivers those event bytes as they are.
// Anything else (other fields, repeated fields, an empty event, trailing
// bytes) is not the plain shape: nullopt, and the caller decodes the
// Envelope as usual, with its usual errors. Pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace yilian::server {

struct PublishView {
  std::uint64_t correlation_id = 0;
  std::string_view event;  // points into the scanned envelope
};

std::optional<PublishView> ScanPublish(std::string_view envelope);

}  // namespace yilian::server
