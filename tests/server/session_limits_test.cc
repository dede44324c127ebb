// Session limits against a real broker with CURVE keys: one admitted key
// cannot take every session. Per-identity quotas bound what one identity
// holds, a reserve keeps a slot for the publisher, the watcher and every
// agency that has no session yet, and refusals are logged (rate-limited)
// and counted.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <memory>
#include <vector>

#include "auth/keys.h"
#include "client/connection.h"
#include "testing/broker_fixture.h"
#include "testing/curve_keys.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::CurveKey;
using testing::PollUntil;

class SessionLimitsTest : public ::testing::Test {
 protected:
  // A CURVE broker with agencies tax and housing_fund and `limits_yaml`
  // (lines under `limits:`).
  void StartBroker(const std::string& limits_yaml) {
    broker_ = std::make_unique<BrokerProcess>();
    dir_ = broker_->dir();
    server_ = testing::Keygen(dir_, "broker");
    platform_ = testing::Keygen(dir_, "platform");
    tax_ = testing::Keygen(dir_, "tax-1");
    fund_ = testing::Keygen(dir_, "fund-1");
    testing::WriteKeysFile(dir_, {{"platform", "publisher", platform_},
                                  {"tax-adapter", "agency:tax", tax_},
                                  {"fund-adapter", "agency:housing_fund", fund_}});
    testing::WriteFile(dir_ + "/data.key", std::string(64, 'c') + "\n");
    chmod((dir_ + "/data.key").c_str(), 0600);
    testing::WriteFile(broker_->config_path(),
                       testing::ReadFile(broker_->config_path()) + "security:\n  server_key_file: " + dir_ +
                           "/broker.key\n  keys_file: " + dir_ + "/keys.yaml\n  data_key_file: " + dir_ +
                           "/data.key\nagencies:\n  - id: tax\n    events: [ESTABLISHED, CHANGED]\n"
                           "  - id: housing_fund\n    events: [ESTABLISHED, CHANGED]\nlimits:\n" +
                           limits_yaml);
    broker_->set_insecure(false);
    broker_->Start();
  }

  std::unique_ptr<client::Connection> Open(const CurveKey& key, v1::ClientRole role, const std::string& agency = "") {
    client::ClientOptions o = testing::CurveOptions(dir_, broker_->endpoint(), server_, key);
    o.role = role;
    o.agency = agency;
    auto c = std::make_unique<client::Connection>(context_, o);
    all_.push_back(c.get());
    return c;
  }

  // Pumps every connection of the test, so that none misses its heartbeats.
  void PollAll() {
    for (client::Connection* c : all_) c->Poll(0);
  }

  // Polls the connections until each is in session or was refused with
  // OVER_LIMIT; the number in session.
  int Settle(std::vector<std::unique_ptr<client::Connection>>& conns) {
    int ready = 0;
    EXPECT_TRUE(PollUntil(
        [&] {
          ready = 0;
          int refused = 0;
          PollAll();
          for (auto& c : conns) {
            if (c->connected()) {
              ++ready;
            } else if (c->last_error() && c->last_error()->code() == v1::OVER_LIMIT) {
              ++refused;
            }
          }
          return ready + refused == static_cast<int>(conns.size());
        },
        15000));
    return ready;
  }

  long long Metric(const std::string& name) {
    httplib::Client http("127.0.0.1", broker_->http_port());
    auto res = http.Get("/metrics");
    if (!res || res->status != 200) return -1;
    auto at = res->body.find("\n" + name + " ");
    return at == std::string::npos ? 0 : std::stoll(res->body.substr(at + name.size() + 2));
  }

  std::size_t Count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  zmq::context_t context_{1};
  std::unique_ptr<BrokerProcess> broker_;
  std::vector<client::Connection*> all_;  // owned by the tests' vectors
  std::string dir_;
  CurveKey server_, platform_, tax_, fund_;
};

// The tax adapter's key opens ten sessions; it gets its quota of three, the
// others are refused OVER_LIMIT naming the limit, one warning is logged for
// the burst, the refusals are counted, and the platform and the housing
// fund still connect.
TEST_F(SessionLimitsTest, OneIdentityHoldsAtMostItsQuota) {
  StartBroker("  agency_sessions_per_identity: 3\n");
  std::vector<std::unique_ptr<client::Connection>> tax;
  for (int i = 0; i < 10; ++i) tax.push_back(Open(tax_, v1::CONSUMER, "tax"));
  EXPECT_EQ(Settle(tax), 3);
  int refused_with_limit = 0;
  for (auto& c : tax)
    if (c->last_error() && c->last_error()->message().find("limits.agency_sessions_per_identity") != std::string::npos)
      ++refused_with_limit;
  EXPECT_EQ(refused_with_limit, 7);

  std::vector<std::unique_ptr<client::Connection>> others;
  others.push_back(Open(platform_, v1::PUBLISHER));
  others.push_back(Open(fund_, v1::CONSUMER, "housing_fund"));
  EXPECT_EQ(Settle(others), 2);

  EXPECT_GE(Metric("yilian_sessions_refused_total{reason=\"identity_quota\"}"), 7);
  std::string log = testing::ReadFile(broker_->log_path());
  EXPECT_EQ(Count(log, "refused a agency:tax session of identity 'tax-adapter'"), 1u) << log;
}

