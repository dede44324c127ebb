// The wire module against protobuf: varints at their boundaries written as
// protobuf writes them and read back, truncated and over-long varints and
// bad tags refused as protobuf's reader refuses them, length-delimited
// fields, groups, and messages written with the module byte for byte equal
// to protobuf's deterministic encoding of the same message.
#include "wire/wire.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "testing/full_event.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian::wire {
namespace {

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

// What protobuf's own writer makes of `value`.
std::string ProtobufVarint(std::uint64_t value) {
  std::uint8_t bytes[kMaxVarintBytes];
  std::uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(value, bytes);
  return std::string(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(end - bytes));
}

// What protobuf's own reader makes of `bytes`: nullopt if it refuses them.
std::optional<std::uint64_t> ProtobufReadVarint(const std::string& bytes) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::uint64_t value = 0;
  if (!in.ReadVarint64(&value)) return std::nullopt;
  return value;
}

// Protobuf's deterministic encoding, the reference the module is held to.
std::string ProtobufDeterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    EXPECT_TRUE(message.SerializeToCodedStream(&coded));
  }
  return out;
}

std::optional<std::uint64_t> ReadOneVarint(const std::string& bytes, bool* done = nullptr) {
  Reader reader(bytes);
  std::uint64_t value = 0;
  if (!reader.ReadVarint(&value)) return std::nullopt;
  if (done != nullptr) *done = reader.done();
  return value;
}

const std::vector<std::uint64_t> kBoundaries = {0,
                                                1,
                                                127,
                                                128,
                                                16383,
                                                16384,
                                                (1u << 21) - 1,
                                                1u << 21,
                                                (1u << 28) - 1,
                                                1u << 28,
                                                0xffffffffu,
                                                std::uint64_t{1} << 32,
                                                (std::uint64_t{1} << 35) - 1,
                                                std::uint64_t{1} << 56,
                                                (std::uint64_t{1} << 63) - 1,
                                                std::uint64_t{1} << 63,
                                                kMax64};

TEST(Varint, RoundTripsAtTheBoundariesAsProtobufWritesThem) {
  for (std::uint64_t value : kBoundaries) {
    char buffer[kMaxVarintBytes + 1];
    const std::size_t size = static_cast<std::size_t>(WriteVarint(value, buffer) - buffer);
    const std::string written(buffer, size);
    EXPECT_EQ(written, ProtobufVarint(value)) << value;
    EXPECT_EQ(size, VarintSize(value)) << value;
    std::string appended = "x";
    AppendVarint(value, &appended);
    EXPECT_EQ(appended, "x" + written) << value;
    bool done = false;
    EXPECT_EQ(ReadOneVarint(written, &done), value) << value;
    EXPECT_TRUE(done) << value;
  }
}

TEST(Varint, SizesAndBytesOfTheEdges) {
  EXPECT_EQ(ProtobufVarint(0), std::string(1, '\0'));
  EXPECT_EQ(VarintSize(0), 1u);
  EXPECT_EQ(VarintSize(127), 1u);
  EXPECT_EQ(VarintSize(128), 2u);
  EXPECT_EQ(VarintSize(0xffffffffu), 5u);
  EXPECT_EQ(VarintSize(kMax64), 10u);
  char buffer[kMaxVarintBytes];
  EXPECT_EQ(std::string(buffer, WriteVarint(300, buffer)), "\xac\x02");
  EXPECT_EQ(std::string(buffer, WriteVarint(kMax64, buffer)), std::string(9, '\xff') + "\x01");
  static_assert(VarintSize(std::uint64_t{1} << 63) == 10);
}

TEST(Varint, TruncatedIsRefused) {
  EXPECT_FALSE(ReadOneVarint(""));
  for (std::uint64_t value : kBoundaries) {
    const std::string bytes = ProtobufVarint(value);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(ReadOneVarint(bytes.substr(0, n))) << value << " cut to " << n << " bytes";
    }
  }
}

TEST(Varint, OverLongIsRefusedLongerThanNeededIsNot) {
  // Eleven bytes: more than any varint may have.
  EXPECT_FALSE(ReadOneVarint(std::string(10, '\x80') + std::string(1, '\0')));
  EXPECT_FALSE(ReadOneVarint(std::string(10, '\xff') + "\x01"));
  EXPECT_FALSE(ProtobufReadVarint(std::string(10, '\xff') + "\x01"));
  // Ten bytes, the last without its high bit: read, as protobuf reads them;
  // a tenth byte's bits beyond the 64th are dropped.
  EXPECT_EQ(ReadOneVarint(std::string(9, '\xff') + "\x01"), kMax64);
  EXPECT_EQ(ReadOneVarint(std::string(9, '\xff') + "\x7f"), kMax64);
  EXPECT_EQ(ProtobufReadVarint(std::string(9, '\xff') + "\x7f"), kMax64);
  // Longer than needed: 0 and 1 in two and in ten bytes.
  EXPECT_EQ(ReadOneVarint(std::string("\x80\x00", 2)), 0u);
  EXPECT_EQ(ReadOneVarint("\x81" + std::string(8, '\x80') + std::string(1, '\0')), 1u);
}

