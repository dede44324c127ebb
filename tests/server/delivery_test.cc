// Delivery against a real yilian-broker process: fan-out to agencies,
// per-enterprise order with ACCEPTED results, retry with backoff and dead
// letters, ack timeout, a killed adapter's deliveries going to another,
// unknown agency, credit, and queues surviving a restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <set>

#include "cli/sample.h"
#include "client/consumer.h"
#include "client/publisher.h"
#include "testing/broker_fixture.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

std::vector<v1::EnterpriseEvent> Sample(int enterprises, int per, std::uint64_t seed = 1) {
  sample::SampleOptions o;
  o.seed = seed;
  o.enterprises = enterprises;
  o.events_per_enterprise = per;
  o.deregister_fraction = 0;
  o.banks = {"ICBC"};
  return sample::Generate(o);
}

class DeliveryTest : public ::testing::Test {
 protected:
  void StartBroker(const std::string& yaml = "") {
    broker_ = std::make_unique<BrokerProcess>(yaml);
    broker_->Start();
  }

  void PublishAll(const std::vector<v1::EnterpriseEvent>& events) {
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    client::Publisher publisher(context_, options);
    for (const auto& e : events) publisher.Publish(e);
    int confirmed = 0;
    ASSERT_TRUE(PollUntil(
        [&] {
          publisher.Poll(50, [&](std::uint64_t, const v1::PublishAck& a) {
            EXPECT_NE(a.status(), v1::REFUSED) << a.message();
            ++confirmed;
          });
          return confirmed == static_cast<int>(events.size());
        },
        20000));
  }

  std::unique_ptr<client::Consumer> MakeConsumer(const std::string& agency, std::uint32_t credit = 16) {
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    options.agency = agency;
    options.credit = credit;
    options.name = "test-" + agency;
    return std::make_unique<client::Consumer>(context_, options);
  }

  // Answers PROCESSED to each delivery until `n` arrived or 15 s passed;
  // their event ids in arrival order.
  std::vector<std::string> ProcessN(client::Consumer& c, std::size_t n) {
    std::vector<std::string> got;
    PollUntil(
        [&] {
          if (auto d = c.Receive(20)) {
            got.push_back(d->event_id());
            c.Answer(Answer(*d, v1::OUTCOME_PROCESSED));
          }
          return got.size() >= n;
        },
        15000);
    return got;
  }

  // Receives until `n` deliveries arrived or timeout.
  std::vector<v1::Deliver> ReceiveN(client::Consumer& c, std::size_t n, int timeout_ms = 10000) {
    std::vector<v1::Deliver> got;
    PollUntil(
        [&] {
          if (auto d = c.Receive(20)) got.push_back(*d);
          return got.size() >= n;
        },
        timeout_ms);
    return got;
  }

  // Answers echo the sequence (the broker's fast path) unless
  // `echo_sequence` is false (looked up by event id).
  static v1::Result Answer(const v1::Deliver& d, v1::Outcome outcome, bool echo_sequence = true) {
    v1::Result r;
    if (echo_sequence) r.set_sequence(d.sequence());
    r.set_event_id(d.event_id());
    r.set_agency(d.agency());
    r.set_outcome(outcome);
    r.set_attempt(d.attempt());
    if (outcome == v1::OUTCOME_PROCESSED) r.set_reference("REF-" + d.event_id());
    if (outcome == v1::OUTCOME_REJECTED || outcome == v1::OUTCOME_RETRY) r.set_reason("test says so");
    return r;
  }

  std::string DeliveryState(const std::string& event_id, const std::string& agency) {
    return broker_->Query("SELECT d.state FROM deliveries d JOIN events e ON e.seq = d.seq WHERE e.event_id = '" +
                          event_id + "' AND d.agency = '" + agency + "'");
  }

