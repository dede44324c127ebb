// Publish with confirms against a real yilian-broker process on 127.0.0.1:
// accepted, duplicate, conflict, stale revision, invalid event, unroutable,
// durability across a restart.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <map>
#include <regex>

#include "cli/sample.h"
#include "client/publisher.h"
#include "testing/broker_fixture.h"

namespace yilian {
namespace {

using testing::BrokerProcess;

class PublishTest : public ::testing::Test {
 protected:
  void SetUp() override { broker_.Start(); }

  v1::PublishAck PublishOne(const v1::EnterpriseEvent& event) {
    client::ClientOptions options;
    options.endpoint = broker_.endpoint();
    client::Publisher publisher(context_, options);
    publisher.Publish(event);
    std::optional<v1::PublishAck> got;
    bool done = testing::PollUntil(
        [&] {
          publisher.Poll(50, [&](std::uint64_t, const v1::PublishAck& ack) { got = ack; });
          return got.has_value();
        },
        10000);
    EXPECT_TRUE(done) << "no PublishAck within 10 s";
    return got.value_or(v1::PublishAck());
  }

  static std::vector<v1::EnterpriseEvent> Sample(int enterprises, int per) {
    sample::SampleOptions o;
    o.enterprises = enterprises;
    o.events_per_enterprise = per;
    o.deregister_fraction = 0;
    return sample::Generate(o);
  }

