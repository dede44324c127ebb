// CURVE identities and roles against a real broker: unknown keys refused at
// the handshake, every message checked against the role of its key, key
// rotation and revocation without a restart, HTTP bearer tokens, and the
// rules of --insecure-dev.
#include <signal.h>
#include <sys/stat.h>

#include <httplib.h>

#include <map>
#include <set>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "auth/keys.h"
#include "security/field_filter.h"
#include "validation/json.h"
#include "yilian/v1/tracking.pb.h"
#include "cli/sample.h"
#include "client/consumer.h"
#include "client/publisher.h"
#include "testing/broker_fixture.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;

// Sample events without deregistrations or banks.
std::vector<v1::EnterpriseEvent> Sample(std::uint64_t seed, int enterprises, int per_enterprise) {
  sample::SampleOptions so;
  so.seed = seed;
  so.enterprises = enterprises;
  so.events_per_enterprise = per_enterprise;
  so.deregister_fraction = 0;
  so.banks = {};
  return sample::Generate(so);
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>();
    dir_ = broker_->dir();
    server_ = Keygen("broker");
    platform_ = Keygen("platform");
    tax_ = Keygen("tax-1");
    tax_rotated_ = Keygen("tax-2");
    stranger_ = Keygen("stranger");
    fund_ = Keygen("fund-1");
    WriteKeys({{"platform", "publisher", platform_}, {"tax-adapter", "agency:tax", tax_},
               {"tax-adapter", "agency:tax", tax_rotated_}, {"fund-adapter", "agency:housing_fund", fund_}});
    testing::WriteFile(dir_ + "/tokens.yaml",
                       "tokens:\n"
                       "  - {identity: ops, role: admin, token: \"" + std::string(40, 'a') + "\"}\n"
                       "  - {identity: auditor, role: observer, token: \"" + std::string(40, 'o') + "\"}\n");
    chmod((dir_ + "/tokens.yaml").c_str(), 0600);
    testing::WriteFile(dir_ + "/data.key", std::string(64, 'c') + "\n");
    chmod((dir_ + "/data.key").c_str(), 0600);
    testing::WriteFile(broker_->config_path(),
                       testing::ReadFile(broker_->config_path()) + "security:\n  server_key_file: " + dir_ +
                           "/broker.key\n  keys_file: " + dir_ + "/keys.yaml\n  tokens_file: " + dir_ +
                           "/tokens.yaml\n  data_key_file: " + dir_ + "/data.key\nagencies:\n  - id: tax\n    events: [ESTABLISHED, CHANGED]\n"
                           "  - id: housing_fund\n    events: [ESTABLISHED, CHANGED]\n");
    broker_->set_insecure(false);
    broker_->Start();
  }

  struct Key {
    std::string name, public_key;
  };
  struct Entry {
    std::string identity, role;
    Key key;
  };

  Key Keygen(const std::string& name) {
    std::string out = dir_ + "/keygen.out";
    auto p = testing::Process::Start({testing::CliBinary(), "keygen", "--dir", dir_, name}, out);
    int code = -1;
    EXPECT_TRUE(p->WaitExit(10000, &code));
    EXPECT_EQ(code, 0);
    auto lines = testing::ReadLines(out);
    return Key{name, lines.empty() ? "" : lines.back()};
  }

  void WriteKeys(const std::vector<Entry>& entries) {
    std::string yaml = "keys:\n";
    for (const auto& e : entries)
      yaml += "  - identity: " + e.identity + "\n    role: \"" + e.role + "\"\n    public: \"" + e.key.public_key + "\"\n";
    // Written aside and renamed: the broker never reads a half-written file.
    testing::WriteFile(dir_ + "/keys.yaml.tmp", yaml);
    // Not writable by others whatever the umask: the broker would refuse it.
    chmod((dir_ + "/keys.yaml.tmp").c_str(), 0644);
    std::rename((dir_ + "/keys.yaml.tmp").c_str(), (dir_ + "/keys.yaml").c_str());
  }

  client::ClientOptions Options(const Key& key, const std::string& agency = "") {
    client::ClientOptions o;
    o.endpoint = broker_->endpoint();
    o.server_public_key = server_.public_key;
    auto pair = auth::ReadKeyPair(dir_ + "/" + key.name + ".key");
    EXPECT_TRUE(pair.ok()) << pair.status().message();
    o.public_key = pair.value().public_key;
    o.secret_key = pair.value().secret_key;
    o.agency = agency;
    o.name = key.name;
    return o;
  }

  std::string Log() { return testing::ReadFile(broker_->log_path()); }

  zmq::context_t context_{1};
  std::unique_ptr<BrokerProcess> broker_;
  std::string dir_;
  Key server_, platform_, tax_, tax_rotated_, stranger_, fund_;
};