  zmq::context_t context_{1};
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(DeliveryTest, EveryRequiredAgencyReceivesAndResultsAreStored) {
  StartBroker();
  auto events = Sample(3, 1);
  PublishAll(events);
  for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"}) {
    auto consumer = MakeConsumer(agency);
    auto got = ReceiveN(*consumer, 3);
    ASSERT_EQ(got.size(), 3u) << agency;
    for (const auto& d : got) {
      EXPECT_EQ(d.agency(), agency);
      EXPECT_EQ(d.attempt(), 1u);
      EXPECT_EQ(d.event().uscc(), d.uscc());
      EXPECT_EQ(d.event().event_id(), d.event_id());
      // Both ways of naming the delivery: with and without the sequence.
      consumer->Answer(Answer(d, v1::OUTCOME_PROCESSED, d.sequence() % 2 == 0));
    }
    ASSERT_TRUE(PollUntil([&] { return consumer->Receive(20), consumer->unacknowledged() == 0; }, 10000));
  }
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state = 3"), 12);
  EXPECT_EQ(broker_->Query("SELECT reference FROM deliveries d JOIN events e ON e.seq = d.seq WHERE e.event_id = '" +
                           events[0].event_id() + "' AND agency = 'tax'"),
            "REF-" + events[0].event_id());
}

TEST_F(DeliveryTest, NextEventOfAnEnterpriseWaitsForTheSettledResultEvenAfterAccepted) {
  StartBroker();
  auto one = Sample(1, 2, 7);    // enterprise A: revisions 1 and 2
  auto other = Sample(1, 1, 8);  // enterprise B
  PublishAll({one[0], one[1], other[0]});
  auto tax = MakeConsumer("tax");
  auto first = ReceiveN(*tax, 2);
  ASSERT_EQ(first.size(), 2u);
  std::set<std::string> ids = {first[0].event_id(), first[1].event_id()};
  EXPECT_TRUE(ids.count(one[0].event_id()));
  EXPECT_TRUE(ids.count(other[0].event_id())) << "another enterprise must not wait";
  EXPECT_FALSE(ids.count(one[1].event_id())) << "second event of A handed over before the first settled";

  const v1::Deliver& a1 = first[0].event_id() == one[0].event_id() ? first[0] : first[1];
  tax->Answer(Answer(a1, v1::OUTCOME_ACCEPTED));
  ASSERT_TRUE(PollUntil([&] { return tax->Receive(20), tax->unacknowledged() == 0; }, 10000));
  EXPECT_EQ(DeliveryState(one[0].event_id(), "tax"), "2");  // ACCEPTED
  // Accepted is not settled: A's next event still waits.
  EXPECT_TRUE(ReceiveN(*tax, 1, 600).empty());

  // The final result arrives later, over another session of the agency.
  auto tax2 = MakeConsumer("tax");
  tax2->Answer(Answer(a1, v1::OUTCOME_PROCESSED, /*echo_sequence=*/false));
  std::vector<v1::Deliver> next;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (auto* c : {tax.get(), tax2.get()})
          if (auto d = c->Receive(10)) next.push_back(*d);
        return !next.empty();
      },
      10000));
  EXPECT_EQ(next[0].event_id(), one[1].event_id());
  EXPECT_EQ(DeliveryState(one[0].event_id(), "tax"), "3");  // PROCESSED
}