  zmq::context_t context_{1};
  BrokerProcess broker_;
};

TEST_F(PublishTest, AcceptedEventIsStoredWithItsAgencies) {
  auto events = Sample(1, 1);
  v1::PublishAck ack = PublishOne(events[0]);
  EXPECT_EQ(ack.status(), v1::ACCEPTED);
  EXPECT_EQ(ack.event_id(), events[0].event_id());
  std::vector<std::string> agencies(ack.agencies().begin(), ack.agencies().end());
  EXPECT_EQ(agencies, (std::vector<std::string>{"bank:ICBC", "housing_fund", "social_insurance", "tax"}));
  EXPECT_EQ(broker_.QueryInt("SELECT COUNT(*) FROM events WHERE event_id = '" + events[0].event_id() + "'"), 1);
  EXPECT_EQ(broker_.QueryInt("SELECT COUNT(*) FROM deliveries WHERE state = 0"), 4);
}

TEST_F(PublishTest, SameEventAgainIsDuplicateAndStoredOnce) {
  auto events = Sample(1, 1);
  EXPECT_EQ(PublishOne(events[0]).status(), v1::ACCEPTED);
  v1::PublishAck again = PublishOne(events[0]);
  EXPECT_EQ(again.status(), v1::DUPLICATE);
  EXPECT_EQ(again.agencies_size(), 4);
  EXPECT_EQ(broker_.QueryInt("SELECT COUNT(*) FROM events"), 1);
  EXPECT_EQ(broker_.QueryInt("SELECT COUNT(*) FROM deliveries"), 4);
}

TEST_F(PublishTest, SameIdWithDifferentContentIsConflict) {
  auto events = Sample(1, 1);
  EXPECT_EQ(PublishOne(events[0]).status(), v1::ACCEPTED);
  v1::EnterpriseEvent changed = events[0];
  changed.mutable_enterprise()->set_address("福建省厦门市思明区另一个地址1号");
  v1::PublishAck ack = PublishOne(changed);
  EXPECT_EQ(ack.status(), v1::REFUSED);
  EXPECT_EQ(ack.error(), v1::CONFLICT);
  EXPECT_EQ(broker_.Query("SELECT COUNT(*) FROM events"), "1");
}

// A stored event_id on a publish newer than its enterprise's revision (so
// not a duplicate) is found by the insert, not by a lookup: the answer is
// the same conflict, and nothing of the refused publish is kept.
TEST_F(PublishTest, StoredIdOnANewerRevisionOrAnotherEnterpriseIsConflict) {
  auto first = Sample(1, 2);   // revisions 1 and 2 of one enterprise
  auto other = Sample(3, 1);   // revision 1 of three other enterprises
  ASSERT_NE(first[0].uscc(), other[2].uscc());
  EXPECT_EQ(PublishOne(first[0]).status(), v1::ACCEPTED);

  v1::EnterpriseEvent newer = first[1];
  newer.set_event_id(first[0].event_id());
  v1::PublishAck ack = PublishOne(newer);
  EXPECT_EQ(ack.status(), v1::REFUSED);
  EXPECT_EQ(ack.error(), v1::CONFLICT) << ack.message();
  EXPECT_NE(ack.message().find("different content"), std::string::npos) << ack.message();

  v1::EnterpriseEvent elsewhere = other[2];
  elsewhere.set_event_id(first[0].event_id());
  ack = PublishOne(elsewhere);
  EXPECT_EQ(ack.error(), v1::CONFLICT) << ack.message();

  EXPECT_EQ(broker_.QueryInt("SELECT COUNT(*) FROM events"), 1);
  EXPECT_EQ(broker_.QueryInt("SELECT COUNT(*) FROM deliveries"), 4);
  EXPECT_EQ(broker_.QueryInt("SELECT COUNT(*) FROM enterprises"), 1);
  EXPECT_EQ(broker_.QueryInt("SELECT last_revision FROM enterprises"), 1);
  // The refused revision 2 was not taken: the real one is accepted.
  EXPECT_EQ(PublishOne(first[1]).status(), v1::ACCEPTED);
  EXPECT_EQ(PublishOne(first[0]).status(), v1::DUPLICATE);
}

TEST_F(PublishTest, StaleRevisionIsRefusedWithTheCurrentRevision) {
  auto events = Sample(1, 3);  // revisions 1, 2, 3 of one enterprise
  EXPECT_EQ(PublishOne(events[0]).status(), v1::ACCEPTED);
  EXPECT_EQ(PublishOne(events[2]).status(), v1::ACCEPTED);
  v1::PublishAck older = PublishOne(events[1]);
  EXPECT_EQ(older.status(), v1::REFUSED);
  EXPECT_EQ(older.error(), v1::STALE_REVISION);
  EXPECT_EQ(older.current_revision(), 3u);
  v1::EnterpriseEvent same_revision = events[1];
  same_revision.set_event_id("other-id");
  same_revision.set_revision(3);
  v1::PublishAck equal = PublishOne(same_revision);
  EXPECT_EQ(equal.error(), v1::STALE_REVISION);
  EXPECT_NE(equal.message().find("3"), std::string::npos);
}

// A revision of 2^64 - 1, once stored, would make every later event of the
// enterprise stale: revisions above 2^53 - 1 are refused, and the
// enterprise goes on.
TEST_F(PublishTest, AHugeRevisionIsRefusedAndDoesNotBlockTheEnterprise) {
  auto events = Sample(1, 2);
  EXPECT_EQ(PublishOne(events[0]).status(), v1::ACCEPTED);
  v1::EnterpriseEvent huge = events[1];
  huge.set_event_id("huge-revision");
  huge.set_revision(UINT64_MAX);
  v1::PublishAck refused = PublishOne(huge);
  EXPECT_EQ(refused.status(), v1::REFUSED);
  EXPECT_EQ(refused.error(), v1::INVALID_EVENT);
  ASSERT_EQ(refused.errors_size(), 1);
  EXPECT_EQ(refused.errors(0).path(), "revision");
  EXPECT_EQ(refused.errors(0).code(), "INVALID_VALUE");
  // Nothing was stored: the enterprise's next revision is taken.
  EXPECT_EQ(PublishOne(events[1]).status(), v1::ACCEPTED);
  // The largest revision allowed is.
  huge.set_revision((std::uint64_t{1} << 53) - 1);
  huge.set_event_id("largest-revision");
  EXPECT_EQ(PublishOne(huge).status(), v1::ACCEPTED);
}

TEST_F(PublishTest, InvalidEventIsRefusedAndConnectionStaysUsable) {
  auto events = Sample(2, 1);
  client::ClientOptions options;
  options.endpoint = broker_.endpoint();
  client::Publisher publisher(context_, options);
  v1::EnterpriseEvent bad = events[0];
  bad.set_uscc("91350100M000100Y4Z");  // wrong check character
  bad.mutable_enterprise()->mutable_legal_representative()->set_id_number("110105194912310021");
  publisher.Publish(bad);
  publisher.Publish(events[1]);
  std::vector<v1::PublishAck> acks;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        publisher.Poll(50, [&](std::uint64_t, const v1::PublishAck& a) { acks.push_back(a); });
        return acks.size() == 2;
      },
      10000));
  ASSERT_EQ(acks[0].event_id(), bad.event_id());
  EXPECT_EQ(acks[0].status(), v1::REFUSED);
  EXPECT_EQ(acks[0].error(), v1::INVALID_EVENT);
  std::set<std::string> paths;
  for (const auto& e : acks[0].errors()) paths.insert(e.path());
  EXPECT_TRUE(paths.count("uscc"));
  EXPECT_TRUE(paths.count("enterprise.legal_representative.id_number"));
  // The refusal never echoes the ID number in clear.
  EXPECT_EQ(acks[0].DebugString().find("110105194912310021"), std::string::npos);
  EXPECT_EQ(acks[1].status(), v1::ACCEPTED);
}

