// Bytes as an EnterpriseEvent in its binary encoding, validated with default
// options and with the broker's (UTF-8 already verified by the parser, and
// lax USCC check characters): neither may crash, and the error texts must
// keep their promises (fuzz_checks.h). The same bytes go through the
// broker's filter on the encoded event (FieldFilter::PruneEncoded), which
// must not crash on anything and, for an event that decodes, must give
// exactly the deterministic encoding of the pruned event.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_checks.h"
#include "security/field_filter.h"

namespace {

std::string Deterministic(const yilian::v1::EnterpriseEvent& event) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  event.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

void CheckPruneEncoded(std::string_view bytes, const yilian::v1::EnterpriseEvent* decoded) {
  for (const char* agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC", "unknown"}) {
    auto filter = yilian::security::FieldFilter::Create(yilian::security::DefaultAllowList(agency));
    if (!filter.ok()) std::abort();
    auto raw = filter.value().PruneEncoded(bytes);  // anything: must not crash
    if (decoded == nullptr) continue;
    yilian::v1::EnterpriseEvent pruned = *decoded;
    filter.value().Prune(&pruned);
    auto wire = filter.value().PruneEncoded(Deterministic(*decoded));
    if (!wire.ok() || wire.value() != Deterministic(pruned)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace v1 = yilian::v1;
  if (size > 1 << 20) return 0;
  v1::EnterpriseEvent event;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (!event.ParseFromArray(data, static_cast<int>(size))) {
    CheckPruneEncoded(bytes, nullptr);
    return 0;
  }
  CheckPruneEncoded(bytes, &event);
  yilian::validation::Options strict;
  auto errors = yilian::validation::Validate(event, strict);
  yilian::fuzz::CheckErrors(event, errors);

  yilian::validation::Options broker;
  broker.utf8_already_verified = true;
  broker.strict_uscc_checksum = false;
  yilian::fuzz::CheckErrors(event, yilian::validation::Validate(event, broker));
  return 0;
}
