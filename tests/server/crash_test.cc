// The delivery guarantees under SIGKILL: while events are published to four
// agencies, the broker is killed several times at random moments and
// restarted. Afterwards every confirmed event was processed by every
// required agency, each (USCC, agency) sequence was handed over in publish
// order, and every repeated hand-over carried a higher attempt number. The
// same on each store: SQLite, and a private PostgreSQL server.
#include <signal.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "cli/sample.h"
#include "testing/broker_fixture.h"
#include "testing/postgres.h"
#include "validation/json.h"
#include "yilian/v1/tools.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

class CrashTest : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Stores, CrashTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST_P(CrashTest, KilledBrokerLosesNothingAndKeepsPerEnterpriseOrder) {
  const std::string extra =
      "delivery:\n  ack_timeout_ms: 3000\n"
      "retry:\n  initial_backoff_ms: 50\n  max_backoff_ms: 500\n  max_attempts: 1000\n";
  std::unique_ptr<testing::TestPostgres> postgres;
  std::unique_ptr<BrokerProcess> process;
  if (GetParam() == "postgresql") {
    std::string error;
    postgres = testing::TestPostgres::Start({}, &error);
    ASSERT_TRUE(postgres) << error;
    process = std::make_unique<BrokerProcess>(extra, postgres->conninfo());
  } else {
    process = std::make_unique<BrokerProcess>(extra);
  }
  BrokerProcess& broker = *process;
  broker.Start();
  const std::string dir = broker.dir();

  sample::SampleOptions options;
  options.seed = 42;
  options.enterprises = 200;
  options.events_per_enterprise = 10;
  options.deregister_fraction = 0;
  options.banks = {"ICBC"};
  auto events = sample::Generate(options);
  std::map<std::string, v1::EnterpriseEvent> by_id;
  for (const auto& e : events) by_id[e.event_id()] = e;

  const std::vector<std::string> agencies = {"tax", "social_insurance", "housing_fund", "bank:ICBC"};
  std::vector<std::unique_ptr<Process>> consumers;
  for (const auto& a : agencies) {
    consumers.push_back(Process::Start({testing::CliBinary(), "consume", "--broker", broker.endpoint(), "--agency", a,
                                        "--log", dir + "/" + a + ".log", "--credit", "8"},
                                       "", dir + "/consume-" + a + ".err"));
  }

  // One publisher offers the whole sample at a steady rate (each
  // enterprise's revisions in order); meanwhile the broker is killed at
  // random moments and restarted at once.
  std::string all_path = dir + "/events.jsonl";
  std::string all;
  for (const auto& e : events) all += json::Print(e) + "\n";
  testing::WriteFile(all_path, all);
  auto publisher = Process::Start({testing::CliBinary(), "publish", "--broker", broker.endpoint(), "--resend-ms",
                                   "1000", "--timeout", "120", "--rate", "600", all_path},
                                  dir + "/publish.out", dir + "/publish.err");
  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  for (int i = 0; i < 4; ++i) {
    // Fault injection at a random point of publishing and delivering.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(200, 900)(rng)));
    broker.Kill(SIGKILL);
    ++kills;
    broker.Start();
  }
  EXPECT_EQ(kills, 4);
  int code = -1;
  ASSERT_TRUE(publisher->WaitExit(150000, &code)) << "publisher hung";
  ASSERT_EQ(code, 0) << testing::ReadFile(dir + "/publish.err");

  // Every publish was confirmed.
  auto acks = testing::ReadLines(dir + "/publish.out");
  std::set<std::string> confirmed;
  for (const auto& line : acks) {
    v1::PublishReport report;
    ASSERT_TRUE(json::Parse(line, &report).ok()) << line;
    EXPECT_TRUE(report.status() == "accepted" || report.status() == "duplicate") << line;
    confirmed.insert(report.event_id());
  }
  ASSERT_EQ(confirmed.size(), events.size());

  // Everything settles: every delivery PROCESSED.
  ASSERT_TRUE(PollUntil([&] { return broker.QueryInt("SELECT COUNT(*) FROM deliveries WHERE state <> 3") == 0; },
                        120000))
      << broker.QueryInt("SELECT COUNT(*) FROM deliveries WHERE state <> 3") << " deliveries unsettled";
  EXPECT_EQ(broker.QueryInt("SELECT COUNT(*) FROM events"), static_cast<long long>(events.size()));

  // Each stored event's agencies, by event id.
  std::map<std::string, std::string> routes;
  for (const auto& row : broker.QueryColumn("SELECT event_id || ' ' || agencies FROM events")) {
    const std::size_t space = row.find(' ');
    ASSERT_NE(space, std::string::npos) << row;
    routes[row.substr(0, space)] = row.substr(space + 1);
  }
  ASSERT_EQ(routes.size(), events.size());

  for (const auto& agency : agencies) {
    auto lines = testing::ReadLines(dir + "/" + agency + ".log");
    std::map<std::string, std::uint64_t> last_revision;  // per USCC
    std::map<std::string, std::uint32_t> last_attempt;   // per event
    std::set<std::string> seen;
    for (const auto& line : lines) {
      v1::DeliveryReport d;
      ASSERT_TRUE(json::Parse(line, &d).ok()) << line;
      const auto& e = by_id.at(d.event_id());
      EXPECT_GE(e.revision(), last_revision[e.uscc()])
          << agency << ": " << d.event_id() << " (revision " << e.revision() << ") handed over after revision "
          << last_revision[e.uscc()] << " of " << e.uscc();
      last_revision[e.uscc()] = e.revision();
      if (seen.count(d.event_id())) {
        EXPECT_GT(d.attempt(), last_attempt[d.event_id()]) << agency << ": repeated hand-over of " << d.event_id()
                                                           << " without a higher attempt";
        EXPECT_GT(d.attempt(), 1u);
      }
      last_attempt[d.event_id()] = d.attempt();
      seen.insert(d.event_id());
    }
    // Each event that names this agency reached it.
    for (const auto& id : confirmed) {
      const std::string& routed = routes[id];
      if (("," + routed + ",").find("," + agency + ",") == std::string::npos) continue;
      EXPECT_TRUE(seen.count(id)) << agency << " never received " << id;
    }
  }
  // The kills hit work in progress: some deliveries were handed over again.
  std::size_t repeated = 0;
  for (const auto& agency : agencies)
    for (const auto& line : testing::ReadLines(dir + "/" + agency + ".log"))
      if (line.find("\"attempt\":1,") == std::string::npos) ++repeated;
  RecordProperty("repeated_handovers", static_cast<int>(repeated));
  for (auto& c : consumers) c->Signal(SIGTERM);
}

}  // namespace
}  // namespace yilian