TEST_F(PublishTest, UnroutableBankIsRefused) {
  broker_.Stop();
  testing::WriteFile(broker_.config_path(),
                     "agencies:\n  - id: tax\n    events: [ESTABLISHED]\n  - id: bank:CCB\n    events: [ESTABLISHED]\n");
  broker_.Start();
  auto events = Sample(1, 1);  // reserves ICBC
  v1::PublishAck ack = PublishOne(events[0]);
  EXPECT_EQ(ack.status(), v1::REFUSED);
  EXPECT_EQ(ack.error(), v1::UNROUTABLE);
  EXPECT_NE(ack.message().find("ICBC"), std::string::npos);
}

TEST_F(PublishTest, ConfirmedEventSurvivesKillAndRestart) {
  auto events = Sample(5, 1);
  for (const auto& e : events) ASSERT_EQ(PublishOne(e).status(), v1::ACCEPTED);
  broker_.Kill(SIGKILL);
  broker_.Start();
  EXPECT_EQ(broker_.QueryInt("SELECT COUNT(*) FROM events"), 5);
  // Publishing them again after the restart: all duplicates.
  for (const auto& e : events) EXPECT_EQ(PublishOne(e).status(), v1::DUPLICATE);
}

TEST_F(PublishTest, GracefulStopExitsZero) {
  EXPECT_EQ(broker_.Stop(), 0);
  EXPECT_NE(testing::ReadFile(broker_.log_path()).find("stopped cleanly"), std::string::npos);
}

}  // namespace
}  // namespace yilian

namespace yilian {
namespace {

// A publisher that sends raw bytes, to reach the broker with what the
// client library would never encode.
class RawPublisher {
 public:
  explicit RawPublisher(const std::string& endpoint) : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }
  void Send(const std::string& bytes) { socket_.send(zmq::buffer(bytes)); }
  void Send(const v1::Envelope& e) { Send(e.SerializeAsString()); }
  // The next message other than a heartbeat, within 10 s (empty if none).
  v1::Envelope Receive() {
    zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0}};
    v1::Envelope e;
    for (int i = 0; i < 100; ++i) {
      zmq::poll(items, 1, std::chrono::milliseconds(100));
      zmq::message_t m;
      if ((items[0].revents & ZMQ_POLLIN) && socket_.recv(m)) {
        e.ParseFromArray(m.data(), static_cast<int>(m.size()));
        if (!e.has_heartbeat()) return e;
      }
    }
    return v1::Envelope();
  }
  static v1::Envelope Hello() {
    v1::Envelope hello;
    hello.mutable_hello()->set_version(v1::PROTOCOL_V1);
    hello.mutable_hello()->set_role(v1::PUBLISHER);
    return hello;
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_;
};

TEST(PublishWireTest, InvalidUtf8TextIsRefusedWithTheCorrelationId) {
  testing::BrokerProcess broker;
  broker.Start();
  RawPublisher s(broker.endpoint());
  auto send = [&](const auto& e) { s.Send(e); };
  auto recv = [&]() { return s.Receive(); };
  v1::Envelope hello = RawPublisher::Hello();
  send(hello);
  ASSERT_TRUE(recv().has_welcome());

  // Publish{correlation_id: 77, event: {event_id: "\xff\xfe"}} encoded by hand:
  // proto3 refuses the invalid UTF-8 when decoding.
  std::string event = std::string("\x0a\x02\xff\xfe", 4);
  std::string publish = std::string("\x08\x4d", 2) + "\x12" + static_cast<char>(event.size()) + event;
  std::string envelope = "\x1a" + std::string(1, static_cast<char>(publish.size())) + publish;
  s.Send(envelope);
  v1::Envelope reply = recv();
  ASSERT_TRUE(reply.has_publish_ack()) << reply.DebugString();
  EXPECT_EQ(reply.publish_ack().correlation_id(), 77u);
  EXPECT_EQ(reply.publish_ack().status(), v1::REFUSED);
  EXPECT_EQ(reply.publish_ack().error(), v1::INVALID_EVENT);

  // Random bytes: an error, and the session still works afterwards.
  s.Send(std::string("\xde\xad\xbe\xef\x01\x02", 6));
  v1::Envelope err = recv();
  ASSERT_TRUE(err.has_error());
  EXPECT_EQ(err.error().code(), v1::BAD_REQUEST);
  send(hello);
  EXPECT_TRUE(recv().has_welcome());
  EXPECT_EQ(broker.QueryInt("SELECT COUNT(*) FROM events"), 0);
}

