// One-stop completion tracking against a real broker: case and agency
// states over the HTTP API, case lists with each filter and the cursor,
// enterprise timelines, statistics, case updates to `yilian watch`,
// enterprise relations, deadlines, operator retry and replay keeping
// per-enterprise order, and `yilian audit verify`. Every test runs on each
// store: SQLite, and a private PostgreSQL server.
#include <signal.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "cli/cli_run.h"
#include "cli/sample.h"
#include "client/consumer.h"
#include "client/publisher.h"
#include "client/watcher.h"
#include "common/clock.h"
#include "testing/broker_fixture.h"
#include "testing/postgres.h"
#include "validation/json.h"
#include "yilian/v1/tools.pb.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

class TrackingTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool postgres() const { return GetParam() == "postgresql"; }

  void StartBroker(const std::string& yaml = "") {
    if (postgres()) {
      std::string error;
      postgres_ = testing::TestPostgres::Start({}, &error);
      ASSERT_TRUE(postgres_) << error;
      broker_ = std::make_unique<BrokerProcess>(yaml, postgres_->conninfo());
    } else {
      broker_ = std::make_unique<BrokerProcess>(yaml);
    }
    http_port_ = broker_->http_port();
    broker_->Start();
    ASSERT_TRUE(PollUntil([&] { return Get("/readyz").first == 200; }, 10000));
  }

  std::pair<int, std::string> Get(const std::string& path) {
    httplib::Client c("127.0.0.1", http_port_);
    auto r = c.Get(path.c_str());
    if (!r) return {0, ""};
    return {r->status, r->body};
  }
  std::pair<int, std::string> Post(const std::string& path, const std::string& body) {
    httplib::Client c("127.0.0.1", http_port_);
    auto r = c.Post(path.c_str(), body, "application/json");
    if (!r) return {0, ""};
    return {r->status, r->body};
  }

  template <typename M>
  M GetJson(const std::string& path) {
    auto [status, body] = Get(path);
    EXPECT_EQ(status, 200) << path << ": " << body;
    M m;
    EXPECT_TRUE(json::Parse(body, &m).ok()) << body;
    return m;
  }

  void PublishAll(const std::vector<v1::EnterpriseEvent>& events) {
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    client::Publisher publisher(context_, options);
    for (const auto& e : events) publisher.Publish(e);
    std::size_t confirmed = 0;
    ASSERT_TRUE(PollUntil(
        [&] {
          publisher.Poll(20, [&](std::uint64_t, const v1::PublishAck& a) {
            EXPECT_NE(a.status(), v1::REFUSED) << a.message();
            ++confirmed;
          });
          return confirmed == events.size();
        },
        20000));
  }

  std::unique_ptr<Process> Consume(const std::string& agency, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency",
                                     agency, "--log", broker_->dir() + "/" + agency + ".log"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Process::Start(argv, "", broker_->dir() + "/" + agency + ".err");
  }

  v1::Stats Stats() { return GetJson<v1::Stats>("/api/v1/stats"); }

  // `yilian audit verify` on the broker's store; checks that its exit code
  // matches the report.
  v1::AuditVerifyReport AuditVerify(int expected_exit) {
    std::vector<std::string> args = {"audit", "verify"};
    if (postgres()) {
      args.insert(args.end(), {"--postgresql", postgres_->conninfo()});
    } else {
      args.insert(args.end(), {"--data-dir", broker_->data_dir()});
    }
    testing::CliRun run = testing::RunCli(broker_->dir(), args);
    EXPECT_EQ(run.exit_code, expected_exit) << run.out << run.err;
    v1::AuditVerifyReport report;
    EXPECT_TRUE(json::Parse(run.out, &report).ok()) << run.out << run.err;
    EXPECT_EQ(report.intact(), expected_exit == 0) << run.out;
    return report;
  }

  zmq::context_t context_{1};
  int http_port_ = 0;
  // Declared first: the broker stops before its database does.
  std::unique_ptr<testing::TestPostgres> postgres_;
  std::unique_ptr<BrokerProcess> broker_;
};

