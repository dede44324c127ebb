// Log injection against a real broker: client names, agency ids, event ids,
// an agency's reason, an enterprise name, operator reasons and HTTP paths
// carrying a newline with a forged log line, a CR, an ANSI escape and a
// right-to-left override. None of them may write a line of its own into
// the broker's log or the audit trail, or reach the log, the audit records
// or the HTTP API with those characters raw; the escaped forms are there.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <functional>
#include <map>
#include <sstream>

#include "cli/sample.h"
#include "client/consumer.h"
#include "client/publisher.h"
#include "testing/broker_fixture.h"
#include "validation/json.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;

// A complete log line in the broker's own format, after a newline.
const std::string kForgedStart = "2026-12-06T10:00:00.000+0800 info [broker] forged";
const std::string kForged = "\n" + kForgedStart + " line";
const std::string kRlo = "\xE2\x80\xAE";  // U+202E RIGHT-TO-LEFT OVERRIDE
// What a reader may never find raw.
const std::string kRaw[] = {"\x1b", "\r", kRlo};

const std::string kClientName = "adapter\r\x1b[31m" + kRlo + kForged;
// Cut at 64 bytes: the escapes and the start of the forged line are kept.
const std::string kClientNameEscaped = "adapter\\r\\x1b[31m\\u202e\\n2026-12-06T10:00:00.000+0800 info [b";

const std::string kReason = "refused\r\x1b[31m red " + kRlo + "desrever" + kForged + " tel 13812345678";
const std::string kReasonEscaped =
    "refused\\r\\x1b[31m red \\u202edesrever\\n2026-12-06T10:00:00.000+0800 info [broker] forged line tel "
    "138****5678";
// The same reason in a JSON request body, and what the broker makes of it.
const std::string kReasonJson =
    "operator\\r\\u001b[31m \\u202e\\n2026-12-06T10:00:00.000+0800 info [broker] forged line";
const std::string kOperatorEscaped =
    "operator\\r\\x1b[31m \\u202e\\n2026-12-06T10:00:00.000+0800 info [broker] forged line";

class LogInjectionTest : public ::testing::Test {
 protected:
  void StartBroker(const std::string& yaml) {
    broker_ = std::make_unique<BrokerProcess>("agencies:\n  - id: tax\n    events: [ESTABLISHED]\n" + yaml);
    broker_->Start();
    ASSERT_TRUE(PollUntil([&] { return Get("/readyz").first == 200; }, 10000));
  }

  std::pair<int, std::string> Get(const std::string& path) {
    httplib::Client c("127.0.0.1", broker_->http_port());
    auto r = c.Get(path.c_str());
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  }
  std::pair<int, std::string> Post(const std::string& path, const std::string& body, const std::string& token = "") {
    httplib::Client c("127.0.0.1", broker_->http_port());
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto r = c.Post(path.c_str(), headers, body, "application/json");
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  }

  // Publishes under a hostile client name; the acks' statuses in the
  // order of `events`.
  std::vector<v1::PublishStatus> Publish(const std::vector<v1::EnterpriseEvent>& events) {
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    options.name = kClientName;
    client::Publisher publisher(context_, options);
    std::map<std::uint64_t, std::size_t> index;
    for (std::size_t i = 0; i < events.size(); ++i) index[publisher.Publish(events[i])] = i;
    std::vector<v1::PublishStatus> statuses(events.size(), v1::PublishStatus{});
    std::size_t acked = 0;
    EXPECT_TRUE(PollUntil(
        [&] {
          publisher.Poll(20, [&](std::uint64_t correlation_id, const v1::PublishAck& a) {
            statuses[index.at(correlation_id)] = a.status();
            ++acked;
          });
          return acked == events.size();
        },
        20000));
    return statuses;
  }

  std::unique_ptr<client::Consumer> MakeConsumer(const std::string& agency) {
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    options.role = v1::CONSUMER;
    options.agency = agency;
    options.credit = 4;
    options.name = kClientName;
    return std::make_unique<client::Consumer>(context_, options);
  }

  std::string Log() { return testing::ReadFile(broker_->log_path()); }

  void TearDown() override {
    broker_.reset();
    if (!tokens_dir_.empty()) testing::RemoveTree(tokens_dir_);
  }

