// Minimum necessary (PIPL), held to the documentation: a real broker, fully
// populated events of every type (every optional field set, a CHANGED event
// changing every changeable item), and one consumer per agency. Each agency
// must receive exactly the fields that the allow-list table of
// docs/agencies.md grants it: nothing more (a leak), nothing less (a plugin
// would refuse the event as incomplete). The table is read from the
// document, not from the broker's own lists, so the two cannot drift apart.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <set>

#include "client/consumer.h"
#include "client/publisher.h"
#include "testing/agencies_doc.h"
#include "testing/broker_fixture.h"
#include "testing/full_event.h"

namespace yilian {
namespace {

namespace pb = google::protobuf;
using testing::BrokerProcess;
using testing::PollUntil;

// The agencies of the table's columns and the agency id each is tested as.
const std::map<std::string, std::string> kColumnAgency = {{"tax", "tax"},
                                                          {"social_insurance", "social_insurance"},
                                                          {"housing_fund", "housing_fund"},
                                                          {"bank:*", "bank:ICBC"}};

// Every leaf field path of a message type ("enterprise.legal_representative.phone");
// a Timestamp is a leaf.
void Leaves(const pb::Descriptor* type, const std::string& prefix, std::vector<std::string>* out) {
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* f = type->field(i);
    std::string path = prefix + f->name();
    if (f->message_type() != nullptr && f->message_type()->full_name() != "google.protobuf.Timestamp") {
      Leaves(f->message_type(), path + ".", out);
    } else {
      out->push_back(path);
    }
  }
}

bool Covers(const std::string& path, const std::string& leaf) { return leaf == path || leaf.rfind(path + ".", 0) == 0; }

bool CoveredByAny(const std::vector<std::string>& paths, const std::string& leaf) {
  for (const auto& p : paths)
    if (Covers(p, leaf)) return true;
  return false;
}

// The leaf paths set in `m` (changes.* collected per element elsewhere).
void SetLeaves(const pb::Message& m, const std::string& prefix, std::set<std::string>* out) {
  std::vector<const pb::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    std::string path = prefix + f->name();
    if (f->is_repeated()) {
      for (int i = 0; i < m.GetReflection()->FieldSize(m, f); ++i)
        SetLeaves(m.GetReflection()->GetRepeatedMessage(m, f, i), path + ".", out);
    } else if (f->message_type() != nullptr && f->message_type()->full_name() != "google.protobuf.Timestamp") {
      SetLeaves(m.GetReflection()->GetMessage(m, f), path + ".", out);
    } else {
      out->insert(path);
    }
  }
}

// Publishes `events` and waits for every confirm, each expected ACCEPTED;
// false if not all were confirmed within 20 s.
bool PublishAccepted(const BrokerProcess& broker, zmq::context_t& context,
                     const std::vector<v1::EnterpriseEvent>& events) {
  client::ClientOptions options;
  options.endpoint = broker.endpoint();
  client::Publisher publisher(context, options);
  for (const auto& e : events) publisher.Publish(e);
  std::size_t confirmed = 0;
  return PollUntil(
      [&] {
        publisher.Poll(20, [&](std::uint64_t, const v1::PublishAck& a) {
          EXPECT_EQ(a.status(), v1::ACCEPTED) << a.message();
          ++confirmed;
        });
        return confirmed == events.size();
      },
      20000);
}

class MinimumNecessaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = testing::ReadAllowListTable(testing::AgenciesDocPath());
    ASSERT_TRUE(table_.error.empty()) << table_.error;
    Leaves(v1::EnterpriseEvent::descriptor(), "", &leaves_);
  }

  // The leaves (outside changes) the document allows to a column.
  std::set<std::string> Allowed(const std::string& column) const {
    std::set<std::string> out;
    for (const auto& leaf : leaves_)
      if (leaf.rfind("changes.", 0) != 0 && CoveredByAny(table_.allowed.at(column), leaf)) out.insert(leaf);
    return out;
  }

  // Whether the column sees any / every leaf of enterprise.<field>.
  bool SeesPart(const std::string& column, const std::string& field) const {
    for (const auto& leaf : leaves_)
      if (Covers("enterprise." + field, leaf) && CoveredByAny(table_.allowed.at(column), leaf)) return true;
    return false;
  }
  bool SeesAll(const std::string& column, const std::string& field) const {
    bool any = false;
    for (const auto& leaf : leaves_) {
      if (!Covers("enterprise." + field, leaf)) continue;
      any = true;
      if (!CoveredByAny(table_.allowed.at(column), leaf)) return false;
    }
    return any;
  }

  testing::AllowListTable table_;
  std::vector<std::string> leaves_;
};