TEST_F(SecurityTest, KeyFilesAreWrittenPrivate) {
  struct stat st {};
  ASSERT_EQ(stat((dir_ + "/platform.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(server_.public_key.size(), 40u);
}

TEST_F(SecurityTest, UnknownKeyIsRefusedAtTheHandshake) {
  client::Consumer c(context_, Options(stranger_, "tax"));
  EXPECT_FALSE(PollUntil([&] { return c.Receive(20), c.connection().connected(); }, 1500));
  EXPECT_TRUE(PollUntil([&] { return Log().find("is not in the keys file") != std::string::npos; }, 5000));
  // Plain TCP without CURVE gets nowhere either.
  client::ClientOptions plain;
  plain.endpoint = broker_->endpoint();
  client::Connection p(context_, plain);
  EXPECT_FALSE(PollUntil([&] { return p.Poll(20), p.connected(); }, 1500));
}

TEST_F(SecurityTest, PublisherPublishesAndTheAgencyConsumesOverCurve) {
  sample::SampleOptions so;
  so.enterprises = 1;
  so.events_per_enterprise = 1;
  so.banks = {};
  auto events = sample::Generate(so);
  client::Publisher pub(context_, Options(platform_));
  pub.Publish(events[0]);
  std::optional<v1::PublishAck> ack;
  ASSERT_TRUE(PollUntil([&] {
    pub.Poll(20, [&](std::uint64_t, const v1::PublishAck& a) { ack = a; });
    return ack.has_value();
  }, 10000));
  EXPECT_EQ(ack->status(), v1::ACCEPTED);
  client::Consumer tax(context_, Options(tax_, "tax"));
  std::optional<v1::Deliver> d;
  ASSERT_TRUE(PollUntil([&] { return (d = tax.Receive(20)).has_value(); }, 10000));
  EXPECT_EQ(d->event_id(), events[0].event_id());
  EXPECT_NE(Log().find("identity 'tax-adapter'"), std::string::npos);
}

TEST_F(SecurityTest, AnAgencyKeyCannotConsumeAnotherAgencyNorPublish) {
  client::Consumer other(context_, Options(tax_, "social_insurance"));
  ASSERT_TRUE(PollUntil([&] { return other.Receive(20), other.connection().last_error().has_value(); }, 10000));
  EXPECT_EQ(other.connection().last_error()->code(), v1::FORBIDDEN);
  EXPECT_FALSE(other.connection().connected());

  client::Publisher pub(context_, Options(tax_));
  sample::SampleOptions so;
  so.enterprises = 1;
  so.events_per_enterprise = 1;
  pub.Publish(sample::Generate(so)[0]);
  ASSERT_TRUE(PollUntil([&] { return pub.Poll(20, [](std::uint64_t, const v1::PublishAck&) {}),
                              pub.connection().last_error().has_value(); }, 10000));
  EXPECT_EQ(pub.connection().last_error()->code(), v1::FORBIDDEN);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM events"), 0);
  std::string log = Log();
  EXPECT_NE(log.find("identity 'tax-adapter' (role agency:tax) may not open a CONSUMER session for agency "
                     "'social_insurance'"), std::string::npos);
  EXPECT_NE(log.find("identity 'tax-adapter' (role agency:tax) may not open a PUBLISHER session"), std::string::npos);
}

TEST_F(SecurityTest, RotationKeepsBothKeysAndRevocationClosesOnlyTheRevokedSession) {
  client::Consumer old_key(context_, Options(tax_, "tax"));
  client::Consumer new_key(context_, Options(tax_rotated_, "tax"));
  ASSERT_TRUE(PollUntil([&] {
    old_key.Receive(10);
    new_key.Receive(10);
    return old_key.connection().connected() && new_key.connection().connected();
  }, 10000));
  // Revoke the old key: no restart, the new one keeps working.
  WriteKeys({{"platform", "publisher", platform_}, {"tax-adapter", "agency:tax", tax_rotated_}});
  ASSERT_TRUE(PollUntil([&] {
    old_key.Receive(10);
    new_key.Receive(10);
    return old_key.connection().last_error().has_value() || !old_key.connection().connected();
  }, 10000));
  EXPECT_TRUE(PollUntil([&] { return Log().find("was revoked") != std::string::npos; }, 5000));
  // The revoked key cannot come back; the rotated one is still served.
  EXPECT_FALSE(PollUntil([&] { return old_key.Receive(20), old_key.connection().connected(); }, 1500));
  sample::SampleOptions so;
  so.enterprises = 1;
  so.events_per_enterprise = 1;
  so.banks = {};
  client::Publisher pub(context_, Options(platform_));
  pub.Publish(sample::Generate(so)[0]);
  std::optional<v1::Deliver> d;
  ASSERT_TRUE(PollUntil([&] {
    pub.Poll(5, [](std::uint64_t, const v1::PublishAck&) {});
    return (d = new_key.Receive(10)).has_value();
  }, 10000));
}

TEST_F(SecurityTest, OperatorActionsNeedAnAdminToken) {
  httplib::Client c("127.0.0.1", broker_->http_port());
  auto no_token = c.Post("/api/v1/cases/x/resolve", R"({"reason":"r"})", "application/json");
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  httplib::Headers bad = {{"Authorization", "Bearer " + std::string(40, 'z')}};
  EXPECT_EQ(c.Post("/api/v1/cases/x/resolve", bad, R"({"reason":"r"})", "application/json")->status, 401);
  httplib::Headers observer = {{"Authorization", "Bearer " + std::string(40, 'o')}};
  EXPECT_EQ(c.Post("/api/v1/cases/x/resolve", observer, R"({"reason":"r"})", "application/json")->status, 403);
  httplib::Headers admin = {{"Authorization", "Bearer " + std::string(40, 'a')}};
  EXPECT_EQ(c.Post("/api/v1/cases/x/resolve", admin, R"({"reason":"r"})", "application/json")->status, 404);
  // Reads are open unless security.http_read_token_required.
  EXPECT_EQ(c.Get("/api/v1/stats")->status, 200);
}

// Every set field of `m` as a path ("enterprise.legal_representative.name").
void SetPaths(const google::protobuf::Message& m, const std::string& prefix, std::vector<std::string>* out) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const auto* f : fields) {
    std::string path = prefix.empty() ? f->name() : prefix + "." + f->name();
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() &&
        f->message_type()->full_name() != "google.protobuf.Timestamp") {
      SetPaths(m.GetReflection()->GetMessage(m, f), path, out);
    } else {
      out->push_back(path);
    }
  }
}

