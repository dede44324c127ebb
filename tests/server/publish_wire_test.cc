// ScanPublish, the broker's shortcut to the event bytes of a Publish, against
// protobuf's own decoding of the Envelope: whatever the scan accepts must
// decode to the same correlation id and the same event, for valid envelopes
// and for thousands of damaged ones; the shapes it must leave to the general
// path are refused.
#include "server/publish_wire.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "cli/sample.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian::server {
namespace {

std::vector<v1::EnterpriseEvent> Events() {
  sample::SampleOptions o;
  o.enterprises = 3;
  o.events_per_enterprise = 3;
  return sample::Generate(o);
}

std::string PublishEnvelope(std::uint64_t correlation_id, const v1::EnterpriseEvent& event) {
  v1::Envelope env;
  env.mutable_publish()->set_correlation_id(correlation_id);
  *env.mutable_publish()->mutable_event() = event;
  return env.SerializeAsString();
}

// The property: an accepted envelope decodes (as protobuf decodes it) to the
// scanned correlation id and to the event the scanned bytes decode to; and
// the event bytes decode exactly when the envelope does.
void ExpectAgreesWithProtobuf(const std::string& bytes) {
  auto view = ScanPublish(bytes);
  if (!view) return;
  ASSERT_GE(view->event.data(), bytes.data());
  ASSERT_LE(view->event.data() + view->event.size(), bytes.data() + bytes.size());
  v1::Envelope env;
  v1::EnterpriseEvent event;
  const bool env_ok = env.ParseFromString(bytes);
  const bool event_ok = event.ParseFromArray(view->event.data(), static_cast<int>(view->event.size()));
  ASSERT_EQ(env_ok, event_ok);
  if (!env_ok) return;
  ASSERT_TRUE(env.has_publish());
  EXPECT_EQ(env.publish().correlation_id(), view->correlation_id);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(env.publish().event(), event));
}

TEST(ScanPublish, FindsTheEventBytesOfAnOrdinaryPublish) {
  for (const auto& e : Events()) {
    const std::string bytes = PublishEnvelope(4242, e);
    auto view = ScanPublish(bytes);
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->correlation_id, 4242u);
    EXPECT_EQ(std::string(view->event), e.SerializeAsString());
    ExpectAgreesWithProtobuf(bytes);
  }
}

TEST(ScanPublish, LeavesOtherShapesToTheGeneralPath) {
  const v1::EnterpriseEvent e = Events().at(0);
  const std::string plain = PublishEnvelope(7, e);
  v1::Envelope heartbeat;
  heartbeat.mutable_heartbeat();
  v1::Envelope no_event;
  no_event.mutable_publish()->set_correlation_id(7);
  const std::string event_field = std::string("\x12\x00", 2);  // an empty event: field 2, length 0
  std::vector<std::pair<std::string, std::string>> cases = {
      {"another message", heartbeat.SerializeAsString()},
      {"a Publish without an event", no_event.SerializeAsString()},
      {"an empty event", "\x1a\x04\x08\x07" + event_field},
      {"a second envelope field after the Publish", plain + heartbeat.SerializeAsString()},
      {"trailing bytes", plain + std::string(1, '\0')},
      {"truncated", plain.substr(0, plain.size() - 1)},
      {"nothing", ""},
  };
  for (const auto& [what, bytes] : cases) EXPECT_FALSE(ScanPublish(bytes).has_value()) << what;

  // The event field twice (protobuf would merge them) and an unknown field
  // inside the Publish.
  std::string inner = std::string("\x08\x07", 2);
  const std::string ev = e.SerializeAsString();
  // A length-delimited field: its tag byte, the length as a varint, the bytes.
  auto field = [](char tag, const std::string& b) {
    std::string out(1, tag);
    std::uint32_t n = static_cast<std::uint32_t>(b.size());
    while (n >= 0x80) out += static_cast<char>((n & 0x7f) | 0x80), n >>= 7;
    out += static_cast<char>(n);
    return out + b;
  };
  auto field2 = [&](const std::string& event) { return field('\x12', event); };    // Publish.event
  auto wrap = [&](const std::string& publish) { return field('\x1a', publish); };  // Envelope.publish
  EXPECT_TRUE(ScanPublish(wrap(inner + field2(ev))).has_value());
  EXPECT_FALSE(ScanPublish(wrap(inner + field2(ev) + field2(ev))).has_value()) << "event twice";
  EXPECT_FALSE(ScanPublish(wrap(inner + field2(ev) + std::string("\x18\x01", 2))).has_value()) << "unknown field 3";
  EXPECT_FALSE(ScanPublish(wrap(inner + inner + field2(ev))).has_value()) << "correlation id twice";
  // Malformed in ways protobuf refuses too: a zero tag or a cut tag after
  // the event, the Publish's length with bits beyond 32 (2^32 + its size).
  const std::string publish = inner + field2(ev);
  std::string long_length;
  for (std::uint64_t n = publish.size() + (std::uint64_t{1} << 32); n > 0; n >>= 7)
    long_length += static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
  for (const auto& [what, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"a zero tag", wrap(publish + std::string(1, '\0'))},
           {"a cut tag", wrap(publish + "\x80")},
           {"a length beyond 32 bits", "\x1a" + long_length + publish},
       }) {
    EXPECT_FALSE(ScanPublish(bytes).has_value()) << what;
    ExpectAgreesWithProtobuf(bytes);
  }
}