class MinimumNecessaryBrokerTest : public MinimumNecessaryTest, public ::testing::WithParamInterface<bool> {};

// The table itself: every field of the event is in exactly one row, every
// path of the table is a field, and every agency of the broker has a column.
TEST_F(MinimumNecessaryTest, TheTableNamesEveryFieldOfTheEventOnce) {
  std::map<std::string, int> rows_covering;
  for (const auto& row : table_.rows) {
    for (const auto& path : row) {
      bool real = false;
      for (const auto& leaf : leaves_) real |= Covers(path, leaf);
      EXPECT_TRUE(real) << "the table names '" << path << "', which is not a field of EnterpriseEvent";
    }
    for (const auto& leaf : leaves_)
      if (CoveredByAny(row, leaf)) ++rows_covering[leaf];
  }
  for (const auto& leaf : leaves_) EXPECT_EQ(rows_covering[leaf], 1) << leaf << " should be in exactly one row";
  for (const auto& [column, agency] : kColumnAgency)
    EXPECT_TRUE(table_.allowed.count(column)) << "no column for " << column;
  EXPECT_EQ(table_.allowed.size(), kColumnAgency.size());
}

// Events of every type through a real broker (with and without the data
// key, which encrypts ID and phone numbers at rest) to one consumer per
// agency; each delivered event is compared with the document, field by
// field, and a change's values only where the agency sees the whole field.
TEST_P(MinimumNecessaryBrokerTest, EachAgencyReceivesExactlyWhatTheDocumentAllows) {
  const bool data_key = GetParam();
  std::string agencies = "agencies:\n";
  for (const auto& [column, agency] : kColumnAgency)
    agencies += "  - id: \"" + column + "\"\n    events: [ESTABLISHED, CHANGED, FILED, DEREGISTERED]\n";
  BrokerProcess broker(agencies);
  if (data_key) {
    testing::WriteFile(broker.dir() + "/data.key", std::string(64, 'd') + "\n");
    chmod((broker.dir() + "/data.key").c_str(), 0600);
    testing::WriteFile(broker.config_path(), testing::ReadFile(broker.config_path()) +
                                                 "security:\n  data_key_file: " + broker.dir() + "/data.key\n");
  }
  broker.Start();
  zmq::context_t context(1);

  std::vector<v1::EnterpriseEvent> events = testing::FullEvents(data_key ? "mn-key" : "mn-plain");
  ASSERT_TRUE(PublishAccepted(broker, context, events));

  std::map<std::string, const v1::EnterpriseEvent*> published;
  for (const auto& e : events) published[e.event_id()] = &e;
  for (const auto& [column, agency] : kColumnAgency) {
    client::ClientOptions options;
    options.endpoint = broker.endpoint();
    options.agency = agency;
    options.name = "minimum-necessary-" + agency;
    client::Consumer consumer(context, options);
    std::vector<v1::Deliver> received;
    ASSERT_TRUE(PollUntil(
        [&] {
          if (auto d = consumer.Receive(20)) {
            received.push_back(*d);
            v1::Result r;
            r.set_sequence(d->sequence());
            r.set_event_id(d->event_id());
            r.set_agency(agency);
            r.set_attempt(d->attempt());
            r.set_outcome(v1::OUTCOME_PROCESSED);
            r.set_reference("REF");
            consumer.Answer(r);
          }
          return received.size() == events.size();
        },
        20000))
        << agency << " received " << received.size() << " of " << events.size();

    const std::set<std::string> allowed = Allowed(column);
    for (const v1::Deliver& d : received) {
      const v1::EnterpriseEvent& full = *published.at(d.event_id());
      SCOPED_TRACE(agency + " " + d.event_id());
      // Outside `changes`: exactly the allowed leaves that were published.
      std::set<std::string> sent, got;
      v1::EnterpriseEvent full_wo_changes = full, got_wo_changes = d.event();
      full_wo_changes.clear_changes();
      got_wo_changes.clear_changes();
      SetLeaves(full_wo_changes, "", &sent);
      SetLeaves(got_wo_changes, "", &got);
      for (const auto& leaf : got) EXPECT_TRUE(allowed.count(leaf)) << "received " << leaf << ", not in the table";
      for (const auto& leaf : sent) {
        if (allowed.count(leaf)) {
          EXPECT_TRUE(got.count(leaf)) << "did not receive " << leaf << ", in the table";
        }
      }
      // What was received is what was published (decrypted), not a placeholder.
      const v1::Person& lr = d.event().enterprise().legal_representative();
      if (!lr.phone().empty()) {
        EXPECT_EQ(lr.phone(), full.enterprise().legal_representative().phone());
      }
      if (!lr.id_number().empty()) {
        EXPECT_EQ(lr.id_number(), full.enterprise().legal_representative().id_number());
      }

      // `changes`: an item whose field the agency sees at least in part,
      // in order; its values only when the agency sees all of the field.
      std::vector<const v1::FieldChange*> expected;
      for (const auto& c : full.changes())
        if (SeesPart(column, c.field())) expected.push_back(&c);
      ASSERT_EQ(d.event().changes_size(), static_cast<int>(expected.size()));
      for (int i = 0; i < d.event().changes_size(); ++i) {
        const v1::FieldChange& c = d.event().changes(i);
        EXPECT_EQ(c.field(), expected[i]->field());
        bool values = SeesAll(column, c.field());
        EXPECT_EQ(c.old_value(), values ? expected[i]->old_value() : "") << c.field();
        EXPECT_EQ(c.new_value(), values ? expected[i]->new_value() : "") << c.field();
      }
    }
  }
}

