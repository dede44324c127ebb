// The protobuf wire format by hand, for the places that handle encoded
// messages without decoding them: the broker's publish shortcut and batched
// acks (broker/server/publish_wire.h), its Deliver built around stored event
// bytes, the client's Publish built around an event's bytes, and the field
// filter's walk over an encoded event (broker/security/field_filter.cc).
// One varint reader and one writer, tags, length-delimited fields, and the
// deterministic encoding of a message.
//
// The rules are protobuf's (https://protobuf.dev/programming-guides/encoding/):
// a varint is at most 10 bytes, little-endian groups of 7 bits, the high bit
// set on every byte but the last; like protobuf's parser, a reader accepts
// encodings longer than needed ("\x80\x00" is 0) and drops the bits of a
// tenth byte beyond the 64th. A tag is a varint of (field << 3) | wire type
// that fits in 32 bits, with a field number of at least 1 and a wire type
// of 0 to 5.
//
// Writers either write into a buffer the caller sized with the *Size
// functions (and return the first byte after what they wrote), or append to
// a string. A Reader points into bytes the caller owns and keeps alive.
// Everything here is a pure function or works on the caller's objects only:
// safe from any thread, one thread per Reader.
#pragma once

#include <google/protobuf/message_lite.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace yilian::wire {

enum class WireType : std::uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

inline constexpr std::size_t kMaxVarintBytes = 10;

// How deep a Reader follows groups nested in groups, counting from the
// depth its caller passes (the caller's own nesting of messages); deeper
// input is refused.
inline constexpr int kMaxDepth = 32;

constexpr std::uint32_t MakeTag(std::uint32_t field, WireType type) {
  return (field << 3) | static_cast<std::uint32_t>(type);
}

// --- Writing ---

constexpr std::size_t VarintSize(std::uint64_t value) {
  // 1 + floor(log2(value) / 7) without a division, as protobuf computes it.
  const auto log2 = static_cast<std::size_t>(std::countl_zero(value | 1) ^ 63);
  return (log2 * 9 + 73) / 64;
}

// One- and two-byte varints (tags, small lengths) take the short paths, as
// in protobuf's own writer.
inline char* WriteVarint(std::uint64_t value, char* p) {
  p[0] = static_cast<char>(value);
  if (value < 0x80) return p + 1;
  p[0] = static_cast<char>(value | 0x80);
  value >>= 7;
  p[1] = static_cast<char>(value);
  if (value < 0x80) return p + 2;
  p += 2;
  do {
    p[-1] = static_cast<char>(p[-1] | 0x80);
    value >>= 7;
    *p++ = static_cast<char>(value);
  } while (value >= 0x80);
  return p;
}

inline void AppendVarint(std::uint64_t value, std::string* out) {
  char bytes[kMaxVarintBytes];
  out->append(bytes, static_cast<std::size_t>(WriteVarint(value, bytes) - bytes));
}

// The whole of a varint field: tag and value.
constexpr std::size_t VarintFieldSize(std::uint32_t field, std::uint64_t value) {
  return VarintSize(MakeTag(field, WireType::kVarint)) + VarintSize(value);
}

inline char* WriteVarintField(std::uint32_t field, std::uint64_t value, char* p) {
  p = WriteVarint(MakeTag(field, WireType::kVarint), p);
  return WriteVarint(value, p);
}

// The whole of a length-delimited field with `length` bytes of content:
// tag, length and content.
constexpr std::size_t LengthDelimitedSize(std::uint32_t field, std::size_t length) {
  return VarintSize(MakeTag(field, WireType::kLengthDelimited)) + VarintSize(length) + length;
}

// The tag and length of a length-delimited field; its `length` bytes of
// content are for the caller to write next.
inline char* WriteLengthPrefix(std::uint32_t field, std::size_t length, char* p) {
  p = WriteVarint(MakeTag(field, WireType::kLengthDelimited), p);
  return WriteVarint(length, p);
}

