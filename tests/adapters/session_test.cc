// The adapter SDK's session against a real broker: events the agency
// answers later (ACCEPTED, then the final result by Check or by report),
// redeliveries deduped by event id (while being submitted, and from the
// journal), and answers that survive a restart of the adapter while the
// broker is down.
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <mutex>

#include "cli/sample.h"
#include "client/publisher.h"
#include "sdk/agency_session.h"
#include "testing/broker_fixture.h"

namespace yilian::adapter {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;

// An agency under the test's control; thread-safe (Submit and Check run on
// the session's worker).
class FakeAgency : public AgencyHandler {
 public:
  AgencyAnswer Submit(const DeliveryInfo& d) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++submits_[d.event_id.str()];
    cv_.wait(lock, [&] { return !blocked_; });
    return submit_answer_;
  }
  AgencyAnswer Check(const DeliveryInfo& d) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++checks_;
    auto it = answers_.find(d.event_id.str());
    return it == answers_.end() ? AgencyAnswer::Pending() : it->second;
  }
  std::vector<std::pair<EventId, AgencyAnswer>> TakeReports() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(reports_, {});
  }

  void set_submit_answer(AgencyAnswer a) {
    std::lock_guard<std::mutex> lock(mu_);
    submit_answer_ = std::move(a);
  }
  void Answer(const std::string& id, AgencyAnswer a) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_[id] = std::move(a);
  }
  void Report(const std::string& id, AgencyAnswer a) {
    std::lock_guard<std::mutex> lock(mu_);
    reports_.emplace_back(EventId(id), std::move(a));
  }
  void Block(bool blocked) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocked_ = blocked;
    }
    cv_.notify_all();
  }
  int submits(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return submits_[id];
  }
  int checks() {
    std::lock_guard<std::mutex> lock(mu_);
    return checks_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool blocked_ = false;
  AgencyAnswer submit_answer_ = AgencyAnswer::Pending();
  std::map<std::string, AgencyAnswer> answers_;
  std::vector<std::pair<EventId, AgencyAnswer>> reports_;
  std::map<std::string, int> submits_;
  int checks_ = 0;
};

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("yilian-session-test"); }
  void TearDown() override {
    agency_.Block(false);
    session_.reset();
    broker_.reset();
    testing::RemoveTree(dir_);
  }

  void StartBroker(const std::string& yaml = "") {
    broker_ = std::make_unique<BrokerProcess>(
        "agencies:\n  - id: tax\n    events: [ESTABLISHED, CHANGED, DEREGISTERED]\n" + yaml);
    broker_->Start();
  }

  std::vector<v1::EnterpriseEvent> Publish(int enterprises) {
    sample::SampleOptions o;
    o.enterprises = enterprises;
    o.events_per_enterprise = 1;
    o.banks = {};
    auto events = sample::Generate(o);
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    client::Publisher publisher(context_, options);
    for (const auto& e : events) publisher.Publish(e);
    int confirmed = 0;
    EXPECT_TRUE(PollUntil(
        [&] {
          publisher.Poll(20, [&](std::uint64_t, const v1::PublishAck&) { ++confirmed; });
          return confirmed == enterprises;
        },
        20000));
    return events;
  }

  void OpenSession(int check_interval_ms = 50) {
    SessionOptions o;
    o.client.endpoint = broker_->endpoint();
    o.client.agency = "tax";
    o.client.credit = 8;
    o.client.name = "session-test";
    o.journal_path = dir_ + "/results.db";
    o.check_interval_ms = check_interval_ms;
    o.check_max_interval_ms = check_interval_ms * 4;
    o.result_timeout_ms = 500;
    auto s = AgencySession::Open(context_, o, &agency_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    session_ = std::move(s.value());
  }

  // Turns the session until `done` or the deadline.
  bool TurnUntil(const std::function<bool()>& done, int timeout_ms = 15000) {
    return PollUntil(
        [&] {
          Status s = session_->Turn(20);
          EXPECT_TRUE(s.ok()) << s.ToString();
          return done();
        },
        timeout_ms);
  }

  std::string State(const std::string& event_id) {
    return broker_->Query("SELECT d.state FROM deliveries d JOIN events e ON e.seq = d.seq WHERE e.event_id = '" +
                          event_id + "' AND d.agency = 'tax'");
  }
  std::string Reference(const std::string& event_id) {
    return broker_->Query("SELECT d.reference FROM deliveries d JOIN events e ON e.seq = d.seq WHERE e.event_id = '" +
                          event_id + "' AND d.agency = 'tax'");
  }

  zmq::context_t context_{1};
  std::string dir_;
  FakeAgency agency_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<AgencySession> session_;
};

