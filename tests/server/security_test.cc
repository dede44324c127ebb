// CURVE identities and roles against a real broker: unknown keys refused at
// the handshake, every message checked against the role of its key, key
// rotation and revocation without a restart, HTTP bearer tokens, and the
// rules of --insecure-dev.
#include <signal.h>
#include <sys/stat.h>

#include <httplib.h>

#include <gtest/gtest.h>

#include "auth/keys.h"
#include "cli/sample.h"
#include "client/consumer.h"
#include "client/publisher.h"
#include "testing/broker_fixture.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;

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
    WriteKeys({{"platform", "publisher", platform_}, {"tax-adapter", "agency:tax", tax_},
               {"tax-adapter", "agency:tax", tax_rotated_}});
    testing::WriteFile(dir_ + "/tokens.yaml",
                       "tokens:\n"
                       "  - {identity: ops, role: admin, token: \"" + std::string(40, 'a') + "\"}\n"
                       "  - {identity: auditor, role: observer, token: \"" + std::string(40, 'o') + "\"}\n");
    chmod((dir_ + "/tokens.yaml").c_str(), 0600);
    testing::WriteFile(broker_->config_path(),
                       testing::ReadFile(broker_->config_path()) + "security:\n  server_key_file: " + dir_ +
                           "/broker.key\n  keys_file: " + dir_ + "/keys.yaml\n  tokens_file: " + dir_ +
                           "/tokens.yaml\nagencies:\n  - id: tax\n    events: [ESTABLISHED]\n");
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
  Key server_, platform_, tax_, tax_rotated_, stranger_;
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