inline char* WriteLengthDelimited(std::uint32_t field, std::string_view bytes, char* p) {
  p = WriteLengthPrefix(field, bytes.size(), p);
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

inline void AppendLengthDelimited(std::uint32_t field, std::string_view bytes, std::string* out) {
  char head[2 * kMaxVarintBytes];
  out->append(head, static_cast<std::size_t>(WriteLengthPrefix(field, bytes.size(), head) - head));
  out->append(bytes);
}

// The deterministic encoding of `message` (fields in number order, map
// entries sorted), sized once and written into place: what the broker
// stores and compares duplicates by.
std::string EncodeDeterministic(const google::protobuf::MessageLite& message);

// --- Reading ---

// One field of an encoded message, as found by Reader::ReadField.
struct Field {
  std::uint32_t number = 0;
  WireType type = WireType::kVarint;
  const char* begin = nullptr;    // first byte of the tag
  const char* tag_end = nullptr;  // first byte after the tag
  const char* end = nullptr;      // first byte after the value
  std::uint64_t value = 0;        // the value of a varint field
  std::string_view payload;       // the content of a length-delimited field
};

// Reads an encoded message from the front. Every Read* returns false on
// malformed input (truncated, over-long, a bad tag) and then leaves the
// Reader somewhere undefined: stop reading.
class Reader {
 public:
  explicit Reader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}

  bool done() const { return p_ == end_; }

  bool ReadVarint(std::uint64_t* value) {
    if (p_ != end_ && static_cast<std::uint8_t>(*p_) < 0x80) {
      *value = static_cast<std::uint8_t>(*p_++);
      return true;
    }
    std::uint64_t result = 0;
    const char* p = p_;
    for (int shift = 0; shift < 64 && p != end_; shift += 7) {
      const auto byte = static_cast<std::uint8_t>(*p++);
      result |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (byte < 0x80) {
        p_ = p;
        *value = result;
        return true;
      }
    }
    return false;
  }

  bool ReadTag(std::uint32_t* field, WireType* type) {
    std::uint64_t tag = 0;
    if (!ReadVarint(&tag) || tag > 0xffffffffu || (tag >> 3) == 0 || (tag & 7) > 5) return false;
    *field = static_cast<std::uint32_t>(tag >> 3);
    *type = static_cast<WireType>(tag & 7);
    return true;
  }

  // A length and that many bytes.
  bool ReadLengthDelimited(std::string_view* bytes) {
    std::uint64_t length = 0;
    if (!ReadVarint(&length) || length > static_cast<std::uint64_t>(end_ - p_)) return false;
    *bytes = std::string_view(p_, static_cast<std::size_t>(length));
    p_ += length;
    return true;
  }

  // The next field, tag and value, of any wire type; a group is read to its
  // matching end. An end-group tag is returned as a field of type kEndGroup
  // for the caller to match. `depth` is how deep the caller's input is
  // nested already (see kMaxDepth).
  bool ReadField(Field* f, int depth = 0) {
    f->begin = p_;
    if (!ReadTag(&f->number, &f->type)) return false;
    f->tag_end = p_;
    f->value = 0;
    f->payload = {};
    switch (f->type) {
      case WireType::kVarint:
        if (!ReadVarint(&f->value)) return false;
        break;
      case WireType::kFixed64:
        if (!Skip(8)) return false;
        break;
      case WireType::kFixed32:
        if (!Skip(4)) return false;
        break;
      case WireType::kLengthDelimited:
        if (!ReadLengthDelimited(&f->payload)) return false;
        break;
      case WireType::kStartGroup:
        if (!SkipGroup(f->number, depth)) return false;
        break;
      case WireType::kEndGroup:
        break;
    }
    f->end = p_;
    return true;
  }

 private:
  bool Skip(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  // The fields of the group `number` up to and including its end tag.
  bool SkipGroup(std::uint32_t number, int depth);

  const char* p_;
  const char* end_;
};

}  // namespace yilian::wire
