// Bytes as an EnterpriseEvent in its binary encoding, validated with default
// options and with the broker's (UTF-8 already verified by the parser, and
// lax USCC check characters): neither may crash, and the error texts must
// keep their promises (fuzz_checks.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace v1 = yilian::v1;
  if (size > 1 << 20) return 0;
  v1::EnterpriseEvent event;
  if (!event.ParseFromArray(data, static_cast<int>(size))) return 0;
  yilian::validation::Options strict;
  auto errors = yilian::validation::Validate(event, strict);
  yilian::fuzz::CheckErrors(event, errors);

  yilian::validation::Options broker;
  broker.utf8_already_verified = true;
  broker.strict_uscc_checksum = false;
  yilian::fuzz::CheckErrors(event, yilian::validation::Validate(event, broker));
  return 0;
}