bool Allowed(const std::string& path, const security::FieldAllowList& list) {
  for (const char* always : {"event_id", "type", "uscc", "revision", "occurred_at"})
    if (path == always) return true;
  for (const auto& p : list.paths)
    if (path == p || path.rfind(p + ".", 0) == 0) return true;
  return false;
}

TEST_F(SecurityTest, AgenciesGetOnlyTheirFieldsAlsoOnRetryAndReplayAndNothingPersonalLeaks) {
  auto events = Sample(23, 3, 2);
  std::vector<std::string> secrets;  // every ID and phone number of the sample
  for (const auto& e : events) {
    for (const auto* p : {&e.enterprise().legal_representative(), &e.enterprise().contact()}) {
      if (!p->id_number().empty()) secrets.push_back(p->id_number());
      if (!p->phone().empty()) secrets.push_back(p->phone());
    }
  }
  ASSERT_GE(secrets.size(), 6u);
  client::Publisher pub(context_, Options(platform_));
  for (const auto& e : events) pub.Publish(e);
  std::size_t acked = 0;
  ASSERT_TRUE(PollUntil([&] {
    pub.Poll(10, [&](std::uint64_t, const v1::PublishAck& a) { EXPECT_EQ(a.status(), v1::ACCEPTED) << a.message(); ++acked; });
    return acked == events.size();
  }, 10000));

  std::map<std::string, std::vector<v1::Deliver>> received;
  auto consume = [&](const Key& key, const std::string& agency, std::size_t n, bool retry_first) {
    client::Consumer c(context_, Options(key, agency));
    std::set<std::string> retried;
    EXPECT_TRUE(PollUntil([&] {
      if (auto d = c.Receive(10)) {
        received[agency].push_back(*d);
        v1::Result r;
        r.set_event_id(d->event_id());
        r.set_agency(agency);
        bool retry = retry_first && retried.insert(d->event_id()).second;
        r.set_outcome(retry ? v1::OUTCOME_RETRY : v1::OUTCOME_PROCESSED);
        r.set_retry_after_ms(1);
        r.set_reference("R-" + d->event_id());
        c.Answer(r);
      }
      return received[agency].size() >= n && c.unacknowledged() == 0;
    }, 20000)) << agency;
  };
  // Tax answers RETRY to every first delivery, so it sees retries too.
  consume(tax_, "tax", events.size() * 2, true);
  consume(fund_, "housing_fund", 3, false);  // the establishments; names do not change here
  // Replay the housing fund: the replayed deliveries are filtered as well.
  httplib::Client http("127.0.0.1", broker_->http_port());
  httplib::Headers admin = {{"Authorization", "Bearer " + std::string(40, 'a')}};
  auto replay = http.Post("/api/v1/agencies/housing_fund/replay", admin, R"({"since":"2000-01-01T00:00:00Z"})",
                          "application/json");
  ASSERT_TRUE(replay);
  ASSERT_EQ(replay->status, 200) << replay->body;
  v1::ActionResult replayed;
  ASSERT_TRUE(json::Parse(replay->body, &replayed).ok());
  ASSERT_GE(replayed.affected(), 3u);
  std::size_t before = received["housing_fund"].size();
  consume(fund_, "housing_fund", before + replayed.affected(), false);

  std::size_t retries = 0, replays = 0;
  for (const auto& [agency, deliveries] : received) {
    auto allow = security::DefaultAllowList(agency);
    for (const auto& d : deliveries) {
      if (d.attempt() > 1) ++retries;
      if (d.replay()) ++replays;
      std::vector<std::string> paths;
      SetPaths(d.event(), "", &paths);
      for (const auto& p : paths) EXPECT_TRUE(Allowed(p, allow)) << agency << " received " << p;
      EXPECT_FALSE(d.event().enterprise().has_contact()) << agency << " received the contact person";
    }
  }
  EXPECT_GT(retries, 0u);
  EXPECT_GE(replays, replayed.affected());

  // At rest: the raw database files hold no ID or phone number in clear.
  broker_->Stop();
  std::string raw = broker_->StoreBytesAtRest();
  ASSERT_GT(raw.size(), 10000u);
  for (const auto& secret : secrets) EXPECT_EQ(raw.find(secret), std::string::npos) << "found in the store in clear";
  // Logs: the broker's, in full, never carry them unmasked.
  std::string log = Log();
  ASSERT_FALSE(log.empty());
  for (const auto& secret : secrets) EXPECT_EQ(log.find(secret), std::string::npos) << "found in the broker log";
}

