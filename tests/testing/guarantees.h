// The delivery guarantees, checked after a run with faults (kills of the
// broker, of a database, a paused broker): every event the publisher saw
// confirmed is stored and reached every agency it names, each (USCC,
// agency) sequence was handed over in publish order, and every repeated
// hand-over carried a higher attempt number. Shared by the crash and the
// failover tests; the workload is a generated sample, published by
// `yilian publish` and consumed by one `yilian consume` per agency, each
// writing its deliveries to <dir>/<agency>.log.
#pragma once

#include <signal.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/sample.h"
#include "testing/broker_fixture.h"
#include "validation/json.h"
#include "yilian/v1/tools.pb.h"

namespace yilian::guarantees {

inline const std::vector<std::string>& Agencies() {
  static const std::vector<std::string> agencies = {"tax", "social_insurance", "housing_fund", "bank:ICBC"};
  return agencies;
}

// 200 enterprises with 10 revisions each, in publish order.
inline std::vector<v1::EnterpriseEvent> SampleEvents() {
  sample::SampleOptions options;
  options.seed = 42;
  options.enterprises = 200;
  options.events_per_enterprise = 10;
  options.deregister_fraction = 0;
  options.banks = {"ICBC"};
  return sample::Generate(options);
}

// One consumer per agency on `brokers` (one endpoint or several, comma-separated).
inline std::vector<std::unique_ptr<testing::Process>> StartConsumers(const std::string& brokers,
                                                                    const std::string& dir) {
  std::vector<std::unique_ptr<testing::Process>> consumers;
  for (const auto& a : Agencies()) {
    consumers.push_back(testing::Process::Start({testing::CliBinary(), "consume", "--broker", brokers, "--agency", a,
                                                 "--log", dir + "/" + a + ".log", "--credit", "8"},
                                                "", dir + "/consume-" + a + ".err"));
  }
  return consumers;
}

// One publisher offering every event at a steady rate, resending what is
// unconfirmed; its reports go to <dir>/publish.out.
inline std::unique_ptr<testing::Process> StartPublisher(const std::string& brokers, const std::string& dir,
                                                        const std::vector<v1::EnterpriseEvent>& events, int rate) {
  const std::string all_path = dir + "/events.jsonl";
  std::string all;
  for (const auto& e : events) all += json::Print(e) + "\n";
  testing::WriteFile(all_path, all);
  return testing::Process::Start({testing::CliBinary(), "publish", "--broker", brokers, "--resend-ms", "1000",
                                  "--timeout", "120", "--rate", std::to_string(rate), all_path},
                                 dir + "/publish.out", dir + "/publish.err");
}

// After the publisher exited 0: the guarantees, read from the publisher's
// reports, the consumers' logs and the store (through `broker`'s queries).
// Returns the number of repeated hand-overs.
inline void Check(const testing::BrokerProcess& broker, const std::string& dir,
                  const std::vector<v1::EnterpriseEvent>& events, std::size_t* repeated) {
  std::map<std::string, v1::EnterpriseEvent> by_id;
  for (const auto& e : events) by_id[e.event_id()] = e;
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
  ASSERT_TRUE(testing::PollUntil([&] { return broker.QueryInt("SELECT COUNT(*) FROM deliveries WHERE state <> 3") == 0; },
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

  for (const auto& agency : Agencies()) {
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
  *repeated = 0;
  for (const auto& agency : Agencies())
    for (const auto& line : testing::ReadLines(dir + "/" + agency + ".log"))
      if (line.find("\"attempt\":1,") == std::string::npos) ++*repeated;
}

}  // namespace yilian::guarantees