INSTANTIATE_TEST_SUITE_P(Stores, TrackingTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

std::vector<v1::EnterpriseEvent> Sample(int enterprises, int per, std::uint64_t seed, std::vector<std::string> banks) {
  sample::SampleOptions o;
  o.seed = seed;
  o.enterprises = enterprises;
  o.events_per_enterprise = per;
  o.deregister_fraction = 0;
  o.banks = std::move(banks);
  return sample::Generate(o);
}

TEST_P(TrackingTest, CasesCompleteOrNeedAttentionAndThePlatformHearsOfEach) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  // 20 establishments; the tax bureau rejects event ids ending in 3 or 7.
  auto events = Sample(20, 1, 3, {"ICBC"});
  std::set<std::string> rejected_ids;
  for (const auto& e : events) {
    char last = e.event_id().back();
    if (last == '3' || last == '7') rejected_ids.insert(e.event_id());
  }
  ASSERT_FALSE(rejected_ids.empty());
  std::vector<std::unique_ptr<Process>> agencies;
  agencies.push_back(Consume("tax", {"--reject-pattern", "[37]$"}));
  for (std::string a : {"social_insurance", "housing_fund", "bank:ICBC"}) agencies.push_back(Consume(a));
  std::string watch_out = broker_->dir() + "/watch.out";
  auto watch = Process::Start({testing::CliBinary(), "watch", "--broker", broker_->endpoint()}, watch_out);
  PublishAll(events);

  ASSERT_TRUE(PollUntil([&] { return Stats().in_progress() == 0 && Stats().cases() == events.size(); }, 20000));
  v1::Stats st = Stats();
  EXPECT_EQ(st.completed(), events.size() - rejected_ids.size());
  EXPECT_EQ(st.attention(), rejected_ids.size());
  EXPECT_DOUBLE_EQ(st.completion_rate(),
                   static_cast<double>(events.size() - rejected_ids.size()) / static_cast<double>(events.size()));
  std::map<std::string, v1::AgencyStats> by_agency;
  for (const auto& a : st.agencies()) by_agency[a.agency()] = a;
  EXPECT_EQ(by_agency["tax"].rejected(), rejected_ids.size());
  EXPECT_EQ(by_agency["tax"].processed(), events.size() - rejected_ids.size());
  EXPECT_EQ(by_agency["social_insurance"].processed(), events.size());
  EXPECT_GT(by_agency["bank:ICBC"].p90_ms(), 0);

  for (const auto& e : events) {
    v1::Case c = GetJson<v1::Case>("/api/v1/cases/" + e.event_id());
    bool rejected = rejected_ids.count(e.event_id()) > 0;
    EXPECT_EQ(c.state(), rejected ? v1::ATTENTION : v1::COMPLETED) << e.event_id();
    EXPECT_EQ(c.has_completed_at(), !rejected);
    ASSERT_EQ(c.agencies_size(), 4);
    for (const auto& a : c.agencies()) {
      bool tax_rejects = rejected && a.agency() == "tax";
      EXPECT_EQ(a.state(), tax_rejects ? v1::REJECTED : v1::PROCESSED) << e.event_id() << " " << a.agency();
      if (!tax_rejects) {
        EXPECT_FALSE(a.reference().empty());
        EXPECT_TRUE(a.has_settled_at());
      } else {
        EXPECT_FALSE(a.reason().empty());
      }
    }
  }
  // Exactly one update per case reached the platform.
  ASSERT_TRUE(PollUntil([&] { return testing::ReadLines(watch_out).size() >= events.size(); }, 10000));
  std::map<std::string, int> updates;
  for (const auto& line : testing::ReadLines(watch_out)) {
    v1::CaseUpdate u;
    ASSERT_TRUE(json::Parse(line, &u).ok()) << line;
    ++updates[u.case_().event_id()];
    EXPECT_EQ(u.kind(), rejected_ids.count(u.case_().event_id()) ? v1::CASE_NEEDS_ATTENTION : v1::CASE_COMPLETED);
  }
  EXPECT_EQ(updates.size(), events.size());
  for (const auto& [id, n] : updates) EXPECT_EQ(n, 1) << id;

  // The list API filters by state.
  auto attention = GetJson<v1::CaseList>("/api/v1/cases?status=ATTENTION&limit=1000");
  EXPECT_EQ(static_cast<std::size_t>(attention.cases_size()), rejected_ids.size());
  for (const auto& c : attention.cases()) EXPECT_TRUE(rejected_ids.count(c.event_id()));
  watch->Signal(SIGTERM);
}

TEST_P(TrackingTest, CaseUpdatesAreRedeliveredUntilAcknowledged) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  auto events = Sample(3, 1, 5, {});
  std::vector<std::unique_ptr<Process>> agencies;
  for (std::string a : {"tax", "social_insurance", "housing_fund"}) agencies.push_back(Consume(a));
  PublishAll(events);
  ASSERT_TRUE(PollUntil([&] { return Stats().completed() == 3; }, 20000));
  // A watcher that takes updates but dies before acknowledging them.
  {
    client::ClientOptions o;
    o.endpoint = broker_->endpoint();
    o.name = "forgetful-watcher";
    client::Watcher w(context_, o);
    std::vector<v1::CaseUpdate> got;
    ASSERT_TRUE(PollUntil(
        [&] {
          if (auto u = w.Receive(20)) got.push_back(*u);
          return got.size() == 3;
        },
        10000));
  }  // closed without acknowledging
  broker_->Kill(SIGKILL);
  broker_->Start();
  std::string out = broker_->dir() + "/watch.out";
  auto watch = Process::Start({testing::CliBinary(), "watch", "--broker", broker_->endpoint(), "--count", "3"}, out);
  int code = -1;
  ASSERT_TRUE(watch->WaitExit(15000, &code));
  EXPECT_EQ(code, 0);
  EXPECT_EQ(testing::ReadLines(out).size(), 3u);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM case_updates WHERE acked = 1"), 3);
}