// The store keeps an event as its publisher encoded it, and a second
// encoding of the same event (fields in another order) is a duplicate, not a
// conflict.
TEST(PublishWireTest, EventIsStoredAsEncodedAndAnotherEncodingIsADuplicate) {
  testing::BrokerProcess broker;
  broker.Start();
  RawPublisher s(broker.endpoint());
  s.Send(RawPublisher::Hello());
  ASSERT_TRUE(s.Receive().has_welcome());

  sample::SampleOptions o;
  o.enterprises = 1;
  o.events_per_enterprise = 1;
  const v1::EnterpriseEvent event = sample::Generate(o).at(0);
  const std::string canonical = event.SerializeAsString();
  // The same event with event_id (field 1) last: the concatenation of two
  // encodings decodes as their merge.
  v1::EnterpriseEvent rest = event;
  rest.clear_event_id();
  v1::EnterpriseEvent id_only;
  id_only.set_event_id(event.event_id());
  const std::string reordered = rest.SerializeAsString() + id_only.SerializeAsString();
  ASSERT_NE(reordered, canonical);

  s.Send(client::EncodePublish(1, reordered));
  v1::Envelope first = s.Receive();
  ASSERT_TRUE(first.has_publish_ack()) << first.DebugString();
  EXPECT_EQ(first.publish_ack().correlation_id(), 1u);
  EXPECT_EQ(first.publish_ack().status(), v1::ACCEPTED) << first.publish_ack().message();

  s.Send(client::EncodePublish(2, canonical));
  v1::Envelope second = s.Receive();
  ASSERT_TRUE(second.has_publish_ack());
  EXPECT_EQ(second.publish_ack().correlation_id(), 2u);
  EXPECT_EQ(second.publish_ack().status(), v1::DUPLICATE) << second.publish_ack().message();
  EXPECT_EQ(second.publish_ack().sequence(), first.publish_ack().sequence());

  EXPECT_EQ(broker.QueryInt("SELECT COUNT(*) FROM events"), 1);
  std::string hex;
  for (unsigned char c : reordered) hex += "0123456789ABCDEF"[c >> 4], hex += "0123456789ABCDEF"[c & 15];
  EXPECT_EQ(broker.Query(broker.on_postgres() ? "SELECT upper(encode(payload, 'hex')) FROM events"
                                              : "SELECT hex(payload) FROM events"),
            hex);
}

// A burst of 160 publishes sent without waiting (right after the Hello), so
// that turns hold many of them: valid ones, invalid ones, undecodable ones
// and duplicates of an earlier one in the burst, in turn.
class Burst {
 public:
  enum Kind { kValid, kInvalid, kUndecodable, kDuplicate };
  static constexpr int kSize = 160;

  void Send(RawPublisher& s, const v1::Envelope& hello) {
    sample::SampleOptions o;
    o.enterprises = kSize / 4;
    o.events_per_enterprise = 1;
    const std::vector<v1::EnterpriseEvent> events = sample::Generate(o);
    ASSERT_EQ(events.size(), static_cast<std::size_t>(kSize / 4));
    s.Send(hello);
    for (std::uint64_t i = 0; i < kSize; ++i) {
      const std::uint64_t id = i + 1;
      const v1::EnterpriseEvent& e = events[i / 4];
      switch (static_cast<Kind>(i % 4)) {
        case kValid: s.Send(client::EncodePublish(id, e.SerializeAsString())); break;
        case kInvalid: {
          v1::EnterpriseEvent bad = e;
          bad.set_event_id(e.event_id() + "-bad");
          bad.set_uscc("91110000100000001X");  // wrong check character
          s.Send(client::EncodePublish(id, bad.SerializeAsString()));
          break;
        }
        case kUndecodable: s.Send(client::EncodePublish(id, std::string("\x0a\x02\xff\xfe", 4))); break;
        case kDuplicate:
          s.Send(client::EncodePublish(id, e.SerializeAsString()));
          duplicate_of_[id] = id - 3;
          break;
      }
      sent_[id] = static_cast<Kind>(i % 4);
    }
  }

