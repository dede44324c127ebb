// High availability on PostgreSQL: two brokers on one database, one of them
// active (it holds the lease), the other a standby that answers NOT_LEADER
// and takes over once the lease has expired. Under load, with the
// publisher and the four consumers given both endpoints: the active broker
// is SIGKILLed, or paused past its lease and resumed. Afterwards every
// confirmed event reached every agency it names, in order per (USCC,
// agency), repeats with a higher attempt (testing/guarantees.h), a
// resumed old leader has stepped down instead of writing, and the audit
// chain the brokers wrote in turn verifies as one chain.
#include <signal.h>

#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "cli/cli_run.h"
#include "testing/broker_fixture.h"
#include "testing/guarantees.h"
#include "testing/postgres.h"
#include "validation/json.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;

constexpr int kLeaseMs = 2000;

const std::string& Extra() {
  static const std::string extra =
      "delivery:\n  ack_timeout_ms: 3000\n"
      "retry:\n  initial_backoff_ms: 50\n  max_backoff_ms: 500\n  max_attempts: 1000\n"
      "ha:\n  lease_ms: " +
      std::to_string(kLeaseMs) + "\n";
  return extra;
}

bool LogHas(const BrokerProcess& b, const std::string& text) {
  return testing::ReadFile(b.log_path()).find(text) != std::string::npos;
}

// `yilian audit verify` on the database: every record, whichever broker
// wrote it, chained to the one before.
void ExpectAuditChainIntact(const std::string& dir, const std::string& conninfo) {
  testing::CliRun run = testing::RunCli(dir, {"audit", "verify", "--postgresql", conninfo});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("\"intact\":true"), std::string::npos) << run.out;
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    postgres_ = testing::TestPostgres::Start({}, &error);
    ASSERT_TRUE(postgres_) << error;
    a_ = std::make_unique<BrokerProcess>(Extra(), postgres_->conninfo());
    b_ = std::make_unique<BrokerProcess>(Extra(), postgres_->conninfo());
    a_->Start();
    ASSERT_TRUE(PollUntil([&] { return LogHas(*a_, "is now the active one"); }, 10000)) << testing::ReadFile(a_->log_path());
    b_->Start();
    ASSERT_TRUE(PollUntil([&] { return LogHas(*b_, "standby: the active broker is " + a_->endpoint()); }, 10000))
        << testing::ReadFile(b_->log_path());
    brokers_ = a_->endpoint() + "," + b_->endpoint();
  }

  // Waits until b has taken over; returns the milliseconds from `since`.
  long long AwaitTakeover(std::chrono::steady_clock::time_point since) {
    const bool took = PollUntil([&] { return LogHas(*b_, "is now the active one"); }, kLeaseMs + 10000);
    EXPECT_TRUE(took) << testing::ReadFile(b_->log_path());
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since).count();
  }

  // The publisher and the four consumers on both brokers, then a random
  // pause into the run (the fault comes at a random point of publishing
  // and delivering).
  void StartLoad() {
    dir_ = a_->dir();
    events_ = guarantees::SampleEvents();
    consumers_ = guarantees::StartConsumers(brokers_, dir_);
    publisher_ = guarantees::StartPublisher(brokers_, dir_, events_, 600);
    std::mt19937 rng(std::random_device{}());
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 1500)(rng)));
  }

  // The publisher is done and every guarantee holds (read through b).
  void FinishLoad() {
    int code = -1;
    ASSERT_TRUE(publisher_->WaitExit(150000, &code)) << "publisher hung";
    ASSERT_EQ(code, 0) << testing::ReadFile(dir_ + "/publish.err");
    std::size_t repeated = 0;
    guarantees::Check(*b_, dir_, events_, &repeated);
    RecordProperty("repeated_handovers", static_cast<int>(repeated));
    for (auto& c : consumers_) c->Signal(SIGTERM);
    ExpectAuditChainIntact(dir_, postgres_->conninfo());
  }

  std::unique_ptr<testing::TestPostgres> postgres_;
  std::unique_ptr<BrokerProcess> a_, b_;
  std::string brokers_;
  std::string dir_;
  std::vector<v1::EnterpriseEvent> events_;
  std::vector<std::unique_ptr<testing::Process>> consumers_;
  std::unique_ptr<testing::Process> publisher_;
};