TEST_P(TrackingTest, ChangesGoToTheBankHoldingTheAccountWithoutAReservation) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  auto events = Sample(1, 2, 9, {"CCB"});  // ESTABLISHED with CCB, then a CHANGED
  std::vector<std::unique_ptr<Process>> agencies;
  for (std::string a : {"tax", "social_insurance", "housing_fund", "bank:CCB"}) agencies.push_back(Consume(a));
  PublishAll({events[0]});
  ASSERT_TRUE(PollUntil([&] { return Stats().completed() == 1; }, 20000));
  auto timeline = GetJson<v1::EnterpriseTimeline>("/api/v1/enterprises/" + events[0].uscc());
  ASSERT_EQ(timeline.references_size(), 4);
  // A change of the name, with no bank reservation on the event.
  v1::EnterpriseEvent change = events[1];
  change.clear_bank_reservation();
  change.clear_changes();
  auto* c = change.add_changes();
  c->set_field("name");
  c->set_old_value(events[0].enterprise().name());
  c->set_new_value("厦门改名后科技有限公司");
  change.mutable_enterprise()->set_name("厦门改名后科技有限公司");
  PublishAll({change});
  ASSERT_TRUE(PollUntil([&] { return Stats().completed() == 2; }, 20000));
  v1::Case changed = GetJson<v1::Case>("/api/v1/cases/" + change.event_id());
  std::set<std::string> got;
  for (const auto& a : changed.agencies()) got.insert(a.agency());
  EXPECT_TRUE(got.count("bank:CCB")) << "the account bank was not told of the change";
  timeline = GetJson<v1::EnterpriseTimeline>("/api/v1/enterprises/" + events[0].uscc());
  EXPECT_EQ(timeline.events_size(), 2);
  EXPECT_EQ(timeline.name(), "厦门改名后科技有限公司");
}

TEST_P(TrackingTest, MissedDeadlinesAreFlaggedCountedAndReported) {
  ASSERT_NO_FATAL_FAILURE(StartBroker(
      "agencies:\n  - id: tax\n    events: [ESTABLISHED]\n    deadline_ms: 300\n"
      "  - id: social_insurance\n    events: [ESTABLISHED]\n"));
  auto events = Sample(2, 1, 11, {});
  auto si = Consume("social_insurance");  // tax never answers
  std::string out = broker_->dir() + "/watch.out";
  auto watch = Process::Start({testing::CliBinary(), "watch", "--broker", broker_->endpoint()}, out);
  PublishAll(events);
  ASSERT_TRUE(PollUntil([&] { return Stats().overdue() == 2; }, 10000));
  v1::Case c = GetJson<v1::Case>("/api/v1/cases/" + events[0].event_id());
  EXPECT_TRUE(c.overdue());
  for (const auto& a : c.agencies()) EXPECT_EQ(a.overdue(), a.agency() == "tax") << a.agency();
  auto overdue = GetJson<v1::CaseList>("/api/v1/cases?overdue=true");
  EXPECT_EQ(overdue.cases_size(), 2);
  ASSERT_TRUE(PollUntil([&] { return testing::ReadLines(out).size() >= 2; }, 10000));
  for (const auto& line : testing::ReadLines(out)) {
    v1::CaseUpdate u;
    ASSERT_TRUE(json::Parse(line, &u).ok());
    EXPECT_EQ(u.kind(), v1::CASE_OVERDUE);
    EXPECT_EQ(u.agency(), "tax");
  }
  std::map<std::string, v1::AgencyStats> by_agency;
  v1::Stats st = Stats();
  for (const auto& a : st.agencies()) by_agency[a.agency()] = a;
  EXPECT_EQ(by_agency["tax"].overdue(), 2u);
  watch->Signal(SIGTERM);
}

// The order an agency saw events of each enterprise, from its consumer log.
std::map<std::string, std::vector<std::uint64_t>> OrderSeen(const std::string& log,
                                                             const std::map<std::string, v1::EnterpriseEvent>& by_id,
                                                             bool replay_only) {
  std::map<std::string, std::vector<std::uint64_t>> seen;
  for (const auto& line : testing::ReadLines(log)) {
    v1::DeliveryReport d;
    if (!json::Parse(line, &d).ok()) continue;
    if (replay_only && !d.replay()) continue;
    const auto& e = by_id.at(d.event_id());
    seen[e.uscc()].push_back(e.revision());
  }
  return seen;
}

TEST_P(TrackingTest, ReplayRedeliversAnAgencysEventsInPerEnterpriseOrder) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  auto events = Sample(5, 4, 13, {});
  std::map<std::string, v1::EnterpriseEvent> by_id;
  for (const auto& e : events) by_id[e.event_id()] = e;
  auto tax = Consume("tax");
  auto si = Consume("social_insurance");
  auto hf = Consume("housing_fund");
  PublishAll(events);
  ASSERT_TRUE(PollUntil([&] { return broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state < 3") == 0; },
                        20000));
  long long tax_deliveries = broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE agency = 'tax'");
  auto [status, body] = Post("/api/v1/agencies/tax/replay", R"({"since":"2000-01-01T00:00:00Z","reason":"tax system restored from backup"})");
  ASSERT_EQ(status, 200) << body;
  v1::ActionResult result;
  ASSERT_TRUE(json::Parse(body, &result).ok());
  EXPECT_EQ(static_cast<long long>(result.affected()), tax_deliveries);
  ASSERT_TRUE(PollUntil(
      [&] {
        std::size_t n = 0;
        for (const auto& [uscc, revs] : OrderSeen(broker_->dir() + "/tax.log", by_id, true)) n += revs.size();
        return static_cast<long long>(n) >= tax_deliveries &&
               broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state < 3") == 0;
      },
      20000));
  for (const auto& [uscc, revs] : OrderSeen(broker_->dir() + "/tax.log", by_id, true)) {
    EXPECT_TRUE(std::is_sorted(revs.begin(), revs.end())) << uscc << " replayed out of order";
  }
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE agency = 'tax' AND replay = 1 AND state = 3"),
            tax_deliveries);
  // Other agencies were not replayed.
  EXPECT_TRUE(OrderSeen(broker_->dir() + "/social_insurance.log", by_id, true).empty());
  // Every case is complete again once the replay has settled.
  EXPECT_EQ(Stats().completed(), static_cast<std::uint64_t>(events.size()));
}