// Agencies already connected when a burst of events arrives: the events go
// out in the turn that accepts them, with the agencies' views computed ahead
// by the broker's second thread; each agency still gets only its fields.
TEST_F(SecurityTest, ABurstHandedOverAtOnceIsFilteredPerAgency) {
  client::Consumer tax(context_, Options(tax_, "tax"));
  client::Consumer fund(context_, Options(fund_, "housing_fund"));
  httplib::Client http("127.0.0.1", broker_->http_port());
  auto metric = [&](const std::string& name) -> long long {
    auto res = http.Get("/metrics");
    if (!res || res->status != 200) return -1;
    auto at = res->body.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stoll(res->body.substr(at + name.size() + 2));
  };
  // Both adapters are in session (their Hello handled) before publishing.
  ASSERT_TRUE(PollUntil([&] {
    tax.Receive(10);
    fund.Receive(10);
    return metric("yilian_sessions{role=\"CONSUMER\"}") == 2;
  }, 10000));

  auto events = Sample(31, 40, 1);
  client::Publisher pub(context_, Options(platform_));
  for (const auto& e : events) pub.Publish(e);
  std::size_t acked = 0;
  std::map<std::string, std::vector<v1::Deliver>> received;
  auto take = [&](client::Consumer& c, const std::string& agency) {
    while (auto d = c.Receive(1)) {
      received[agency].push_back(*d);
      v1::Result r;
      r.set_event_id(d->event_id());
      r.set_agency(agency);
      r.set_outcome(v1::OUTCOME_PROCESSED);
      c.Answer(r);
    }
  };
  ASSERT_TRUE(PollUntil([&] {
    pub.Poll(5, [&](std::uint64_t, const v1::PublishAck& a) { EXPECT_EQ(a.status(), v1::ACCEPTED) << a.message(); ++acked; });
    take(tax, "tax");
    take(fund, "housing_fund");
    return acked == events.size() && received["tax"].size() == events.size() &&
           received["housing_fund"].size() == events.size();
  }, 20000)) << acked << " acked, " << received["tax"].size() << " to tax, " << received["housing_fund"].size()
             << " to housing_fund";

  std::map<std::string, const v1::EnterpriseEvent*> published;
  for (const auto& e : events) published[e.event_id()] = &e;
  for (const auto& [agency, deliveries] : received) {
    auto allow = security::DefaultAllowList(agency);
    auto filter = security::FieldFilter::Create(allow);
    ASSERT_TRUE(filter.ok()) << filter.status().ToString();
    for (const auto& d : deliveries) {
      EXPECT_EQ(d.attempt(), 1u) << agency << " " << d.event_id();
      // Exactly the agency's view of what was published.
      auto view = filter.value().PruneEncoded(published.at(d.event_id())->SerializeAsString());
      ASSERT_TRUE(view.ok()) << view.status().ToString();
      v1::EnterpriseEvent expected;
      ASSERT_TRUE(expected.ParseFromString(view.value()));
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(expected, d.event()))
          << agency << " " << d.event_id() << " got " << d.event().ShortDebugString();
      std::vector<std::string> paths;
      SetPaths(d.event(), "", &paths);
      for (const auto& p : paths) EXPECT_TRUE(Allowed(p, allow)) << agency << " received " << p;
      EXPECT_FALSE(d.event().enterprise().has_contact()) << agency << " received the contact person";
    }
  }
  // Turns of 4 or more messages happened: those are decoded ahead.
  long long turns = metric("yilian_turn_messages_count");
  long long small = metric("yilian_turn_messages_bucket{le=\"3\"}");
  ASSERT_GE(small, 0);
  EXPECT_GT(turns, small) << "no turn held 4 or more messages";
}