  zmq::context_t context_{1};
  std::unique_ptr<BrokerProcess> broker_;
  std::string tokens_dir_;
};

// Where any of kRaw occurs in `text`, for the failure message ("" if none).
std::string RawFound(const std::string& text) {
  for (const std::string& raw : kRaw) {
    auto at = text.find(raw);
    if (at != std::string::npos) {
      std::size_t from = at < 60 ? 0 : at - 60;
      return "raw byte(s) " + std::to_string(static_cast<unsigned char>(raw[0])) + " at " + std::to_string(at) +
             " after: " + text.substr(from, at - from);
    }
  }
  return "";
}

// Every string of a JSON answer, decoded (the JSON printer writes U+202E
// and controls as \u escapes, which a browser turns back into the raw
// characters), one per line.
std::string JsonStrings(const std::string& body) {
  google::protobuf::Value value;
  if (!google::protobuf::util::JsonStringToMessage(body, &value).ok()) return "<not JSON: " + body + ">";
  std::string out;
  std::function<void(const google::protobuf::Value&)> walk = [&](const google::protobuf::Value& v) {
    if (v.kind_case() == google::protobuf::Value::kStringValue) out += v.string_value() + "\n";
    for (const auto& item : v.list_value().values()) walk(item);
    for (const auto& [key, field] : v.struct_value().fields()) {
      out += key + "\n";
      walk(field);
    }
  };
  walk(value);
  return out;
}

v1::EnterpriseEvent SampleEvent() {
  sample::SampleOptions o;
  o.seed = 41;
  o.enterprises = 1;
  o.events_per_enterprise = 1;
  o.deregister_fraction = 0;
  o.banks = {};
  return sample::Generate(o).at(0);
}

// No line of the log starts with the forged time stamp, none of kRaw is in
// it, and no mobile number.
void ExpectNothingForged(const std::string& log) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);)
    EXPECT_NE(line.rfind(kForgedStart.substr(0, 23), 0), 0u) << "a forged line in the broker log: " << line;
  EXPECT_EQ(RawFound(log), "");
  EXPECT_EQ(log.find("13812345678"), std::string::npos);
}

