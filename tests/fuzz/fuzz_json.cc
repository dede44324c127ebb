// Bytes as one JSON line of an EnterpriseEvent (`yilian validate`, `yilian
// publish` input): parse, validate, print, and parse the printed text again,
// which must succeed and give the same event.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <google/protobuf/util/message_differencer.h>

#include "fuzz_checks.h"
#include "validation/json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace v1 = yilian::v1;
  if (size > 1 << 20) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  v1::EnterpriseEvent event;
  yilian::Status parsed = yilian::json::Parse(text, &event);
  if (!parsed.ok()) {
    if (!yilian::validation::IsValidUtf8(parsed.message())) yilian::fuzz::Fail("JSON parse error is not UTF-8");
    return 0;
  }
  yilian::fuzz::CheckErrors(event, yilian::validation::Validate(event));

  const std::string printed = yilian::json::Print(event);
  v1::EnterpriseEvent again;
  if (!yilian::json::Parse(printed, &again).ok()) yilian::fuzz::Fail("printed JSON does not parse again");
  if (!google::protobuf::util::MessageDifferencer::Equals(event, again)) {
    yilian::fuzz::Fail("JSON round trip changed the event");
  }
  return 0;
}