// Whatever the bytes, the module's reader and protobuf's agree on whether a
// varint is there and on its value.
TEST(Varint, AgreesWithProtobufOnRandomBytes) {
  std::mt19937 rng(20261206);
  for (int round = 0; round < 200000; ++round) {
    std::string bytes(rng() % 13, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 4 == 0 ? rng() % 0x80 : 0x80 | rng());
    EXPECT_EQ(ReadOneVarint(bytes), ProtobufReadVarint(bytes)) << "round " << round;
    if (HasFailure()) return;
  }
}

TEST(Tag, IsTheFieldNumberAndTheWireType) {
  EXPECT_EQ(MakeTag(1, WireType::kVarint), 0x08u);
  EXPECT_EQ(MakeTag(3, WireType::kLengthDelimited), 0x1au);
  EXPECT_EQ(MakeTag(536870911, WireType::kFixed32), 0xfffffffdu);  // the largest field number
  const std::string largest = ProtobufVarint(MakeTag(536870911, WireType::kFixed32));
  Reader reader(largest);
  std::uint32_t field = 0;
  WireType type = WireType::kVarint;
  ASSERT_TRUE(reader.ReadTag(&field, &type));
  EXPECT_EQ(field, 536870911u);
  EXPECT_EQ(type, WireType::kFixed32);
}

TEST(Tag, FieldZeroUnknownWireTypesAndMoreThan32BitsAreRefused) {
  for (std::uint64_t bad : {std::uint64_t{0}, std::uint64_t{2}, std::uint64_t{(1 << 3) | 6},
                            std::uint64_t{(1 << 3) | 7}, std::uint64_t{1} << 32, (std::uint64_t{1} << 32) | 0x08}) {
    const std::string bytes = ProtobufVarint(bad);
    Reader reader(bytes);
    std::uint32_t field = 0;
    WireType type = WireType::kVarint;
    EXPECT_FALSE(reader.ReadTag(&field, &type)) << bad;
  }
}

TEST(LengthDelimited, WrittenAndReadAtEveryLengthBoundary) {
  for (std::size_t length : {0u, 1u, 127u, 128u, 300u, 16383u, 16384u, 70000u}) {
    const std::string content(length, 'c');
    std::string appended;
    AppendLengthDelimited(12, content, &appended);
    EXPECT_EQ(appended.size(), LengthDelimitedSize(12, length));
    std::string written(LengthDelimitedSize(12, length), '\0');
    EXPECT_EQ(WriteLengthDelimited(12, content, written.data()), written.data() + written.size());
    EXPECT_EQ(written, appended);
    EXPECT_EQ(appended.substr(0, appended.size() - length),
              ProtobufVarint(MakeTag(12, WireType::kLengthDelimited)) + ProtobufVarint(length));

    Reader reader(appended);
    Field f;
    ASSERT_TRUE(reader.ReadField(&f));
    EXPECT_EQ(f.number, 12u);
    EXPECT_EQ(f.type, WireType::kLengthDelimited);
    EXPECT_EQ(f.payload, content);
    EXPECT_EQ(f.begin, appended.data());
    EXPECT_EQ(f.end, appended.data() + appended.size());
    EXPECT_TRUE(reader.done());
    // One byte short: the length runs past the end.
    Reader shorter(std::string_view(appended).substr(0, appended.size() - 1));
    EXPECT_FALSE(shorter.ReadField(&f)) << length;
  }
}

TEST(LengthDelimited, ALengthBeyondTheInputIsRefused) {
  // Field 1, length-delimited, with a length of 5, of 2^32 - 1 and of 2^64 - 1.
  for (const std::string& bytes :
       {std::string("\x0a\x05", 2) + "abcd", std::string("\x0a\xff\xff\xff\xff\x0f", 6) + "a",
        std::string(1, '\x0a') + ProtobufVarint(kMax64) + "abc"}) {
    Reader reader(bytes);
    Field f;
    EXPECT_FALSE(reader.ReadField(&f)) << bytes.size();
  }
}