// Over HTTP: only the active broker is ready, leads by its metric and takes
// publishes; the standby answers 503 NOT_LEADER (nothing stored) until it
// takes over.
TEST_F(FailoverTest, OnlyTheActiveBrokerIsReadyAndTakesHttpPublishes) {
  httplib::Client a("127.0.0.1", a_->http_port());
  httplib::Client b("127.0.0.1", b_->http_port());
  auto events = guarantees::SampleEvents();
  auto post = [&](httplib::Client& c, const v1::EnterpriseEvent& e) {
    return c.Post("/api/v1/events", json::Print(e), "application/json");
  };
  EXPECT_EQ(a.Get("/readyz")->status, 200);
  EXPECT_EQ(b.Get("/readyz")->status, 503);
  EXPECT_EQ(b.Get("/healthz")->status, 200);
  EXPECT_NE(a.Get("/metrics")->body.find("yilian_leader 1"), std::string::npos);
  EXPECT_NE(b.Get("/metrics")->body.find("yilian_leader 0"), std::string::npos);
  auto refused = post(b, events[0]);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_NE(refused->body.find("NOT_LEADER"), std::string::npos) << refused->body;
  EXPECT_EQ(a_->QueryInt("SELECT COUNT(*) FROM events"), 0);
  ASSERT_EQ(post(a, events[0])->status, 200);

  a_->Kill(SIGKILL);
  AwaitTakeover(std::chrono::steady_clock::now());
  ASSERT_TRUE(PollUntil([&] { return b.Get("/readyz")->status == 200; }, 10000));
  auto duplicate = post(b, events[0]);
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(duplicate->status, 200);
  EXPECT_NE(duplicate->body.find("DUPLICATE"), std::string::npos) << duplicate->body;
  EXPECT_EQ(post(b, events[1])->status, 200);
  EXPECT_EQ(b_->QueryInt("SELECT COUNT(*) FROM events"), 2);
}

TEST_F(FailoverTest, TheStandbyTakesOverFromAKilledBrokerAndNothingIsLost) {
  StartLoad();
  a_->Kill(SIGKILL);
  const long long takeover_ms = AwaitTakeover(std::chrono::steady_clock::now());
  EXPECT_LE(takeover_ms, kLeaseMs + 3000);
  RecordProperty("takeover_ms", static_cast<int>(takeover_ms));
  FinishLoad();
}

TEST_F(FailoverTest, APausedBrokerPastItsLeaseStepsDownAndTheGuaranteesHold) {
  StartLoad();
  a_->Signal(SIGSTOP);
  const long long takeover_ms = AwaitTakeover(std::chrono::steady_clock::now());
  EXPECT_LE(takeover_ms, kLeaseMs + 3000);
  RecordProperty("takeover_ms", static_cast<int>(takeover_ms));
  // The old leader wakes up: its next turn finds the lease gone.
  a_->Signal(SIGCONT);
  EXPECT_TRUE(PollUntil([&] { return LogHas(*a_, "stepping down as the active broker"); }, 10000))
      << testing::ReadFile(a_->log_path());
  EXPECT_TRUE(PollUntil([&] { return LogHas(*a_, "standby: the active broker is " + b_->endpoint()); }, 10000))
      << testing::ReadFile(a_->log_path());
  FinishLoad();
}

// The database's primary dies (postmaster and children SIGKILLed) under
// load; the synchronous standby is promoted. The brokers reach it through
// the multi-host conninfo by themselves; nothing a publisher saw confirmed
// is missing on the promoted database.
TEST(DatabaseFailoverTest, ThePrimaryKilledUnderLoadAndTheSynchronousStandbyPromotedLoseNothing) {
  std::string error;
  testing::TestPostgres::Options options;
  options.synchronous_standby_ready = true;
  auto postgres = testing::TestPostgres::Start(options, &error);
  ASSERT_TRUE(postgres) << error;
  ASSERT_TRUE(postgres->StartStandby(/*synchronous=*/true, &error)) << error;
  BrokerProcess a(Extra(), postgres->multi_host_conninfo());
  BrokerProcess b(Extra(), postgres->multi_host_conninfo());
  a.Start();
  ASSERT_TRUE(PollUntil([&] { return LogHas(a, "is now the active one"); }, 10000)) << testing::ReadFile(a.log_path());
  b.Start();
  const std::string brokers = a.endpoint() + "," + b.endpoint();
  const std::string dir = a.dir();
  const auto events = guarantees::SampleEvents();
  auto consumers = guarantees::StartConsumers(brokers, dir);
  auto publisher = guarantees::StartPublisher(brokers, dir, events, 600);
  std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 1500)(rng)));
  ASSERT_TRUE(postgres->KillPrimary(&error)) << error;
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(postgres->PromoteStandby(&error)) << error;
  // A broker works on the promoted database again (it reconnects by itself
  // and reads its state again from there).
  ASSERT_TRUE(PollUntil(
      [&] {
        return LogHas(a, "connected to PostgreSQL again") || LogHas(b, "connected to PostgreSQL again");
      },
      30000))
      << testing::ReadFile(a.log_path());
  RecordProperty("reconnected_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        std::chrono::steady_clock::now() - killed)
                                                        .count()));
  int code = -1;
  ASSERT_TRUE(publisher->WaitExit(150000, &code)) << "publisher hung";
  ASSERT_EQ(code, 0) << testing::ReadFile(dir + "/publish.err");
  std::size_t repeated = 0;
  guarantees::Check(a, dir, events, &repeated);
  for (auto& c : consumers) c->Signal(SIGTERM);
  ExpectAuditChainIntact(dir, postgres->multi_host_conninfo());
}

}  // namespace
}  // namespace yilian