TEST_F(LogInjectionTest, ClientTextIsEscapedInTheLogTheAuditTrailAndTheApi) {
  StartBroker("retry:\n  max_attempts: 1\n");
  v1::EnterpriseEvent event = SampleEvent();
  event.mutable_enterprise()->set_name("厦门" + kRlo + "\x1b[31m鹭岛科技有限公司" + kForged);
  const std::string id = event.event_id();
  // An event refused by validation: its id is logged before it is checked.
  v1::EnterpriseEvent invalid = SampleEvent();
  invalid.set_event_id("bad-id" + kForged);
  auto statuses = Publish({event, invalid});
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_NE(statuses[0], v1::REFUSED);
  EXPECT_EQ(statuses[1], v1::REFUSED);

  // A consumer for an agency that is not configured.
  auto stranger = MakeConsumer("nowhere" + kForged);
  ASSERT_TRUE(
      PollUntil([&] { return stranger->Receive(10), Log().find("unknown agency") != std::string::npos; }, 10000));
  stranger.reset();

  // The agency asks for a retry on the last allowed attempt: a dead letter,
  // logged with the agency's reason.
  auto tax = MakeConsumer("tax");
  std::optional<v1::Deliver> d;
  ASSERT_TRUE(PollUntil([&] { return (d = tax->Receive(20)).has_value(); }, 15000));
  v1::Result r;
  r.set_sequence(d->sequence());
  r.set_event_id(d->event_id());
  r.set_agency("tax");
  r.set_outcome(v1::OUTCOME_RETRY);
  r.set_attempt(d->attempt());
  r.set_reason(kReason);
  tax->Answer(r);
  ASSERT_TRUE(PollUntil(
      [&] {
        tax->Receive(10);
        return broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state = 5") == 1;
      },
      15000));

  // The agency's reason and the enterprise's name as the API shows them.
  auto [case_status, case_body] = Get("/api/v1/cases/" + id);
  ASSERT_EQ(case_status, 200) << case_body;
  EXPECT_EQ(RawFound(JsonStrings(case_body)), "");
  v1::Case c;
  ASSERT_TRUE(json::Parse(case_body, &c).ok()) << case_body;
  ASSERT_EQ(c.agencies_size(), 1);
  EXPECT_EQ(c.agencies(0).reason(), kReasonEscaped);
  EXPECT_EQ(c.enterprise_name(), "厦门\\u202e\\x1b[31m鹭岛科技有限公司\\n" + kForgedStart + " line");
  auto [list_status, list_body] = Get("/api/v1/cases");
  ASSERT_EQ(list_status, 200);
  EXPECT_EQ(RawFound(JsonStrings(list_body)), "");
  auto [timeline_status, timeline_body] = Get("/api/v1/enterprises/" + event.uscc());
  ASSERT_EQ(timeline_status, 200) << timeline_body;
  EXPECT_EQ(RawFound(JsonStrings(timeline_body)), "");

  // Operator actions (as "dev" in --insecure-dev) with the same kind of
  // reason; each is audited.
  const std::string body = "{\"reason\":\"" + kReasonJson + "\"}";
  auto [resolve_status, resolve_body] = Post("/api/v1/cases/" + id + "/resolve", body);
  ASSERT_EQ(resolve_status, 200) << resolve_body;
  auto [retry_status, retry_body] = Post("/api/v1/cases/" + id + "/agencies/tax/retry", body);
  ASSERT_EQ(retry_status, 200) << retry_body;
  auto [replay_status, replay_body] =
      Post("/api/v1/agencies/tax/replay", "{\"since\":\"2026-01-01T00:00:00Z\",\"reason\":\"" + kReasonJson + "\"}");
  ASSERT_EQ(replay_status, 200) << replay_body;
  auto [after_status, after_body] = Get("/api/v1/cases/" + id);
  ASSERT_EQ(after_status, 200);
  EXPECT_EQ(RawFound(JsonStrings(after_body)), "");
  ASSERT_TRUE(json::Parse(after_body, &c).ok()) << after_body;
  EXPECT_EQ(c.resolution(), "resolved by dev: " + kOperatorEscaped);

  // Paths: an unknown event id in an action and an unknown endpoint.
  auto [nope_status, nope_body] = Post("/api/v1/cases/nope%0D%1B%E2%80%AE%0Aforged/resolve", body);
  EXPECT_EQ(nope_status, 404);
  EXPECT_EQ(RawFound(JsonStrings(nope_body)), "");
  v1::ApiError error;
  ASSERT_TRUE(json::Parse(nope_body, &error).ok()) << nope_body;
  EXPECT_EQ(error.message(), "no event 'nope\\r\\x1b\\u202e\\nforged'");
  auto [missing_status, missing_body] = Get("/api/v1/nothing%0A" + kForgedStart + "%1B%E2%80%AE");
  EXPECT_EQ(missing_status, 404);
  EXPECT_EQ(RawFound(JsonStrings(missing_body)), "");
  ASSERT_TRUE(json::Parse(missing_body, &error).ok()) << missing_body;
  EXPECT_EQ(error.message().find('\n'), std::string::npos) << error.message();

  // The audit trail: every line of every record is one the broker wrote.
  ASSERT_TRUE(
      PollUntil([&] { return broker_->QueryInt("SELECT COUNT(*) FROM audit WHERE kind = 'replay'") == 1; }, 10000));
  std::string audit;
  for (long long n = broker_->QueryInt("SELECT MAX(id) FROM audit"), i = 1; i <= n; ++i) {
    std::string where = " FROM audit WHERE id = " + std::to_string(i);
    std::string kind = broker_->Query("SELECT kind" + where);
    std::string record =
        broker_->Query("SELECT actor" + where) + " " + kind + " " + broker_->Query("SELECT body" + where);
    EXPECT_EQ(RawFound(record), "") << "audit record " << i;
    if (kind == "transitions") {
      std::istringstream lines(broker_->Query("SELECT body" + where));
      for (std::string line; std::getline(lines, line);)
        EXPECT_TRUE(line.rfind("delivery seq=", 0) == 0 || line.rfind("case seq=", 0) == 0)
            << "audit record " << i << " has a line the broker did not write: " << line;
    }
    audit += record + "\n";
  }
  EXPECT_NE(audit.find("by=" + kClientNameEscaped), std::string::npos) << audit;
  for (std::string kind : {"resolve", "retry", "replay"})
    EXPECT_NE(audit.find(kind + " "), std::string::npos) << kind << " not audited:\n" << audit;
  std::size_t reasons = 0;
  for (std::size_t at = 0; (at = audit.find("reason=" + kOperatorEscaped, at)) != std::string::npos; ++at) ++reasons;
  EXPECT_EQ(reasons, 3u) << audit;

  // The log: no forged line, nothing raw, the escaped forms, no phone.
  std::string log;
  ASSERT_TRUE(PollUntil(
      [&] {
        log = Log();
        return log.find("operator dev replays") != std::string::npos;
      },
      10000));
  ExpectNothingForged(log);
  for (const std::string& escaped :
       {"opened: PUBLISHER '" + kClientNameEscaped, "opened: CONSUMER '" + kClientNameEscaped,
        "refused event bad-id\\n" + kForgedStart + " line", "unknown agency 'nowhere\\n" + kForgedStart,
        "agency asked to retry: " + kReasonEscaped})
    EXPECT_NE(log.find(escaped), std::string::npos) << "not in the log: " << escaped;
}