// With a data key, the free text of every change (any item: a shareholders
// change lists people) and the deregistration reason are encrypted at rest,
// as the person fields are; delivered, they are the published text.
TEST_F(MinimumNecessaryTest, FreeTextOfChangesIsEncryptedAtRest) {
  BrokerProcess broker;
  testing::WriteFile(broker.dir() + "/data.key", std::string(64, 'e') + "\n");
  chmod((broker.dir() + "/data.key").c_str(), 0600);
  testing::WriteFile(broker.config_path(), testing::ReadFile(broker.config_path()) +
                                               "security:\n  data_key_file: " + broker.dir() + "/data.key\n");
  broker.Start();
  zmq::context_t context(1);
  std::vector<v1::EnterpriseEvent> events = testing::FullEvents("at-rest");
  for (auto& e : events) {
    if (e.type() != v1::CHANGED) continue;
    for (auto& c : *e.mutable_changes()) {
      c.set_old_value(c.old_value() + " 股东甲 11010519491231002X 13812345678");
      c.set_new_value(c.new_value() + " 股东乙 440524188001010014 13999990000");
    }
  }
  events.back().mutable_deregistration()->set_reason("股东会决议解散，联系 13700001111");
  ASSERT_TRUE(PublishAccepted(broker, context, events));
  ASSERT_EQ(broker.Stop(), 0);
  std::string raw = broker.StoreBytesAtRest();
  ASSERT_GT(raw.size(), 10000u);
  for (const std::string secret : {"11010519491231002X", "13812345678", "440524188001010014", "13999990000",
                                   "13700001111", "old-shareholders", "new-business_scope", "股东会决议解散"})
    EXPECT_EQ(raw.find(secret), std::string::npos) << secret << " is in the store in clear";
}

INSTANTIATE_TEST_SUITE_P(DataKey, MinimumNecessaryBrokerTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "WithDataKey" : "WithoutDataKey"; });

}  // namespace
}  // namespace yilian
