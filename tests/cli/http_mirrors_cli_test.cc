// `yilian case show`, `cases`, `enterprise show` and `stats` against a real
// broker with `yilian consume` agencies (tax rejecting one case): the JSON
// line each prints is the API's answer, API errors exit 1 with the message
// on stderr, usage and connection errors exit 2.
#include <httplib.h>

#include <mutex>
#include <thread>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "cli/sample.h"
#include "cli_run.h"
#include "client/publisher.h"
#include "testing/broker_fixture.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::CliRun;
using testing::PollUntil;
using testing::Process;

template <typename M>
M ParseLine(const CliRun& run) {
  M m;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(run.out.empty());
  EXPECT_EQ(run.out.find('\n'), run.out.size() - 1) << "not one line: " << run.out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &m).ok()) << run.out;
  return m;
}

class HttpMirrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>();
    broker_->Start();
    http_ = "127.0.0.1:" + std::to_string(broker_->http_port());

    sample::SampleOptions o;
    o.seed = 7;
    o.enterprises = 2;
    o.events_per_enterprise = 1;
    o.deregister_fraction = 0;
    o.banks = {"ICBC"};
    events_ = sample::Generate(o);
    ASSERT_EQ(events_.size(), 2u);
    zmq::context_t context(1);
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    client::Publisher publisher(context, options);
    for (const auto& e : events_) publisher.Publish(e);
    std::size_t confirmed = 0;
    ASSERT_TRUE(PollUntil(
        [&] {
          publisher.Poll(20, [&](std::uint64_t, const v1::PublishAck&) { ++confirmed; });
          return confirmed == events_.size();
        },
        20000));

    for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"}) {
      std::vector<std::string> argv = {testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency",
                                       agency};
      if (agency == "tax") argv.insert(argv.end(), {"--reject-pattern", "^" + events_[1].event_id() + "$"});
      consumers_.push_back(Process::Start(argv, "", broker_->dir() + "/consume-" + agency + ".err"));
    }
    // Settled: every delivery PROCESSED, REJECTED or DEAD, and both cases out
    // of IN_PROGRESS.
    ASSERT_TRUE(PollUntil(
        [&] {
          return broker_->QueryInt("SELECT COUNT(*) FROM deliveries") == 8 &&
                 broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state < 3") == 0 &&
                 broker_->QueryInt("SELECT COUNT(*) FROM events WHERE case_state = 1") == 0;
        },
        30000));
  }

  CliRun Yilian(std::vector<std::string> args) { return testing::RunCli(broker_->dir(), args); }

  // The API's own answer, to compare with what the CLI printed.
  std::string ApiBody(const std::string& path) {
    httplib::Client c("127.0.0.1", broker_->http_port());
    auto r = c.Get(path.c_str());
    return r ? r->body : "";
  }

  std::unique_ptr<BrokerProcess> broker_;
  std::vector<std::unique_ptr<Process>> consumers_;
  std::vector<v1::EnterpriseEvent> events_;
  std::string http_;
};

TEST_F(HttpMirrorsTest, CaseShowPrintsTheApisJsonAndExitsOneOnNotFound) {
  const std::string& id = events_[0].event_id();
  CliRun run = Yilian({"case", "show", id, "--http", http_});
  auto c = ParseLine<v1::Case>(run);
  EXPECT_EQ(run.out, ApiBody("/api/v1/cases/" + id) + "\n");
  EXPECT_EQ(c.event_id(), id);
  EXPECT_EQ(c.uscc(), events_[0].uscc());
  EXPECT_EQ(c.state(), v1::COMPLETED);
  EXPECT_EQ(c.agencies_size(), 4);

  auto rejected = ParseLine<v1::Case>(Yilian({"case", "show", events_[1].event_id(), "--http", http_}));
  EXPECT_EQ(rejected.state(), v1::ATTENTION);

  run = Yilian({"case", "show", "no-such-event", "--http", http_});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("NOT_FOUND: no case for event 'no-such-event' (HTTP 404)"), std::string::npos) << run.err;

  // Characters that mean something in a URL are sent escaped, so the API
  // looks up the id as typed.
  run = Yilian({"case", "show", "a c?d#e", "--http", http_});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("no case for event 'a c?d#e'"), std::string::npos) << run.err;

  EXPECT_EQ(Yilian({"case", "show", "--http", http_}).exit_code, 2);  // EVENT_ID missing
  EXPECT_EQ(Yilian({"case"}).exit_code, 2);                           // no subcommand
}