TEST_P(TrackingTest, RetryOfARejectedDeliveryDeliversItAgainAndCompletesTheCase) {
  ASSERT_NO_FATAL_FAILURE(StartBroker("agencies:\n  - id: tax\n    events: [ESTABLISHED, CHANGED, FILED]\n"));
  auto events = Sample(1, 3, 17, {});
  std::map<std::string, v1::EnterpriseEvent> by_id;
  for (const auto& e : events) by_id[e.event_id()] = e;
  // Revision 2 is rejected the first time.
  auto tax = Consume("tax", {"--reject-pattern", events[1].event_id() + "$"});
  PublishAll(events);
  ASSERT_TRUE(PollUntil([&] { return broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state < 3") == 0; },
                        20000));
  EXPECT_EQ(GetJson<v1::Case>("/api/v1/cases/" + events[1].event_id()).state(), v1::ATTENTION);
  tax->Signal(SIGTERM);
  int code;
  tax->WaitExit(10000, &code);
  // Not retryable: a PROCESSED delivery.
  EXPECT_EQ(Post("/api/v1/cases/" + events[0].event_id() + "/agencies/tax/retry", "{}").first, 409);
  EXPECT_EQ(Post("/api/v1/cases/nope/agencies/tax/retry", "{}").first, 404);
  EXPECT_EQ(Post("/api/v1/cases/" + events[1].event_id() + "/agencies/tax/retry", "{not json").first, 400);
  auto [status, body] = Post("/api/v1/cases/" + events[1].event_id() + "/agencies/tax/retry", R"({"reason":"data fixed"})");
  ASSERT_EQ(status, 200) << body;
  auto tax2 = Consume("tax");
  ASSERT_TRUE(PollUntil([&] { return GetJson<v1::Case>("/api/v1/cases/" + events[1].event_id()).state() == v1::COMPLETED; },
                        20000));
  EXPECT_EQ(Stats().attention(), 0u);
  // Audit: the operator action is on the trail.
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM audit WHERE kind = 'retry' AND actor = 'dev'"), 1);
}

// Resolving is an operator's final word on a case: a result that arrives
// afterwards is recorded on its delivery and does not reopen the case.
TEST_P(TrackingTest, AResolvedCaseStaysCompletedWhenItsDeliveryIsRejectedLater) {
  ASSERT_NO_FATAL_FAILURE(StartBroker("agencies:\n  - id: tax\n    events: [ESTABLISHED]\n"));
  auto events = Sample(1, 1, 23, {});
  const std::string path = "/api/v1/cases/" + events[0].event_id();
  PublishAll(events);  // nobody consumes yet: IN_PROGRESS
  auto [status, body] = Post(path + "/resolve", R"({"reason":"registered at the counter"})");
  ASSERT_EQ(status, 200) << body;
  auto tax = Consume("tax", {"--result", "rejected"});
  ASSERT_TRUE(PollUntil(
      [&] {
        v1::Case c = GetJson<v1::Case>(path);
        return c.agencies_size() == 1 && c.agencies(0).state() == v1::REJECTED;
      },
      20000));
  v1::Case c = GetJson<v1::Case>(path);
  EXPECT_EQ(c.state(), v1::COMPLETED);
  EXPECT_NE(c.resolution().find("registered at the counter"), std::string::npos) << c.resolution();
  v1::Stats st = Stats();
  EXPECT_EQ(st.completed(), 1u);
  EXPECT_EQ(st.attention(), 0u);
  // The rejection's turn is committed (the API showed it): no update told
  // the platform the case needs attention.
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM case_updates WHERE kind = " +
                              std::to_string(v1::CASE_NEEDS_ATTENTION)),
            0);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM case_updates WHERE kind = " + std::to_string(v1::CASE_RESOLVED)),
            1);
  // The rejection's audit record holds any case transition of its turn.
  ASSERT_TRUE(PollUntil(
      [&] { return broker_->QueryInt("SELECT COUNT(*) FROM audit WHERE body LIKE '%tax DELIVERED->REJECTED%'") == 1; },
      10000));
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM audit WHERE body LIKE '%->ATTENTION%'"), 0);
}