TEST(ScanPublish, AgreesWithProtobufOnDamagedEnvelopes) {
  google::protobuf::LogSilencer quiet;  // protobuf logs every invalid UTF-8 string it refuses
  std::mt19937 rng(20261127);
  int accepted = 0;
  for (const auto& e : Events()) {
    const std::string plain = PublishEnvelope(rng(), e);
    for (int round = 0; round < 3000; ++round) {
      std::string bytes = plain;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits; ++k) {
        const std::size_t at = rng() % bytes.size();
        switch (rng() % 4) {
          case 0: bytes[at] = static_cast<char>(rng()); break;                        // change a byte
          case 1: bytes.erase(at, 1 + rng() % 8); break;                               // drop some
          case 2: bytes.insert(at, 1, static_cast<char>(rng())); break;                // add one
          case 3: bytes.resize(at + 1); break;                                         // cut the end
        }
        if (bytes.empty()) bytes = "\x1a";
      }
      if (ScanPublish(bytes)) ++accepted;
      ExpectAgreesWithProtobuf(bytes);
      if (HasFatalFailure()) return;
    }
  }
  // Damage inside the event's text keeps the plain shape: the comparison
  // above ran on many accepted envelopes, not only on refusals.
  EXPECT_GT(accepted, 1000);
}

// Acks built from encoded ack envelopes decode as the Acks message holding
// those acks, in order; anything but a lone ack is left out.
TEST(AppendAck, BuildsTheAcksThatProtobufDecodes) {
  v1::Envelope first, second, third;
  first.mutable_publish_ack()->set_correlation_id(7);
  first.mutable_publish_ack()->set_status(v1::ACCEPTED);
  first.mutable_publish_ack()->add_agencies("tax");
  second.mutable_publish_ack()->set_correlation_id(300);  // a two-byte varint
  second.mutable_publish_ack()->set_message(std::string(200, 'x'));  // a two-byte length
  third.mutable_result_ack()->set_event_id("e-1");
  third.mutable_result_ack()->set_agency("bank:ICBC");
  std::string body;
  for (const auto* e : {&first, &second, &third}) ASSERT_TRUE(AppendAck(e->SerializeAsString(), &body));

  v1::Envelope decoded;
  ASSERT_TRUE(decoded.ParseFromString(EncodeAcks(body)));
  ASSERT_TRUE(decoded.has_acks());
  v1::Acks expected;
  *expected.add_publish_acks() = first.publish_ack();
  *expected.add_publish_acks() = second.publish_ack();
  *expected.add_result_acks() = third.result_ack();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(decoded.acks(), expected)) << decoded.DebugString();

  const std::string before = body;
  v1::Envelope welcome;
  welcome.mutable_welcome()->set_session_id("s");
  EXPECT_FALSE(AppendAck(welcome.SerializeAsString(), &body));
  EXPECT_FALSE(AppendAck(first.SerializeAsString() + "\x08\x01", &body));  // a second field
  EXPECT_FALSE(AppendAck(first.SerializeAsString().substr(0, 5), &body));   // cut short
  EXPECT_FALSE(AppendAck("", &body));
  EXPECT_EQ(body, before);
}

}  // namespace
}  // namespace yilian::server