TEST_F(HttpMirrorsTest, CasesFiltersAndPagesLikeTheApi) {
  auto all = ParseLine<v1::CaseList>(Yilian({"cases", "--http", http_}));
  ASSERT_EQ(all.cases_size(), 2);
  EXPECT_EQ(all.cases(0).event_id(), events_[1].event_id());  // newest first
  EXPECT_EQ(all.next_cursor(), "");

  auto attention = ParseLine<v1::CaseList>(Yilian({"cases", "--status", "ATTENTION", "--http", http_}));
  ASSERT_EQ(attention.cases_size(), 1);
  EXPECT_EQ(attention.cases(0).event_id(), events_[1].event_id());

  auto by_uscc = ParseLine<v1::CaseList>(Yilian({"cases", "--uscc", events_[0].uscc(), "--http", http_}));
  ASSERT_EQ(by_uscc.cases_size(), 1);
  EXPECT_EQ(by_uscc.cases(0).event_id(), events_[0].event_id());

  EXPECT_EQ(ParseLine<v1::CaseList>(Yilian({"cases", "--agency", "bank:ICBC", "--http", http_})).cases_size(), 2);
  EXPECT_EQ(ParseLine<v1::CaseList>(Yilian({"cases", "--agency", "bank:CCB", "--http", http_})).cases_size(), 0);
  EXPECT_EQ(ParseLine<v1::CaseList>(Yilian({"cases", "--overdue", "--http", http_})).cases_size(), 0);
  EXPECT_EQ(
      ParseLine<v1::CaseList>(Yilian({"cases", "--since", "2000-01-01T00:00:00Z", "--http", http_})).cases_size(), 2);
  EXPECT_EQ(
      ParseLine<v1::CaseList>(Yilian({"cases", "--since", "2999-01-01T00:00:00Z", "--http", http_})).cases_size(), 0);

  auto first = ParseLine<v1::CaseList>(Yilian({"cases", "--limit", "1", "--http", http_}));
  ASSERT_EQ(first.cases_size(), 1);
  ASSERT_NE(first.next_cursor(), "");
  auto second =
      ParseLine<v1::CaseList>(Yilian({"cases", "--limit", "1", "--cursor", first.next_cursor(), "--http", http_}));
  ASSERT_EQ(second.cases_size(), 1);
  EXPECT_EQ(second.cases(0).event_id(), events_[0].event_id());

  // Refused by the API: exit 1 with its message.
  CliRun run = Yilian({"cases", "--cursor", "not-a-number", "--http", http_});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("INVALID_ARGUMENT: limit and cursor must be numbers (HTTP 400)"), std::string::npos)
      << run.err;
  // Refused before asking: usage errors exit 2.
  EXPECT_EQ(Yilian({"cases", "--status", "DONE", "--http", http_}).exit_code, 2);
  EXPECT_EQ(Yilian({"cases", "--limit", "0", "--http", http_}).exit_code, 2);
  EXPECT_EQ(Yilian({"cases", "--since", "yesterday", "--http", http_}).exit_code, 2);
}

TEST_F(HttpMirrorsTest, EnterpriseShowPrintsTheTimelineAndExitsOneOnNotFound) {
  const std::string& uscc = events_[1].uscc();
  CliRun run = Yilian({"enterprise", "show", uscc, "--http", http_});
  auto t = ParseLine<v1::EnterpriseTimeline>(run);
  EXPECT_EQ(run.out, ApiBody("/api/v1/enterprises/" + uscc) + "\n");
  EXPECT_EQ(t.uscc(), uscc);
  ASSERT_EQ(t.events_size(), 1);
  EXPECT_EQ(t.events(0).event_id(), events_[1].event_id());

  run = Yilian({"enterprise", "show", "91350100M000100Y43", "--http", http_});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("NOT_FOUND: no events for enterprise '91350100M000100Y43'"), std::string::npos) << run.err;
}