TEST_F(SessionTest, AcceptedFirstThenTheCheckedAnswer) {
  StartBroker();
  auto events = Publish(2);
  OpenSession();
  const std::string a = events[0].event_id(), b = events[1].event_id();
  ASSERT_TRUE(TurnUntil([&] { return State(a) == "2" && State(b) == "2"; })) << State(a) << State(b);  // ACCEPTED
  EXPECT_EQ(session_->journal().unfinished().at(a).state, EntryState::kAtAgency);
  agency_.Answer(a, AgencyAnswer::Processed("QR35020620261127000001"));
  agency_.Answer(b, AgencyAnswer::Rejected("ABNORMAL_TAXPAYER_LR: 法定代表人名下存在非正常户纳税人"));
  ASSERT_TRUE(TurnUntil([&] { return State(a) == "3" && State(b) == "4"; }));
  EXPECT_EQ(Reference(a), "QR35020620261127000001");
  EXPECT_EQ(broker_->Query("SELECT reason FROM deliveries WHERE state = 4"),
            "ABNORMAL_TAXPAYER_LR: 法定代表人名下存在非正常户纳税人");
  ASSERT_TRUE(TurnUntil([&] { return session_->unacknowledged() == 0; }));
  EXPECT_TRUE(session_->journal().unfinished().empty());
  EXPECT_EQ(agency_.submits(a), 1);
  EXPECT_GE(agency_.checks(), 2);
}

TEST_F(SessionTest, ReportedAnswerNeedsNoCheck) {
  StartBroker();
  auto events = Publish(1);
  OpenSession(/*check_interval_ms=*/60000);
  const std::string a = events[0].event_id();
  ASSERT_TRUE(TurnUntil([&] { return State(a) == "2"; }));
  agency_.Report(a, AgencyAnswer::Processed("LATE-REF"));
  agency_.Report("unknown-event", AgencyAnswer::Processed("ignored"));
  ASSERT_TRUE(TurnUntil([&] { return State(a) == "3"; }));
  EXPECT_EQ(Reference(a), "LATE-REF");
  EXPECT_EQ(agency_.checks(), 0);
}

TEST_F(SessionTest, RedeliveryWhileBeingSubmittedIsNotSubmittedAgain) {
  StartBroker("delivery:\n  ack_timeout_ms: 300\nretry:\n  initial_backoff_ms: 0\n");
  auto events = Publish(1);
  const std::string a = events[0].event_id();
  agency_.Block(true);
  agency_.set_submit_answer(AgencyAnswer::Processed("ONCE"));
  OpenSession();
  // The agency is slow: the broker's ack timeout hands the event over again.
  ASSERT_TRUE(TurnUntil([&] { return session_->counters().deliveries >= 2; }));
  EXPECT_GE(session_->counters().deduped, 1u);
  agency_.Block(false);
  ASSERT_TRUE(TurnUntil([&] { return State(a) == "3"; }));
  EXPECT_EQ(Reference(a), "ONCE");
  EXPECT_EQ(agency_.submits(a), 1);
}

TEST_F(SessionTest, JournaledEventsAreAnsweredFromTheJournal) {
  StartBroker();
  auto events = Publish(2);
  const std::string answered = events[0].event_id(), at_agency = events[1].event_id();
  {
    // What an earlier run of this adapter left behind.
    ManualClock clock;
    auto journal = Journal::Open(dir_ + "/results.db", AgencyId("tax"), &clock);
    ASSERT_TRUE(journal.ok());
    JournalEntry e;
    e.event_id = EventId(answered);
    e.agency = AgencyId("tax");
    e.uscc = Uscc(events[0].uscc());
    e.state = EntryState::kAnswerReady;
    e.answer = AgencyAnswer::Processed("FROM-JOURNAL");
    ASSERT_TRUE(journal.value()->Record(e).ok());
    e.event_id = EventId(at_agency);
    e.uscc = Uscc(events[1].uscc());
    e.state = EntryState::kAtAgency;
    ASSERT_TRUE(journal.value()->Record(e).ok());
  }
  agency_.Answer(at_agency, AgencyAnswer::Processed("CHECKED"));
  OpenSession();
  ASSERT_TRUE(TurnUntil([&] { return State(answered) == "3" && State(at_agency) == "3"; }));
  EXPECT_EQ(Reference(answered), "FROM-JOURNAL");
  EXPECT_EQ(Reference(at_agency), "CHECKED");
  EXPECT_EQ(agency_.submits(answered), 0);
  EXPECT_EQ(agency_.submits(at_agency), 0);
}

TEST_F(SessionTest, AnswerSurvivesAnAdapterRestartWhileTheBrokerIsDown) {
  StartBroker();
  auto events = Publish(1);
  const std::string a = events[0].event_id();
  OpenSession();
  ASSERT_TRUE(TurnUntil([&] { return State(a) == "2"; }));
  ASSERT_TRUE(TurnUntil([&] { return session_->unacknowledged() == 0; }));
  broker_->Kill(SIGKILL);
  agency_.Answer(a, AgencyAnswer::Processed("AFTER-RESTART"));
  ASSERT_TRUE(TurnUntil([&] {
    auto it = session_->journal().unfinished().find(a);
    return it != session_->journal().unfinished().end() && it->second.state == EntryState::kAnswerReady;
  }));
  session_.reset();  // the adapter goes away with the answer unreported
  broker_->Start();
  OpenSession();
  ASSERT_TRUE(TurnUntil([&] { return State(a) == "3"; }, 20000));
  EXPECT_EQ(Reference(a), "AFTER-RESTART");
  EXPECT_EQ(agency_.submits(a), 1);
}

}  // namespace
}  // namespace yilian::adapter