TEST(ReadField, ReadsEveryWireTypeAndRefusesTruncatedValues) {
  std::string bytes;
  AppendVarint(MakeTag(1, WireType::kVarint), &bytes);
  AppendVarint(300, &bytes);
  AppendVarint(MakeTag(2, WireType::kFixed64), &bytes);
  bytes += "12345678";
  AppendVarint(MakeTag(3, WireType::kFixed32), &bytes);
  bytes += "1234";
  AppendVarint(MakeTag(4, WireType::kStartGroup), &bytes);
  AppendVarint(MakeTag(1, WireType::kVarint), &bytes);
  AppendVarint(7, &bytes);
  AppendVarint(MakeTag(4, WireType::kEndGroup), &bytes);
  AppendLengthDelimited(5, "text", &bytes);

  Reader reader(bytes);
  std::vector<std::pair<std::uint32_t, WireType>> seen;
  Field f;
  while (!reader.done()) {
    ASSERT_TRUE(reader.ReadField(&f));
    seen.emplace_back(f.number, f.type);
    if (f.number == 1) {
      EXPECT_EQ(f.value, 300u);
    }
    if (f.number == 4) {
      EXPECT_EQ(std::string(f.tag_end, f.end), std::string("\x08\x07\x24", 3));
    }
  }
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint32_t, WireType>>{{1, WireType::kVarint},
                                                                   {2, WireType::kFixed64},
                                                                   {3, WireType::kFixed32},
                                                                   {4, WireType::kStartGroup},
                                                                   {5, WireType::kLengthDelimited}}));
  EXPECT_EQ(f.payload, "text");
  // Every cut that is not between two fields is refused.
  ASSERT_EQ(bytes.size(), 27u);
  const std::vector<std::size_t> field_ends = {0, 3, 12, 17, 21};
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    Reader cut(std::string_view(bytes).substr(0, n));
    bool ok = true;
    while (ok && !cut.done()) ok = cut.ReadField(&f);
    EXPECT_EQ(ok, std::find(field_ends.begin(), field_ends.end(), n) != field_ends.end()) << "cut at " << n;
  }
}

TEST(ReadField, GroupsMustEndWithTheirOwnNumberAndNotNestTooDeep) {
  std::string mismatched;
  AppendVarint(MakeTag(4, WireType::kStartGroup), &mismatched);
  AppendVarint(MakeTag(5, WireType::kEndGroup), &mismatched);
  Reader reader(mismatched);
  Field f;
  EXPECT_FALSE(reader.ReadField(&f));

  auto nested = [](int depth) {
    std::string bytes;
    for (int i = 0; i < depth; ++i) AppendVarint(MakeTag(1, WireType::kStartGroup), &bytes);
    for (int i = 0; i < depth; ++i) AppendVarint(MakeTag(1, WireType::kEndGroup), &bytes);
    return bytes;
  };
  const std::string deepest = nested(kMaxDepth);
  Reader ok(deepest);
  EXPECT_TRUE(ok.ReadField(&f));
  EXPECT_TRUE(ok.done());
  Reader caller_nested(deepest);
  EXPECT_FALSE(caller_nested.ReadField(&f, 1)) << "the caller's depth counts";
  const std::string too_deep = nested(kMaxDepth + 1);
  Reader refused(too_deep);
  EXPECT_FALSE(refused.ReadField(&f));
}

// A message written field by field with the module is the message protobuf
// encodes: varints of every size, strings, a repeated nested message.
TEST(Protobuf, AMessageWrittenWithTheModuleIsProtobufsEncoding) {
  v1::PublishAck ack;
  ack.set_correlation_id(kMax64);
  ack.set_event_id("evt-2025-0001");
  ack.set_status(v1::REFUSED);
  ack.set_error(v1::INVALID_EVENT);
  ack.set_message(std::string(200, 'm'));  // a two-byte length
  for (int i = 0; i < 2; ++i) {
    v1::ValidationError* e = ack.add_errors();
    e->set_path("enterprise.legal_representative.id_number");
    e->set_code("CHECK_DIGIT");
    e->set_message("校验码不符");
  }
  ack.set_current_revision(std::uint64_t{1} << 32);
  ack.add_agencies("tax");
  ack.add_agencies("bank:ICBC");
  ack.set_sequence(128);

  std::string out;
  auto varint = [&](std::uint32_t field, std::uint64_t value) {
    std::string bytes(VarintFieldSize(field, value), '\0');
    EXPECT_EQ(WriteVarintField(field, value, bytes.data()), bytes.data() + bytes.size());
    out += bytes;
  };
  varint(v1::PublishAck::kCorrelationIdFieldNumber, ack.correlation_id());
  AppendLengthDelimited(v1::PublishAck::kEventIdFieldNumber, ack.event_id(), &out);
  varint(v1::PublishAck::kStatusFieldNumber, static_cast<std::uint64_t>(ack.status()));
  varint(v1::PublishAck::kErrorFieldNumber, static_cast<std::uint64_t>(ack.error()));
  AppendLengthDelimited(v1::PublishAck::kMessageFieldNumber, ack.message(), &out);
  for (const v1::ValidationError& e : ack.errors()) {
    std::string body;
    AppendLengthDelimited(v1::ValidationError::kPathFieldNumber, e.path(), &body);
    AppendLengthDelimited(v1::ValidationError::kCodeFieldNumber, e.code(), &body);
    AppendLengthDelimited(v1::ValidationError::kMessageFieldNumber, e.message(), &body);
    AppendLengthDelimited(v1::PublishAck::kErrorsFieldNumber, body, &out);
  }
  varint(v1::PublishAck::kCurrentRevisionFieldNumber, ack.current_revision());
  for (const std::string& a : ack.agencies()) AppendLengthDelimited(v1::PublishAck::kAgenciesFieldNumber, a, &out);
  varint(v1::PublishAck::kSequenceFieldNumber, ack.sequence());

  EXPECT_EQ(out, ProtobufDeterministic(ack));
  EXPECT_EQ(out, ack.SerializeAsString());
}