TEST(SecurityStartup, InsecureModeOnlyOnLoopbackAndCurveNeedsKeys) {
  std::string dir = testing::MakeTempDir("yilian-sec");
  int code = -1;
  auto open = testing::Process::Start({testing::BrokerBinary(), "--insecure-dev", "--data-dir", dir + "/d", "--listen",
                                       "tcp://0.0.0.0:" + std::to_string(testing::FreeTcpPort()), "--http", ""},
                                      "", dir + "/open.err");
  ASSERT_TRUE(open->WaitExit(10000, &code));
  EXPECT_NE(code, 0);
  EXPECT_NE(testing::ReadFile(dir + "/open.err").find("only on a loopback endpoint"), std::string::npos);
  auto nokeys = testing::Process::Start({testing::BrokerBinary(), "--data-dir", dir + "/d", "--listen",
                                         "tcp://127.0.0.1:" + std::to_string(testing::FreeTcpPort()), "--http", ""},
                                        "", dir + "/nokeys.err");
  ASSERT_TRUE(nokeys->WaitExit(10000, &code));
  EXPECT_NE(code, 0);
  EXPECT_NE(testing::ReadFile(dir + "/nokeys.err").find("security.server_key_file"), std::string::npos);
  auto dev = testing::Process::Start({testing::BrokerBinary(), "--insecure-dev", "--data-dir", dir + "/d", "--listen",
                                      "tcp://127.0.0.1:" + std::to_string(testing::FreeTcpPort()), "--http", ""},
                                     "", dir + "/dev.err");
  EXPECT_TRUE(PollUntil([&] { return testing::ReadFile(dir + "/dev.err").find("INSECURE") != std::string::npos; },
                        10000));
  dev->Signal(SIGTERM);
  dev->WaitExit(10000, &code);
  testing::RemoveTree(dir);
}

}  // namespace
}  // namespace yilian
