#include "server/publish_wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

namespace yilian::server {

std::optional<PublishView> ScanPublish(std::string_view envelope) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedInputStream;
  CodedInputStream outer(reinterpret_cast<const std::uint8_t*>(envelope.data()), static_cast<int>(envelope.size()));
  std::uint32_t length = 0;
  if (outer.ReadTag() != WireFormatLite::MakeTag(3, WireFormatLite::WIRETYPE_LENGTH_DELIMITED) ||
      !outer.ReadVarint32(&length) ||
      static_cast<std::size_t>(outer.CurrentPosition()) + length != envelope.size()) {
    return std::nullopt;
  }
  const char* start = envelope.data() + outer.CurrentPosition();
  CodedInputStream in(reinterpret_cast<const std::uint8_t*>(start), static_cast<int>(length));
  PublishView view;
  bool seen_correlation = false;
  while (std::uint32_t tag = in.ReadTag()) {
    if (tag == WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT) && !seen_correlation) {
      if (!in.ReadVarint64(&view.correlation_id)) return std::nullopt;
      seen_correlation = true;
    } else if (tag == WireFormatLite::MakeTag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED) && view.event.empty()) {
      std::uint32_t size = 0;
      if (!in.ReadVarint32(&size) || size == 0 || size > length - static_cast<std::uint32_t>(in.CurrentPosition()))
        return std::nullopt;
      view.event = std::string_view(start + in.CurrentPosition(), size);
      if (!in.Skip(static_cast<int>(size))) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (view.event.empty() || static_cast<std::uint32_t>(in.CurrentPosition()) != length) return std::nullopt;
  return view;
}

}  // namespace yilian::server