  // Every publish has its own answer, as its kind needs.
  void Check(const std::map<std::uint64_t, v1::PublishAck>& acks) const {
    ASSERT_EQ(acks.size(), static_cast<std::size_t>(kSize));
    std::uint64_t last_seq = 0;
    for (const auto& [id, kind] : sent_) {
      const v1::PublishAck& a = acks.at(id);
      switch (kind) {
        case kValid:
          EXPECT_EQ(a.status(), v1::ACCEPTED) << id << ": " << a.message();
          EXPECT_GT(a.sequence(), last_seq) << id;
          last_seq = a.sequence();
          break;
        case kInvalid:
          EXPECT_EQ(a.error(), v1::INVALID_EVENT) << id;
          ASSERT_GE(a.errors_size(), 1) << id;
          EXPECT_EQ(a.errors(0).path(), "uscc") << id;
          EXPECT_NE(a.event_id().find("-bad"), std::string::npos) << id;
          break;
        case kUndecodable:
          EXPECT_EQ(a.error(), v1::INVALID_EVENT) << id;
          ASSERT_GE(a.errors_size(), 1) << id;
          EXPECT_EQ(a.errors(0).code(), "UNDECODABLE") << id;
          break;
        case kDuplicate:
          EXPECT_EQ(a.status(), v1::DUPLICATE) << id << ": " << a.message();
          EXPECT_EQ(a.sequence(), acks.at(duplicate_of_.at(id)).sequence()) << id;
          break;
      }
    }
  }

 private:
  std::map<std::uint64_t, Kind> sent_;
  std::map<std::uint64_t, std::uint64_t> duplicate_of_;
};

// The broker decodes and validates a burst ahead of handling, on its second
// thread: every publish still gets its own answer, one message each.
TEST(PublishWireTest, BurstDecodedAheadIsAnsweredPublishByPublish) {
  testing::BrokerProcess broker;
  broker.Start();
  RawPublisher s(broker.endpoint());
  Burst burst;
  burst.Send(s, RawPublisher::Hello());

  v1::Envelope welcome = s.Receive();
  ASSERT_TRUE(welcome.has_welcome());
  EXPECT_FALSE(welcome.welcome().batch_acks());
  std::map<std::uint64_t, v1::PublishAck> acks;
  for (int i = 0; i < Burst::kSize; ++i) {
    v1::Envelope reply = s.Receive();
    ASSERT_TRUE(reply.has_publish_ack()) << "reply " << i << ": " << reply.DebugString();
    acks[reply.publish_ack().correlation_id()] = reply.publish_ack();
  }
  burst.Check(acks);
  EXPECT_EQ(broker.QueryInt("SELECT COUNT(*) FROM events"), 40);

  // At least one turn held 4 or more messages, the predecoder's threshold:
  // the turn-size histogram has a turn above its 3 bucket.
  httplib::Client http("127.0.0.1", broker.http_port());
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res && res->status == 200);
  std::smatch m3, count;
  ASSERT_TRUE(std::regex_search(res->body, m3, std::regex("yilian_turn_messages_bucket\\{le=\"3\"\\} (\\d+)")))
      << res->body;
  ASSERT_TRUE(std::regex_search(res->body, count, std::regex("yilian_turn_messages_count (\\d+)")));
  EXPECT_GT(std::stoll(count[1]), std::stoll(m3[1])) << "no turn held 4 or more messages";
}

// A publisher that asks for batched acks (Hello.batch_acks) gets the same
// answers, each once, a turn's in one Acks message.
TEST(PublishWireTest, BatchedAcksCarryEveryAnswerOnce) {
  testing::BrokerProcess broker;
  broker.Start();
  RawPublisher s(broker.endpoint());
  v1::Envelope hello = RawPublisher::Hello();
  hello.mutable_hello()->set_batch_acks(true);
  Burst burst;
  burst.Send(s, hello);

  v1::Envelope welcome = s.Receive();
  ASSERT_TRUE(welcome.has_welcome());
  EXPECT_TRUE(welcome.welcome().batch_acks());
  std::map<std::uint64_t, v1::PublishAck> acks;
  int messages = 0, largest = 0;
  while (acks.size() < static_cast<std::size_t>(Burst::kSize)) {
    v1::Envelope reply = s.Receive();
    ASSERT_TRUE(reply.has_acks()) << "after " << acks.size() << " answers: " << reply.DebugString();
    ASSERT_GT(reply.acks().publish_acks_size(), 0);
    EXPECT_EQ(reply.acks().result_acks_size(), 0);
    ++messages;
    largest = std::max(largest, reply.acks().publish_acks_size());
    for (const auto& a : reply.acks().publish_acks())
      EXPECT_TRUE(acks.emplace(a.correlation_id(), a).second) << "answered twice: " << a.correlation_id();
  }
  burst.Check(acks);
  EXPECT_GT(largest, 1) << "every Acks message held a single answer";
  EXPECT_LT(messages, Burst::kSize);
  EXPECT_EQ(broker.QueryInt("SELECT COUNT(*) FROM events"), 40);
}

}  // namespace
}  // namespace yilian
