// Untrusted bytes as the broker receives them from a client: decode as an
// Envelope (falling back to EnvelopeRaw like the broker does for undecodable
// publishes) and validate a published event with the broker's options.
#include <cstddef>
#include <cstdint>

#include "fuzz_checks.h"
#include "yilian/v1/protocol.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace v1 = yilian::v1;
  if (size > 1 << 20) return 0;
  v1::Envelope envelope;
  if (!envelope.ParseFromArray(data, static_cast<int>(size))) {
    v1::EnvelopeRaw raw;
    if (raw.ParseFromArray(data, static_cast<int>(size)) && raw.has_publish()) {
      (void)raw.publish().correlation_id();
    }
    return 0;
  }
  if (envelope.body_case() != v1::Envelope::kPublish || !envelope.publish().has_event()) return 0;
  const v1::EnterpriseEvent& event = envelope.publish().event();
  yilian::validation::Options options;
  options.utf8_already_verified = true;  // as the broker: the wire parser checked it
  yilian::fuzz::CheckErrors(event, yilian::validation::Validate(event, options));
  return 0;
}