TEST_F(DeliveryTest, EventsHandedOverAsTheyAreAcceptedKeepOrderAndSurviveARestart) {
  // The adapter is connected before the publishes: an enterprise with
  // nothing unsettled gets its event handed over in the turn that stores
  // it; the enterprise's next event still waits for the first to settle.
  StartBroker();
  auto tax = MakeConsumer("tax");
  ASSERT_TRUE(PollUntil([&] { return tax->Receive(10), tax->connection().connected(); }, 10000));
  auto one = Sample(1, 2, 7);    // enterprise A: revisions 1 and 2
  auto other = Sample(1, 1, 8);  // enterprise B
  PublishAll({one[0], one[1], other[0]});
  auto first = ReceiveN(*tax, 2);
  ASSERT_EQ(first.size(), 2u);
  std::set<std::string> ids = {first[0].event_id(), first[1].event_id()};
  EXPECT_TRUE(ids.count(one[0].event_id()));
  EXPECT_TRUE(ids.count(other[0].event_id()));
  EXPECT_TRUE(ReceiveN(*tax, 1, 600).empty()) << "A's second event handed over before its first settled";
  for (const auto& d : first) EXPECT_EQ(d.attempt(), 1u);
  // Stored as handed over: one attempt, DELIVERED.
  EXPECT_EQ(DeliveryState(one[0].event_id(), "tax"), "1");
  EXPECT_EQ(broker_->QueryInt("SELECT d.attempts FROM deliveries d JOIN events e ON e.seq = d.seq WHERE "
                              "e.event_id = '" +
                              one[0].event_id() + "' AND d.agency = 'tax'"),
            1);

  // Killed before any answer: after the restart both come again as
  // redeliveries, and A's second event still waits for its first.
  broker_->Kill(SIGKILL);
  tax.reset();
  broker_->Start();
  tax = MakeConsumer("tax");
  auto again = ReceiveN(*tax, 2);
  ASSERT_EQ(again.size(), 2u);
  for (const auto& d : again) {
    EXPECT_NE(d.event_id(), one[1].event_id());
    EXPECT_EQ(d.attempt(), 2u) << d.event_id();
  }
  const v1::Deliver& a1 = again[0].event_id() == one[0].event_id() ? again[0] : again[1];
  tax->Answer(Answer(a1, v1::OUTCOME_PROCESSED));
  auto next = ReceiveN(*tax, 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].event_id(), one[1].event_id());
  EXPECT_EQ(next[0].attempt(), 1u);
}

TEST_F(DeliveryTest, RetryBacksOffExponentiallyThenDeadLettersAndTheQueueMovesOn) {
  StartBroker(
      "retry:\n  initial_backoff_ms: 150\n  multiplier: 2.0\n  jitter: 0.0\n  max_attempts: 3\n"
      "agencies:\n  - id: tax\n    events: [ESTABLISHED, CHANGED]\n  - id: bank:*\n    events: [ESTABLISHED]\n");
  auto events = Sample(1, 2);
  PublishAll(events);
  auto tax = MakeConsumer("tax");
  std::vector<std::pair<std::uint32_t, std::chrono::steady_clock::time_point>> attempts;
  ASSERT_TRUE(PollUntil(
      [&] {
        if (auto d = tax->Receive(20)) {
          if (d->event_id() == events[1].event_id()) return true;  // queue moved on
          attempts.emplace_back(d->attempt(), std::chrono::steady_clock::now());
          tax->Answer(Answer(*d, v1::OUTCOME_RETRY));
        }
        return false;
      },
      15000));
  ASSERT_EQ(attempts.size(), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(attempts[i].first, i + 1);
  auto gap = [&](int i) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(attempts[i + 1].second - attempts[i].second).count();
  };
  // The broker schedules on a clock of whole milliseconds (a turn's time
  // truncated), so a due time can fall up to 1 ms before the exact delay.
  constexpr long kClockResolutionMs = 1;
  EXPECT_GE(gap(0), 150 - kClockResolutionMs);  // first backoff
  EXPECT_GE(gap(1), 300 - kClockResolutionMs);  // doubled
  EXPECT_EQ(DeliveryState(events[0].event_id(), "tax"), "5");  // DEAD
  EXPECT_EQ(broker_->Query("SELECT reason FROM deliveries WHERE state = 5"), "test says so");
  EXPECT_NE(testing::ReadFile(broker_->log_path()).find("dead letter"), std::string::npos);
}

TEST_F(DeliveryTest, UnansweredDeliveryIsRedeliveredAfterTheAckTimeout) {
  StartBroker("delivery:\n  ack_timeout_ms: 300\nretry:\n  initial_backoff_ms: 0\n");
  auto events = Sample(1, 1);
  PublishAll(events);
  auto tax = MakeConsumer("tax");
  auto first = ReceiveN(*tax, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempt(), 1u);
  auto second = ReceiveN(*tax, 1, 10000);  // no answer: comes back
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].event_id(), first[0].event_id());
  EXPECT_EQ(second[0].attempt(), 2u);
}