TEST_P(TrackingTest, ResolveByHandAndApiErrors) {
  ASSERT_NO_FATAL_FAILURE(StartBroker("agencies:\n  - id: tax\n    events: [ESTABLISHED]\n"));
  auto events = Sample(1, 1, 19, {});
  PublishAll(events);  // nobody consumes: stays IN_PROGRESS
  EXPECT_EQ(Post("/api/v1/cases/" + events[0].event_id() + "/resolve", "{}").first, 400);  // reason required
  auto [status, body] = Post("/api/v1/cases/" + events[0].event_id() + "/resolve", R"({"reason":"handled at the counter"})");
  ASSERT_EQ(status, 200) << body;
  v1::Case c = GetJson<v1::Case>("/api/v1/cases/" + events[0].event_id());
  EXPECT_EQ(c.state(), v1::COMPLETED);
  EXPECT_NE(c.resolution().find("handled at the counter"), std::string::npos);
  EXPECT_EQ(Post("/api/v1/cases/" + events[0].event_id() + "/resolve", R"({"reason":"again"})").first, 409);
  EXPECT_EQ(Get("/api/v1/cases/no-such-event").first, 404);
  EXPECT_EQ(Get("/api/v1/cases?status=DONE").first, 400);
  EXPECT_EQ(Get("/api/v1/cases?limit=0").first, 400);
  EXPECT_EQ(Get("/api/v1/cases?since=yesterday").first, 400);
  EXPECT_EQ(Get("/api/v1/enterprises/91350100M000100Y43").first, 404);
  auto [s404, err] = Get("/api/v1/nothing");
  EXPECT_EQ(s404, 404);
  v1::ApiError e;
  ASSERT_TRUE(json::Parse(err, &e).ok()) << err;
  EXPECT_EQ(e.code(), "NOT_FOUND");
}

std::vector<std::uint64_t> Sequences(const v1::CaseList& list) {
  std::vector<std::uint64_t> out;
  for (const auto& c : list.cases()) out.push_back(c.sequence());
  return out;
}

// The sequences of `cases` (newest first) that `keep` keeps.
template <typename F>
std::vector<std::uint64_t> SequencesWhere(const v1::CaseList& cases, F&& keep) {
  std::vector<std::uint64_t> out;
  for (const auto& c : cases.cases())
    if (keep(c)) out.push_back(c.sequence());
  return out;
}

bool Requires(const v1::Case& c, const std::string& agency) {
  for (const auto& a : c.agencies())
    if (a.agency() == agency) return true;
  return false;
}