// With limits.max_connections 8 and no identity quota in the way, the tax
// key can take only the slots not kept for the classes that have no session
// yet (publisher, watcher, housing_fund): 5. Those three then connect, and
// the broker is full.
TEST_F(SessionLimitsTest, AReserveKeepsASlotForEveryClassWithoutASession) {
  StartBroker("  max_connections: 8\n  agency_sessions_per_identity: 100\n");
  std::vector<std::unique_ptr<client::Connection>> tax;
  for (int i = 0; i < 12; ++i) tax.push_back(Open(tax_, v1::CONSUMER, "tax"));
  EXPECT_EQ(Settle(tax), 5);
  EXPECT_GE(Metric("yilian_sessions_refused_total{reason=\"reserved\"}"), 7);

  std::vector<std::unique_ptr<client::Connection>> reserved;
  reserved.push_back(Open(platform_, v1::PUBLISHER));
  reserved.push_back(Open(platform_, v1::WATCHER));
  reserved.push_back(Open(fund_, v1::CONSUMER, "housing_fund"));
  EXPECT_EQ(Settle(reserved), 3);
  EXPECT_TRUE(PollUntil(
      [&] {
        PollAll();
        return Metric("yilian_sessions{role=\"CONSUMER\"}") == 6;
      },
      5000));

  std::vector<std::unique_ptr<client::Connection>> more;
  more.push_back(Open(platform_, v1::PUBLISHER));
  EXPECT_EQ(Settle(more), 0);
  EXPECT_GE(Metric("yilian_sessions_refused_total{reason=\"max_connections\"}"), 1);
}

// A client whose key was revoked and that keeps sending on its old
// connection is refused every time, but logged once per 10 s with a count,
// not once per message; so are the handshakes of a key that is not in the
// keys file.
TEST_F(SessionLimitsTest, RefusalsOfUnknownAndRevokedKeysAreLoggedOncePerInterval) {
  StartBroker("  agency_sessions_per_identity: 3\n");
  // A raw CURVE socket: it ignores the broker's errors and keeps sending.
  auto pair = auth::ReadKeyPair(dir_ + "/" + tax_.name + ".key");
  ASSERT_TRUE(pair.ok());
  zmq::socket_t raw(context_, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::curve_serverkey, server_.public_key);
  raw.set(zmq::sockopt::curve_publickey, pair.value().public_key);
  raw.set(zmq::sockopt::curve_secretkey, pair.value().secret_key);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(broker_->endpoint());
  v1::Envelope hello;
  hello.mutable_hello()->set_version(v1::PROTOCOL_V1);
  hello.mutable_hello()->set_role(v1::CONSUMER);
  hello.mutable_hello()->set_agency("tax");
  hello.mutable_hello()->set_credit(1);
  raw.send(zmq::buffer(hello.SerializeAsString()), zmq::send_flags::none);
  ASSERT_TRUE(PollUntil(
      [&] {
        return testing::ReadFile(broker_->log_path()).find("session ") != std::string::npos &&
               testing::ReadFile(broker_->log_path()).find("opened: CONSUMER") != std::string::npos;
      },
      5000));
  testing::WriteKeysFile(dir_, {{"platform", "publisher", platform_}, {"fund-adapter", "agency:housing_fund", fund_}});
  ASSERT_TRUE(PollUntil(
      [&] { return testing::ReadFile(broker_->log_path()).find("keys file reloaded") != std::string::npos; }, 5000));
  v1::Envelope heartbeat;
  heartbeat.mutable_heartbeat();
  for (int i = 0; i < 200; ++i) raw.send(zmq::buffer(heartbeat.SerializeAsString()), zmq::send_flags::none);
  // The broker answers each with an error: wait for the 200th.
  int answers = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        zmq::message_t m;
        while (raw.recv(m, zmq::recv_flags::dontwait)) ++answers;
        return answers >= 201;  // the Welcome and 200 errors
      },
      10000))
      << answers;
  // A stranger's key tries 30 handshakes.
  CurveKey stranger = testing::Keygen(dir_, "stranger");
  for (int i = 0; i < 30; ++i) {
    client::Connection attempt(context_, testing::CurveOptions(dir_, broker_->endpoint(), server_, stranger));
    attempt.Poll(30);
  }
  std::string log;
  ASSERT_TRUE(PollUntil(
      [&] {
        log = testing::ReadFile(broker_->log_path());
        return Count(log, "is not in the keys file") >= 1;
      },
      5000));
  EXPECT_EQ(Count(log, "is no longer in the keys file"), 1u) << log;
  EXPECT_EQ(Count(log, "is not in the keys file"), 1u) << log;
}

}  // namespace
}  // namespace yilian
