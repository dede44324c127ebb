// One-stop completion tracking against a real broker: case and agency
// states over the HTTP API, statistics, case updates to `yilian watch`,
// enterprise relations, deadlines, and operator retry and replay keeping
// per-enterprise order.
#include <signal.h>

#include <httplib.h>

#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "cli/sample.h"
#include "client/consumer.h"
#include "client/publisher.h"
#include "client/watcher.h"
#include "testing/broker_fixture.h"
#include "validation/json.h"
#include "yilian/v1/tools.pb.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

class TrackingTest : public ::testing::Test {
 protected:
  void StartBroker(const std::string& yaml = "") {
    broker_ = std::make_unique<BrokerProcess>(yaml);
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

  zmq::context_t context_{1};
  int http_port_ = 0;
  std::unique_ptr<BrokerProcess> broker_;
};

std::vector<v1::EnterpriseEvent> Sample(int enterprises, int per, std::uint64_t seed, std::vector<std::string> banks) {
  sample::SampleOptions o;
  o.seed = seed;
  o.enterprises = enterprises;
  o.events_per_enterprise = per;
  o.deregister_fraction = 0;
  o.banks = std::move(banks);
  return sample::Generate(o);
}

TEST_F(TrackingTest, CasesCompleteOrNeedAttentionAndThePlatformHearsOfEach) {
  StartBroker();
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

TEST_F(TrackingTest, CaseUpdatesAreRedeliveredUntilAcknowledged) {
  StartBroker();
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

TEST_F(TrackingTest, ChangesGoToTheBankHoldingTheAccountWithoutAReservation) {
  StartBroker();
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

TEST_F(TrackingTest, MissedDeadlinesAreFlaggedCountedAndReported) {
  StartBroker(
      "agencies:\n  - id: tax\n    events: [ESTABLISHED]\n    deadline_ms: 300\n"
      "  - id: social_insurance\n    events: [ESTABLISHED]\n");
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

TEST_F(TrackingTest, ReplayRedeliversAnAgencysEventsInPerEnterpriseOrder) {
  StartBroker();
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

TEST_F(TrackingTest, RetryOfARejectedDeliveryDeliversItAgainAndCompletesTheCase) {
  StartBroker("agencies:\n  - id: tax\n    events: [ESTABLISHED, CHANGED, FILED]\n");
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
TEST_F(TrackingTest, AResolvedCaseStaysCompletedWhenItsDeliveryIsRejectedLater) {
  StartBroker("agencies:\n  - id: tax\n    events: [ESTABLISHED]\n");
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

TEST_F(TrackingTest, ResolveByHandAndApiErrors) {
  StartBroker("agencies:\n  - id: tax\n    events: [ESTABLISHED]\n");
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
TEST_F(TrackingTest, NumbersInFreeTextAreMaskedInEveryFormBeforeTheyAreStored) {
  StartBroker();
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
  std::string raw = testing::ReadFile(broker_->data_dir() + "/yilian.db") +
                    testing::ReadFile(broker_->data_dir() + "/yilian.db-wal");
  for (const auto& secret : secrets) EXPECT_EQ(raw.find(secret), std::string::npos) << secret << " in the store";
}

TEST_F(TrackingTest, MetricsAreValidPrometheusTextAndCountTheWork) {
  StartBroker();
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