// Every case one by one, each list filter and the cursor checked against
// them, and the enterprises' timelines and the statistics against the same
// cases.
TEST_P(TrackingTest, CaseListsFilterByEachFieldAndPageWithTheCursor) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  auto events = Sample(6, 2, 31, {"ICBC"});  // established, then changed
  std::vector<std::unique_ptr<Process>> agencies;
  agencies.push_back(Consume("tax", {"--reject-pattern", "[37]$"}));
  for (std::string a : {"social_insurance", "housing_fund", "bank:ICBC"}) agencies.push_back(Consume(a));
  PublishAll(events);
  ASSERT_TRUE(PollUntil(
      [&] {
        v1::Stats st = Stats();
        return st.cases() == events.size() && st.in_progress() == 0;
      },
      20000));

  const auto all = GetJson<v1::CaseList>("/api/v1/cases?limit=1000");
  ASSERT_EQ(static_cast<std::size_t>(all.cases_size()), events.size());
  EXPECT_EQ(all.next_cursor(), "");
  for (int i = 1; i < all.cases_size(); ++i) EXPECT_GT(all.cases(i - 1).sequence(), all.cases(i).sequence());
  std::set<std::string> usccs;
  for (const auto& c : all.cases()) {
    usccs.insert(c.uscc());
    EXPECT_TRUE(
        google::protobuf::util::MessageDifferencer::Equals(c, GetJson<v1::Case>("/api/v1/cases/" + c.event_id())))
        << c.event_id();
  }
  ASSERT_EQ(usccs.size(), 6u);
  // The default page is 50 cases: all of them here.
  EXPECT_EQ(Sequences(GetJson<v1::CaseList>("/api/v1/cases")), Sequences(all));

  for (const auto& uscc : usccs) {
    EXPECT_EQ(Sequences(GetJson<v1::CaseList>("/api/v1/cases?uscc=" + uscc)),
              SequencesWhere(all, [&](const v1::Case& c) { return c.uscc() == uscc; }))
        << uscc;
  }
  std::size_t attention = 0;
  for (v1::CaseState state : {v1::IN_PROGRESS, v1::COMPLETED, v1::ATTENTION}) {
    auto want = SequencesWhere(all, [&](const v1::Case& c) { return c.state() == state; });
    if (state == v1::ATTENTION) attention = want.size();
    EXPECT_EQ(Sequences(GetJson<v1::CaseList>("/api/v1/cases?status=" + v1::CaseState_Name(state))), want)
        << v1::CaseState_Name(state);
  }
  EXPECT_GT(attention, 0u);
  for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC", "nobody"}) {
    EXPECT_EQ(Sequences(GetJson<v1::CaseList>("/api/v1/cases?agency=" + agency)),
              SequencesWhere(all, [&](const v1::Case& c) { return Requires(c, agency); }))
        << agency;
  }
  EXPECT_EQ(GetJson<v1::CaseList>("/api/v1/cases?overdue=true").cases_size(), 0);
  EXPECT_EQ(Sequences(GetJson<v1::CaseList>("/api/v1/cases?overdue=false")), Sequences(all));
  // Published at or after the middle case's time.
  const auto middle = all.cases(all.cases_size() / 2).published_at();
  const Millis since = google::protobuf::util::TimeUtil::TimestampToMilliseconds(middle);
  EXPECT_EQ(
      Sequences(GetJson<v1::CaseList>("/api/v1/cases?since=" + google::protobuf::util::TimeUtil::ToString(middle))),
      SequencesWhere(all, [&](const v1::Case& c) {
        return google::protobuf::util::TimeUtil::TimestampToMilliseconds(c.published_at()) >= since;
      }));
  const std::string some_uscc = *usccs.begin();
  EXPECT_EQ(Sequences(GetJson<v1::CaseList>("/api/v1/cases?uscc=" + some_uscc + "&status=COMPLETED&agency=tax")),
            SequencesWhere(all, [&](const v1::Case& c) {
              return c.uscc() == some_uscc && c.state() == v1::COMPLETED && Requires(c, "tax");
            }));

  // Pages of 5, then pages of 2 of the COMPLETED cases: the cursor walks
  // each list whole, newest first.
  for (const std::string& query : {std::string("limit=5"), std::string("status=COMPLETED&limit=2")}) {
    std::vector<std::uint64_t> walked;
    std::string cursor;
    int pages = 0;
    do {
      auto page = GetJson<v1::CaseList>("/api/v1/cases?" + query + (cursor.empty() ? "" : "&cursor=" + cursor));
      ASSERT_LE(page.cases_size(), query == "limit=5" ? 5 : 2);
      for (auto seq : Sequences(page)) walked.push_back(seq);
      cursor = page.next_cursor();
      ASSERT_LT(++pages, 100) << query;
    } while (!cursor.empty());
    EXPECT_EQ(walked, query == "limit=5"
                          ? Sequences(all)
                          : SequencesWhere(all, [](const v1::Case& c) { return c.state() == v1::COMPLETED; }))
        << query;
  }

  // Each enterprise's timeline: its cases oldest first, and each agency's
  // latest reference from them.
  for (const auto& uscc : usccs) {
    SCOPED_TRACE(uscc);
    auto t = GetJson<v1::EnterpriseTimeline>("/api/v1/enterprises/" + uscc);
    std::vector<const v1::Case*> cases;
    for (int i = all.cases_size() - 1; i >= 0; --i)
      if (all.cases(i).uscc() == uscc) cases.push_back(&all.cases(i));
    ASSERT_EQ(static_cast<std::size_t>(t.events_size()), cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i)
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(t.events(static_cast<int>(i)), *cases[i]));
    EXPECT_EQ(t.name(), cases.back()->enterprise_name());
    EXPECT_EQ(t.last_revision(), cases.back()->revision());
    std::map<std::string, std::string> latest;  // agency -> reference, by settle time then sequence
    std::map<std::string, std::pair<Millis, std::uint64_t>> when;
    for (const auto* c : cases) {
      for (const auto& a : c->agencies()) {
        if (a.state() != v1::PROCESSED || a.reference().empty()) continue;
        std::pair<Millis, std::uint64_t> at{google::protobuf::util::TimeUtil::TimestampToMilliseconds(a.settled_at()),
                                            c->sequence()};
        if (!when.count(a.agency()) || at > when[a.agency()]) {
          when[a.agency()] = at;
          latest[a.agency()] = a.reference();
        }
      }
    }
    std::map<std::string, std::string> got;
    std::vector<std::string> order;
    for (const auto& r : t.references()) {
      got[r.agency()] = r.reference();
      order.push_back(r.agency());
    }
    EXPECT_EQ(got, latest);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  }
  EXPECT_EQ(Get("/api/v1/enterprises/91350100M000100Y43").first, 404);

  // The statistics count the same cases and results.
  v1::Stats st = Stats();
  EXPECT_EQ(st.cases(), events.size());
  EXPECT_EQ(st.attention(), attention);
  EXPECT_EQ(st.completed(), events.size() - attention);
  EXPECT_EQ(st.in_progress(), 0u);
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> results;  // processed, rejected
  for (const auto& c : all.cases()) {
    for (const auto& a : c.agencies()) {
      if (a.state() == v1::PROCESSED) ++results[a.agency()].first;
      if (a.state() == v1::REJECTED) ++results[a.agency()].second;
    }
  }
  ASSERT_EQ(static_cast<std::size_t>(st.agencies_size()), results.size());
  for (const auto& a : st.agencies()) {
    EXPECT_EQ(a.processed(), results[a.agency()].first) << a.agency();
    EXPECT_EQ(a.rejected(), results[a.agency()].second) << a.agency();
    EXPECT_EQ(a.pending(), 0u) << a.agency();
  }
  EXPECT_GT(st.case_median_ms(), 0);
}

bool HasProblem(const v1::AuditVerifyReport& r, const std::string& text) {
  for (const auto& p : r.problems())
    if (p.find(text) != std::string::npos) return true;
  return false;
}