// HTTP paths in the refusals of the token check, and token identities
// (the actor of log lines, audit records and resolutions).
TEST_F(LogInjectionTest, HttpPathsAndTokenIdentitiesAreEscaped) {
  const std::string admin_token(40, 'a'), observer_token(40, 'o'), unknown_token(40, 'x');
  tokens_dir_ = testing::MakeTempDir("yilian-log-injection-tokens");
  const std::string tokens = tokens_dir_ + "/tokens.yaml";
  // YAML double-quoted escapes: \e is ESC.
  testing::WriteFile(tokens, "tokens:\n  - {identity: \"ops\\e[31m\\u202e\\n" + kForgedStart +
                                 " line\", role: admin, token: \"" + admin_token + "\"}\n  - {identity: \"watch\\r\\n" +
                                 kForgedStart + "\", role: observer, token: \"" + observer_token + "\"}\n");
  chmod(tokens.c_str(), 0600);
  StartBroker("security:\n  tokens_file: " + tokens + "\n");
  v1::EnterpriseEvent event = SampleEvent();
  ASSERT_EQ(Publish({event}), std::vector<v1::PublishStatus>{v1::ACCEPTED});

  const std::string hostile_path = "/api/v1/cases/x%0D%1B%E2%80%AE%0A" + kForgedStart + "/resolve";
  const std::string body = R"({"reason":"handled at the counter"})";
  EXPECT_EQ(Post(hostile_path, body, unknown_token).first, 401);
  EXPECT_EQ(Post(hostile_path, body, observer_token).first, 403);
  auto [status, answer] = Post("/api/v1/cases/" + event.event_id() + "/resolve", body, admin_token);
  ASSERT_EQ(status, 200) << answer;

  // Cut at 64 bytes.
  const std::string actor = "ops\\x1b[31m\\u202e\\n2026-12-06T10:00:00.000+0800 info [broker]";
  EXPECT_EQ(broker_->Query("SELECT actor FROM audit WHERE kind = 'resolve'").rfind(actor, 0), 0u);
  auto [case_status, case_body] = Get("/api/v1/cases/" + event.event_id());
  ASSERT_EQ(case_status, 200);
  v1::Case c;
  ASSERT_TRUE(json::Parse(case_body, &c).ok()) << case_body;
  EXPECT_EQ(c.resolution().rfind("resolved by " + actor, 0), 0u) << c.resolution();
  EXPECT_EQ(RawFound(JsonStrings(case_body)), "");

  std::string log;
  ASSERT_TRUE(PollUntil(
      [&] {
        log = Log();
        return log.find("resolved case " + event.event_id()) != std::string::npos;
      },
      10000));
  ExpectNothingForged(log);
  const std::string path_escaped = "/api/v1/cases/x\\r\\x1b\\u202e\\n" + kForgedStart + "/resolve";
  for (const std::string& escaped :
       {"refused POST " + path_escaped + " from 127.0.0.1: unknown bearer token",
        "refused POST " + path_escaped + ": identity 'watch\\r\\n" + kForgedStart + "' is not admin",
        "operator " + actor})
    EXPECT_NE(log.find(escaped), std::string::npos) << "not in the log: " << escaped;
}

}  // namespace
}  // namespace yilian