TEST_F(HttpMirrorsTest, StatsPrintsTheCountsForTheWindow) {
  auto st = ParseLine<v1::Stats>(Yilian({"stats", "--http", http_}));
  EXPECT_EQ(st.cases(), 2u);
  EXPECT_EQ(st.completed(), 1u);
  EXPECT_EQ(st.attention(), 1u);
  EXPECT_DOUBLE_EQ(st.completion_rate(), 0.5);
  EXPECT_EQ(st.window_seconds(), 86400u);  // the broker's default
  ASSERT_EQ(st.agencies_size(), 4);

  st = ParseLine<v1::Stats>(Yilian({"stats", "--window", "3600", "--http", http_}));
  EXPECT_EQ(st.window_seconds(), 3600u);
  EXPECT_EQ(Yilian({"stats", "--window", "5", "--http", http_}).exit_code, 2);
}

TEST_F(HttpMirrorsTest, UnreachableOrMalformedAddressesExitTwo) {
  std::string closed = "127.0.0.1:" + std::to_string(testing::FreeTcpPort());
  for (const auto& args : std::vector<std::vector<std::string>>{{"stats", "--http", closed},
                                                                {"cases", "--http", closed},
                                                                {"case", "show", "x", "--http", closed},
                                                                {"enterprise", "show", "x", "--http", closed}}) {
    CliRun run = Yilian(args);
    EXPECT_EQ(run.exit_code, 2) << args[0];
    EXPECT_NE(run.err.find("cannot reach the broker's HTTP API at " + closed), std::string::npos) << run.err;
  }
  CliRun run = Yilian({"stats", "--http", "localhost"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("is not HOST:PORT"), std::string::npos) << run.err;
  EXPECT_EQ(Yilian({"stats", "--http", "127.0.0.1:99999"}).exit_code, 2);
}

// Errors other than 404 and the bearer token, against a stand-in server
// (the broker answers 503 only when its store fails).
TEST(HttpMirrorsErrorsTest, ApiErrorsExitOneAndTheTokenIsSent) {
  std::string dir = testing::MakeTempDir("yilian-cli-http");
  httplib::Server server;
  std::string authorization;
  std::mutex mu;
  server.Get(R"(/api/v1/.*)", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    authorization = req.get_header_value("Authorization");
    res.status = 503;
    res.set_content(R"({"code":"UNAVAILABLE","message":"store unavailable: disk I/O error"})", "application/json");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  std::string http = "127.0.0.1:" + std::to_string(port);
  testing::WriteFile(dir + "/token", "s3cret-token\n");

  for (const auto& args : std::vector<std::vector<std::string>>{
           {"stats", "--http", http, "--token-file", dir + "/token"},
           {"cases", "--http", http, "--token-file", dir + "/token"},
           {"case", "show", "ev-1", "--http", http, "--token-file", dir + "/token"},
           {"enterprise", "show", "91350100M000100Y43", "--http", http, "--token-file", dir + "/token"}}) {
    CliRun run = testing::RunCli(dir, args);
    EXPECT_EQ(run.exit_code, 1) << args[0];
    EXPECT_EQ(run.out, "");
    EXPECT_NE(run.err.find("UNAVAILABLE: store unavailable: disk I/O error (HTTP 503)"), std::string::npos)
        << run.err;
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(authorization, "Bearer s3cret-token") << args[0];
  }
  EXPECT_EQ(testing::RunCli(dir, {"stats", "--http", http, "--token-file", dir + "/missing"}).exit_code, 2);

  server.stop();
  thread.join();
  testing::RemoveTree(dir);
}

}  // namespace
}  // namespace yilian