// `yilian audit verify` on the store the broker runs on: intact beside the
// running broker and after it stopped; a delivery's state changed in the
// database, and an audit record edited, are caught.
TEST_P(TrackingTest, AuditVerifyChecksTheTrailAndEveryRow) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  auto events = Sample(3, 1, 37, {});
  {
    std::vector<std::unique_ptr<Process>> agencies;
    for (std::string a : {"tax", "social_insurance", "housing_fund"}) agencies.push_back(Consume(a));
    PublishAll(events);
    ASSERT_TRUE(PollUntil([&] { return Stats().completed() == 3; }, 20000));
    v1::AuditVerifyReport live = AuditVerify(0);
    EXPECT_GE(live.records(), 2u);
    EXPECT_EQ(live.cases_checked(), 3u);
    EXPECT_EQ(live.deliveries_checked(), 9u);
    EXPECT_EQ(live.problems_size(), 0);
  }
  ASSERT_EQ(broker_->Stop(), 0);
  v1::AuditVerifyReport stopped = AuditVerify(0);
  const long long records = broker_->QueryInt("SELECT COUNT(*) FROM audit");
  EXPECT_EQ(static_cast<long long>(stopped.records()), records);
  EXPECT_EQ(broker_->Query("SELECT value FROM meta WHERE key = 'audit_head'"),
            std::to_string(records) + ":" + stopped.head_hash());

  ASSERT_TRUE(broker_->Exec("UPDATE deliveries SET state = 4 WHERE id = (SELECT MIN(id) FROM deliveries)"));
  v1::AuditVerifyReport changed = AuditVerify(1);
  ASSERT_EQ(changed.mismatches_size(), 1) << changed.ShortDebugString();
  EXPECT_EQ(changed.mismatches(0).kind(), "delivery");
  EXPECT_EQ(changed.mismatches(0).stored(), "REJECTED");
  EXPECT_EQ(changed.mismatches(0).audited(), "PROCESSED");
  EXPECT_EQ(changed.mismatches(0).event_id(), broker_->Query("SELECT event_id FROM events WHERE seq = "
                                                             "(SELECT seq FROM deliveries WHERE id = "
                                                             "(SELECT MIN(id) FROM deliveries))"));

  ASSERT_TRUE(broker_->Exec("UPDATE audit SET body = body || ' and something else' WHERE id = 1"));
  v1::AuditVerifyReport edited = AuditVerify(1);
  EXPECT_TRUE(HasProblem(edited, "record 1: content does not match its hash (edited)")) << edited.ShortDebugString();

  // The store is named once: by its data directory or by its connection
  // string; an unreachable one exits 2.
  const std::string dir = broker_->dir();
  EXPECT_EQ(testing::RunCli(dir, {"audit", "verify"}).exit_code, 2);
  EXPECT_EQ(testing::RunCli(dir, {"audit", "verify", "--data-dir", broker_->data_dir(), "--postgresql", "dbname=x"})
                .exit_code,
            2);
  if (postgres()) {
    testing::CliRun down = testing::RunCli(
        dir, {"audit", "verify", "--postgresql",
              "host=127.0.0.1 port=" + std::to_string(testing::FreeTcpPort()) + " dbname=yilian connect_timeout=5"});
    EXPECT_EQ(down.exit_code, 2);
    EXPECT_NE(down.err.find("cannot connect to PostgreSQL"), std::string::npos) << down.err;
    testing::CliRun no_anchors = testing::RunCli(
        dir, {"audit", "verify", "--postgresql", postgres_->conninfo(), "--audit-key", dir + "/audit.key"});
    EXPECT_EQ(no_anchors.exit_code, 2);
    EXPECT_NE(no_anchors.err.find("--anchor-file"), std::string::npos) << no_anchors.err;
  }
}

}  // namespace
}  // namespace yilian

namespace yilian {
namespace {

// Parses Prometheus text exposition format 0.0.4 strictly enough to catch a
// malformed line: comments, and `name{label="value",...} number`.
bool ParsePrometheus(const std::string& text, std::map<std::string, double>* samples, std::string* error) {
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*,?)?\})? ([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN))( [0-9]+)?$)");
  static const std::regex kComment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]*( .*)?$)");
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (line.empty()) continue;
    std::smatch m;
    if (line[0] == '#') {
      if (!std::regex_match(line, kComment)) return *error = "line " + std::to_string(n) + ": " + line, false;
      continue;
    }
    if (!std::regex_match(line, m, kSample)) return *error = "line " + std::to_string(n) + ": " + line, false;
    std::string key = line.substr(0, line.rfind(' '));
    (*samples)[key] = std::stod(m[8].str() == "Inf" ? "inf" : m[8].str());
  }
  return true;
}