TEST_F(DeliveryTest, KilledAdapterProcessDeliveriesGoToAnotherAdapter) {
  StartBroker();
  auto events = Sample(4, 1);
  PublishAll(events);
  std::string a_log = broker_->dir() + "/a.log", b_log = broker_->dir() + "/b.log";
  auto a = testing::Process::Start({testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency", "tax",
                                    "--result", "none", "--log", a_log});
  ASSERT_TRUE(PollUntil([&] { return testing::ReadLines(a_log).size() == 4; }, 10000));
  a->Signal(SIGKILL);
  a.reset();
  auto b = testing::Process::Start(
      {testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency", "tax", "--log", b_log});
  ASSERT_TRUE(PollUntil(
      [&] {
        return broker_->QueryInt(
                   "SELECT COUNT(*) FROM deliveries WHERE agency = 'tax' AND "
                   "state = 3") == 4;
      },
      15000));
  auto lines = testing::ReadLines(b_log);
  ASSERT_EQ(lines.size(), 4u);
  for (const auto& line : lines) EXPECT_NE(line.find("\"attempt\":2"), std::string::npos) << line;
}

TEST_F(DeliveryTest, AnEventThatKillsEveryAdapterEndsAsADeadLetterAndTheQueueMovesOn) {
  StartBroker(
      "heartbeat:\n  interval_ms: 100\n  liveness: 3\nretry:\n  max_attempts: 3\n"
      "agencies:\n  - id: tax\n    events: [ESTABLISHED, CHANGED]\n  - id: bank:*\n    events: [ESTABLISHED]\n");
  auto events = Sample(1, 2);
  PublishAll(events);
  // Each adapter takes the first event and dies with it (SIGKILL: no Bye,
  // the broker notices when its heartbeats stop).
  for (int attempt = 1; attempt <= 3; ++attempt) {
    std::string log = broker_->dir() + "/crash" + std::to_string(attempt) + ".log";
    auto adapter = testing::Process::Start({testing::CliBinary(), "consume", "--broker", broker_->endpoint(),
                                            "--agency", "tax", "--result", "none", "--log", log});
    ASSERT_TRUE(PollUntil([&] { return testing::ReadLines(log).size() == 1; }, 10000)) << "attempt " << attempt;
    auto lines = testing::ReadLines(log);
    EXPECT_NE(lines[0].find(events[0].event_id()), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("\"attempt\":" + std::to_string(attempt)), std::string::npos) << lines[0];
    adapter->Signal(SIGKILL);
  }
  ASSERT_TRUE(PollUntil([&] { return DeliveryState(events[0].event_id(), "tax") == "5"; }, 10000));  // DEAD
  EXPECT_EQ(broker_->Query("SELECT reason FROM deliveries WHERE state = 5"), "adapter connection lost");
  // The next adapter gets the enterprise's next event, not the dead one.
  std::string last_log = broker_->dir() + "/healthy.log";
  auto healthy = testing::Process::Start(
      {testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency", "tax", "--log", last_log});
  ASSERT_TRUE(PollUntil([&] { return DeliveryState(events[1].event_id(), "tax") == "3"; }, 10000));  // PROCESSED
  auto lines = testing::ReadLines(last_log);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(events[1].event_id()), std::string::npos) << lines[0];
}

TEST_F(DeliveryTest, UnknownAgencyIsRefusedAtHello) {
  StartBroker();
  auto customs = MakeConsumer("customs");
  ASSERT_TRUE(PollUntil(
      [&] {
        customs->Receive(20);
        return customs->connection().last_error().has_value();
      },
      10000));
  EXPECT_EQ(customs->connection().last_error()->code(), v1::UNKNOWN_AGENCY);
  EXPECT_FALSE(customs->connection().connected());
}

TEST_F(DeliveryTest, CreditBoundsUnansweredDeliveriesAndTwoAdaptersShareTheLoad) {
  StartBroker();
  auto events = Sample(10, 1);
  PublishAll(events);
  auto first = MakeConsumer("housing_fund", 3);
  auto got = ReceiveN(*first, 10, 800);
  EXPECT_EQ(got.size(), 3u) << "credit 3 but received " << got.size();
  auto second = MakeConsumer("housing_fund", 3);
  auto got2 = ReceiveN(*second, 3, 10000);
  EXPECT_EQ(got2.size(), 3u);
  std::set<std::string> ids;
  for (const auto& d : got) ids.insert(d.event_id());
  for (const auto& d : got2) EXPECT_FALSE(ids.count(d.event_id())) << "same delivery outstanding twice";
}

TEST_F(DeliveryTest, AStoredEventThatCannotBeDecodedIsDeadLetteredAndTheQueueMovesOn) {
  StartBroker();
  auto events = Sample(2, 2);  // two enterprises, two events each
  PublishAll(events);
  ASSERT_EQ(broker_->Stop(), 0);
  // Damage the first event's stored bytes: a field whose length runs past
  // the end.
  const std::string damaged = events[0].event_id();
  const std::string bytes = broker_->on_postgres() ? "'\\x0a7f41'::bytea" : "X'0a7f41'";
  ASSERT_TRUE(broker_->Exec("UPDATE events SET payload = " + bytes + " WHERE event_id = '" + damaged + "'"));
  broker_->Start();
  auto tax = MakeConsumer("tax");
  std::vector<std::string> got = ProcessN(*tax, events.size() - 1);
  ASSERT_EQ(got.size(), events.size() - 1) << got.size() << " deliveries";
  for (const auto& id : got) EXPECT_NE(id, damaged);
  // The damaged one is a visible dead letter with its reason; the case
  // needs attention; the enterprise's next event was not held back by it.
  EXPECT_EQ(DeliveryState(damaged, "tax"), "5");
  EXPECT_NE(broker_
                ->Query("SELECT d.reason FROM deliveries d JOIN events e ON e.seq = d.seq WHERE e.event_id = '" +
                        damaged + "' AND d.agency = 'tax'")
                .find("not a well-formed encoding"),
            std::string::npos);
  EXPECT_TRUE(PollUntil(
      [&] { return broker_->QueryInt("SELECT case_state FROM events WHERE event_id = '" + damaged + "'") == 3; },
      5000));
  // The last answers are recorded once the broker's turn commits.
  EXPECT_TRUE(PollUntil(
      [&] {
        return broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE agency = 'tax' AND state = 3") ==
               static_cast<long long>(events.size() - 1);
      },
      5000));
}

// An events row removed by hand: its deliveries become dead letters that
// say so, instead of failing (and refusing the publishes of) every turn
// that would hand one over.
TEST_F(DeliveryTest, ADeliveryWhoseEventRowIsGoneIsDeadLetteredAndTheBrokerGoesOn) {
  StartBroker();
  auto events = Sample(2, 2);
  PublishAll(events);
  ASSERT_EQ(broker_->Stop(), 0);
  const std::string gone = events[0].event_id();
  const long long seq = broker_->QueryInt("SELECT seq FROM events WHERE event_id = '" + gone + "'");
  ASSERT_GT(seq, 0);
  ASSERT_TRUE(broker_->Exec("DELETE FROM events WHERE seq = " + std::to_string(seq)));
  broker_->Start();
  auto tax = MakeConsumer("tax");
  std::vector<std::string> got = ProcessN(*tax, events.size() - 1);
  ASSERT_EQ(got.size(), events.size() - 1) << got.size() << " deliveries";
  for (const auto& id : got) EXPECT_NE(id, gone);
  const std::string where = " FROM deliveries WHERE seq = " + std::to_string(seq) + " AND agency = 'tax'";
  EXPECT_EQ(broker_->QueryInt("SELECT state" + where), 5);
  EXPECT_NE(broker_->Query("SELECT reason" + where).find("is missing"), std::string::npos);
  // Publishing still works.
  auto more = Sample(1, 1, 9);
  PublishAll(more);
}

// Deliveries out with an adapter when the broker dies go back to PENDING at
// the restart, and the audit trail says so, one line per delivery, in a
// record that keeps the chain intact.
TEST_F(DeliveryTest, DeliveriesOutAtACrashGoBackToPendingOnTheAuditTrail) {
  StartBroker();
  auto events = Sample(3, 1);
  PublishAll(events);
  auto tax = MakeConsumer("tax");
  auto held = ReceiveN(*tax, 3);  // not answered
  ASSERT_EQ(held.size(), 3u);
  broker_->Kill(SIGKILL);
  tax.reset();
  broker_->Start();
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM audit WHERE kind = 'recovery'"), 1);
  const std::string body = broker_->Query("SELECT body FROM audit WHERE kind = 'recovery'");
  for (const auto& d : held) {
    EXPECT_NE(body.find("delivery seq=" + std::to_string(d.sequence()) +
                        " agency=tax DELIVERED->PENDING attempt=1 (broker restart)\n"),
              std::string::npos)
        << body;
  }
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE agency = 'tax' AND state = 1"), 0);
  // The chain verifies with the new record in it.
  const std::string out = broker_->dir() + "/verify.out";
  auto verify = Process::Start({testing::CliBinary(), "audit", "verify",
                                broker_->on_postgres() ? "--postgresql" : "--data-dir",
                                broker_->on_postgres() ? broker_->postgres_conninfo() : broker_->data_dir()},
                               out, broker_->dir() + "/verify.err");
  int code = -1;
  ASSERT_TRUE(verify->WaitExit(20000, &code));
  EXPECT_EQ(code, 0) << testing::ReadFile(out) << testing::ReadFile(broker_->dir() + "/verify.err");
  // Redelivered after the restart with the next attempt number.
  auto again = MakeConsumer("tax");
  auto redelivered = ReceiveN(*again, 3);
  ASSERT_EQ(redelivered.size(), 3u);
  for (const auto& d : redelivered) {
    EXPECT_EQ(d.attempt(), 2u) << d.event_id();
    again->Answer(Answer(d, v1::OUTCOME_PROCESSED));
  }
  ASSERT_TRUE(PollUntil(
      [&] {
        again->Receive(20);
        return broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE agency = 'tax' AND state = 3") == 3;
      },
      10000));
  // A restart with nothing out adds no record.
  again.reset();
  ASSERT_EQ(broker_->Stop(), 0);
  broker_->Start();
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM audit WHERE kind = 'recovery'"), 1);
}

TEST_F(DeliveryTest, QueuedDeliveriesSurviveABrokerRestart) {
  StartBroker();
  auto events = Sample(5, 2);
  PublishAll(events);
  broker_->Kill(SIGKILL);
  broker_->Start();
  auto hf = MakeConsumer("tax");  // tax acts on every event of this sample
  std::vector<std::string> order;
  ASSERT_TRUE(PollUntil(
      [&] {
        if (auto d = hf->Receive(20)) {
          order.push_back(d->event_id());
          hf->Answer(Answer(*d, v1::OUTCOME_PROCESSED));
        }
        return order.size() == events.size();
      },
      15000));
  // Per enterprise, revision 1 before revision 2.
  std::map<std::string, std::uint64_t> last_revision;
  std::map<std::string, v1::EnterpriseEvent> by_id;
  for (const auto& e : events) by_id[e.event_id()] = e;
  for (const auto& id : order) {
    const auto& e = by_id[id];
    EXPECT_GT(e.revision(), last_revision[e.uscc()]);
    last_revision[e.uscc()] = e.revision();
  }
}

}  // namespace
}  // namespace yilian
