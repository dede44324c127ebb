#include "server/publish_wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "yilian/v1/protocol.pb.h"

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

namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

constexpr std::uint32_t LengthDelimited(int field) {
  return WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

void AppendField(std::uint32_t tag, std::string_view bytes, std::string* out) {
  std::uint8_t head[10];  // two varint32s, at most 5 bytes each
  std::uint8_t* p = CodedOutputStream::WriteVarint32ToArray(tag, head);
  p = CodedOutputStream::WriteVarint32ToArray(static_cast<std::uint32_t>(bytes.size()), p);
  out->append(reinterpret_cast<const char*>(head), static_cast<std::size_t>(p - head));
  out->append(bytes);
}

}  // namespace

bool AppendAck(std::string_view envelope, std::string* acks) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(envelope.data()),
                                            static_cast<int>(envelope.size()));
  const std::uint32_t tag = in.ReadTag();
  int entry_field;
  if (tag == LengthDelimited(v1::Envelope::kPublishAckFieldNumber)) {
    entry_field = v1::Acks::kPublishAcksFieldNumber;
  } else if (tag == LengthDelimited(v1::Envelope::kResultAckFieldNumber)) {
    entry_field = v1::Acks::kResultAcksFieldNumber;
  } else {
    return false;
  }
  std::uint32_t length = 0;
  if (!in.ReadVarint32(&length) || static_cast<std::size_t>(in.CurrentPosition()) + length != envelope.size())
    return false;
  AppendField(LengthDelimited(entry_field), envelope.substr(static_cast<std::size_t>(in.CurrentPosition())), acks);
  return true;
}

std::string EncodeAcks(std::string_view acks) {
  std::string out;
  AppendField(LengthDelimited(v1::Envelope::kAcksFieldNumber), acks, &out);
  return out;
}

}  // namespace yilian::server