// Free text that reaches the store and the API (an agency's rejection
// reason, an operator's reason) holds phone and ID numbers in whatever form
// people write them: formatted, with a country code, in full-width digits.
// None of them is stored or served in clear.
TEST_P(TrackingTest, NumbersInFreeTextAreMaskedInEveryFormBeforeTheyAreStored) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  auto events = Sample(1, 1, 77, {});
  PublishAll(events);
  client::ClientOptions options;
  options.endpoint = broker_->endpoint();
  options.agency = "tax";
  client::Consumer tax(context_, options);
  const std::string reason =
      "法定代表人电话 138-1234-5678 / +86 139 0000 1111，身份证 110105 19491231 002X，联系人 １３８１２３４５６７８";
  bool answered = false;
  ASSERT_TRUE(PollUntil(
      [&] {
        if (auto d = tax.Receive(20)) {
          v1::Result r;
          r.set_sequence(d->sequence());
          r.set_event_id(d->event_id());
          r.set_agency("tax");
          r.set_attempt(d->attempt());
          r.set_outcome(v1::OUTCOME_REJECTED);
          r.set_reason(reason);
          tax.Answer(r);
          answered = true;
        }
        return answered && tax.unacknowledged() == 0;
      },
      15000));
  auto [status, body] =
      Post("/api/v1/cases/" + events[0].event_id() + "/resolve", "{\"reason\":\"" + reason + "\"}");
  ASSERT_EQ(status, 200) << body;
  std::string shown = Get("/api/v1/cases/" + events[0].event_id()).second;
  ASSERT_NE(shown.find("138****5678"), std::string::npos) << shown;
  const std::vector<std::string> secrets = {"1234-5678", "13812345678", "139 0000 1111", "13900001111",
                                            "19491231", "１２３４５６７８", "12345678"};
  for (const auto& secret : secrets) EXPECT_EQ(shown.find(secret), std::string::npos) << secret << " in " << shown;
  broker_->Stop();
  std::string raw;
  if (postgres()) {
    // Every text the database holds about the case, and the event itself.
    std::string error;
    raw = testing::Psql(postgres_->conninfo(),
                        "SELECT reason FROM deliveries UNION ALL SELECT resolution FROM events UNION ALL "
                        "SELECT body FROM audit UNION ALL SELECT encode(payload, 'escape') FROM events",
                        &error);
    ASSERT_EQ(error, "");
    ASSERT_NE(raw.find("138****5678"), std::string::npos) << raw;
  } else {
    raw = testing::ReadFile(broker_->data_dir() + "/yilian.db") +
          testing::ReadFile(broker_->data_dir() + "/yilian.db-wal");
  }
  for (const auto& secret : secrets) EXPECT_EQ(raw.find(secret), std::string::npos) << secret << " in the store";
}

TEST_P(TrackingTest, MetricsAreValidPrometheusTextAndCountTheWork) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  auto events = Sample(4, 1, 29, {});
  std::vector<std::unique_ptr<Process>> agencies;
  agencies.push_back(Consume("tax", {"--reject-pattern", "-2$"}));
  for (std::string a : {"social_insurance", "housing_fund"}) agencies.push_back(Consume(a));
  PublishAll(events);
  ASSERT_TRUE(PollUntil([&] { return Stats().in_progress() == 0; }, 20000));
  std::map<std::string, double> samples;
  ASSERT_TRUE(PollUntil([&] {
    samples.clear();
    auto [status, body] = Get("/metrics");
    std::string error;
    EXPECT_EQ(status, 200);
    EXPECT_TRUE(ParsePrometheus(body, &samples, &error)) << error;
    return samples["yilian_queue_depth{agency=\"tax\"}"] == 0 && samples.count("yilian_sessions{role=\"CONSUMER\"}") &&
           samples["yilian_sessions{role=\"CONSUMER\"}"] == 3;
  }, 10000));
  EXPECT_EQ(samples["yilian_publishes_total{result=\"accepted\"}"], 4);
  EXPECT_EQ(samples["yilian_deliveries_total{agency=\"tax\"}"], 4);
  EXPECT_EQ(samples["yilian_results_total{agency=\"tax\",outcome=\"rejected\"}"], 1);
  EXPECT_EQ(samples["yilian_results_total{agency=\"tax\",outcome=\"processed\"}"], 3);
  EXPECT_EQ(samples["yilian_case_completion_seconds_count"], 3);
  EXPECT_GT(samples["yilian_store_commit_seconds_count"], 0);
  EXPECT_TRUE(samples.count("yilian_oldest_waiting_seconds{agency=\"tax\"}"));
  // /healthz and /readyz besides.
  EXPECT_EQ(Get("/healthz").first, 200);
  EXPECT_EQ(Get("/readyz").first, 200);
}

}  // namespace
}  // namespace yilian

namespace yilian {
namespace {

// The HTTP API reads PostgreSQL on a pool of store.postgresql.pool_size
// connections of its own: concurrent requests open more than one, and
// never more than the pool (the broker writes on one connection besides).
TEST(HttpReaderPoolTest, ConcurrentRequestsReadOnAtMostPoolSizeConnections) {
  std::string error;
  auto postgres = testing::TestPostgres::Start({}, &error);
  ASSERT_TRUE(postgres) << error;
  BrokerProcess broker("", postgres->conninfo(), "pool_size: 3");
  broker.Start();
  auto connections = [&] {
    const std::string n = postgres->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'yilian'");
    return n.empty() ? -1 : std::stoi(n);
  };
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", broker.http_port());
      while (!stop.load()) {
        auto r = c.Get("/api/v1/stats");
        (r && r->status == 200 ? answered : failed).fetch_add(1);
      }
    });
  }
  int most = 0;
  const bool filled = PollUntil(
      [&] {
        most = std::max(most, connections());
        return most >= 4;
      },
      10000);
  // Under the same load, a while longer: the pool is not exceeded.
  for (int i = 0; i < 50; ++i) most = std::max(most, connections());
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_TRUE(filled) << "concurrent requests used " << most - 1 << " reader connection(s)";
  EXPECT_EQ(most, 1 + 3) << "one writer and at most pool_size readers";
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(failed.load(), 0);
}

}  // namespace
}  // namespace yilian