// The shape the client and the broker build by hand: an Envelope around a
// Publish or a Deliver whose event is already encoded.
TEST(Protobuf, EnvelopesAroundEncodedEventsAreProtobufsEncoding) {
  for (const v1::EnterpriseEvent& event : testing::FullEvents("wire")) {
    const std::string event_bytes = EncodeDeterministic(event);
    ASSERT_EQ(event_bytes, ProtobufDeterministic(event));

    v1::Envelope publish;
    publish.mutable_publish()->set_correlation_id(4242);
    *publish.mutable_publish()->mutable_event() = event;
    const std::size_t inner = VarintFieldSize(v1::Publish::kCorrelationIdFieldNumber, 4242) +
                              LengthDelimitedSize(v1::Publish::kEventFieldNumber, event_bytes.size());
    std::string written(LengthDelimitedSize(v1::Envelope::kPublishFieldNumber, inner), '\0');
    char* p = WriteLengthPrefix(v1::Envelope::kPublishFieldNumber, inner, written.data());
    p = WriteVarintField(v1::Publish::kCorrelationIdFieldNumber, 4242, p);
    p = WriteLengthDelimited(v1::Publish::kEventFieldNumber, event_bytes, p);
    EXPECT_EQ(p, written.data() + written.size());
    EXPECT_EQ(written, ProtobufDeterministic(publish));

    v1::Envelope deliver;
    v1::Deliver* d = deliver.mutable_deliver();
    d->set_event_id(event.event_id());
    d->set_agency("tax");
    d->set_uscc(event.uscc());
    d->set_attempt(3);
    d->set_sequence(std::uint64_t{1} << 40);
    d->set_replay(true);
    std::string body = EncodeDeterministic(*d);  // the fields before and after the event
    AppendLengthDelimited(v1::Deliver::kEventFieldNumber, event_bytes, &body);
    std::string envelope;
    AppendLengthDelimited(v1::Envelope::kDeliverFieldNumber, body, &envelope);
    *d->mutable_event() = event;
    // Field order differs (the event last), the message is the same.
    v1::Envelope decoded;
    ASSERT_TRUE(decoded.ParseFromString(envelope));
    EXPECT_EQ(EncodeDeterministic(decoded), ProtobufDeterministic(deliver));
  }
}

TEST(Protobuf, EncodeDeterministicIsProtobufsDeterministicEncoding) {
  for (const v1::EnterpriseEvent& event : testing::FullEvents("det")) {
    EXPECT_EQ(EncodeDeterministic(event), ProtobufDeterministic(event));
  }
  v1::Envelope empty;
  EXPECT_EQ(EncodeDeterministic(empty), "");
}

// The module's reader walks protobuf's encoding of a full event field by
// field, nested messages included, and finds every byte.
TEST(Protobuf, TheReaderWalksProtobufsEncoding) {
  for (const v1::EnterpriseEvent& event : testing::FullEvents("walk")) {
    const std::string bytes = event.SerializeAsString();
    std::size_t fields = 0;
    std::function<void(std::string_view, const google::protobuf::Descriptor*)> walk =
        [&](std::string_view data, const google::protobuf::Descriptor* type) {
          Reader reader(data);
          while (!reader.done()) {
            Field f;
            ASSERT_TRUE(reader.ReadField(&f));
            ++fields;
            const google::protobuf::FieldDescriptor* field = type->FindFieldByNumber(static_cast<int>(f.number));
            ASSERT_NE(field, nullptr) << f.number;
            if (field->message_type() != nullptr) walk(f.payload, field->message_type());
          }
        };
    walk(bytes, v1::EnterpriseEvent::descriptor());
    EXPECT_GT(fields, 20u);
  }
}

}  // namespace
}  // namespace yilian::wire
