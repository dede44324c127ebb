#include "wire/wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace yilian::wire {

std::string EncodeDeterministic(const google::protobuf::MessageLite& message) {
  // Sized once, written into place: no growing of the string.
  std::string out(message.ByteSizeLong(), '\0');
  google::protobuf::io::ArrayOutputStream array(out.data(), static_cast<int>(out.size()));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
  return out;
}

bool Reader::SkipGroup(std::uint32_t number, int depth) {
  if (depth >= kMaxDepth) return false;
  for (;;) {
    Field inner;
    if (!ReadField(&inner, depth + 1)) return false;
    if (inner.type == WireType::kEndGroup) return inner.number == number;
  }
}

}  // namespace yilian::wire
