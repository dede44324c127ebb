// Case updates over HTTP: the webhook (signed POSTs, retried until taken,
// in order per enterprise, durable across a broker killed meanwhile) and
// the long poll GET /api/v1/updates. docs/http-api.md, section 4.2 and 4.3.
// The receiver is a real HTTP server in the test; signatures are checked
// with OpenSSL's HMAC here, not with the broker's code.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cli/sample.h"
#include "client/consumer.h"
#include "client/publisher.h"
#include "testing/broker_fixture.h"
#include "validation/json.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;

const std::string kSecret = "0123456789abcdef0123456789abcdef-webhook";

std::string Hmac(const std::string& key, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), mac, &n);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    hex += buf;
  }
  return hex;
}

// The platform's side: takes POSTs while `up`, answers 503 otherwise.
class Receiver {
 public:
  struct Taken {
    std::uint64_t id = 0;
    v1::CaseUpdate update;
    bool signature_ok = false;
  };

  Receiver() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      if (!up_) {
        ++refused_;
        res.status = 503;
        return;
      }
      Taken t;
      t.id = std::stoull(req.get_header_value("Yilian-Webhook-Id"));
      const std::string timestamp = req.get_header_value("Yilian-Webhook-Timestamp");
      t.signature_ok = req.get_header_value("Yilian-Webhook-Signature") == "v1=" + Hmac(kSecret, timestamp + "." + req.body) &&
                       std::llabs(std::stoll(timestamp) - static_cast<long long>(time(nullptr))) < 300;
      EXPECT_TRUE(json::Parse(req.body, &t.update).ok()) << req.body;
      EXPECT_EQ(req.get_header_value("Content-Type"), "application/json");
      std::lock_guard<std::mutex> lock(mu_);
      taken_.push_back(std::move(t));
      res.status = 204;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  void set_up(bool up) { up_ = up; }
  int refused() const { return refused_; }
  std::vector<Taken> taken() {
    std::lock_guard<std::mutex> lock(mu_);
    return taken_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> up_{true};
  std::atomic<int> refused_{0};
  std::mutex mu_;
  std::vector<Taken> taken_;
};

// Adapters of the four agencies answering PROCESSED to everything.
class Agencies {
 public:
  explicit Agencies(const std::string& endpoint) {
    thread_ = std::thread([this, endpoint] {
      zmq::context_t context(1);
      std::vector<std::unique_ptr<client::Consumer>> consumers;
      for (const char* agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"}) {
        client::ClientOptions o;
        o.endpoint = endpoint;
        o.agency = agency;
        o.credit = 64;
        consumers.push_back(std::make_unique<client::Consumer>(context, o));
      }
      while (!stop_) {
        for (auto& c : consumers) {
          while (auto d = c->Receive(5)) {
            v1::Result r;
            r.set_sequence(d->sequence());
            r.set_event_id(d->event_id());
            r.set_agency(d->agency());
            r.set_outcome(v1::OUTCOME_PROCESSED);
            r.set_attempt(d->attempt());
            r.set_reference("REF-" + d->event_id());
            c->Answer(r);
          }
        }
      }
    });
  }
  ~Agencies() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::vector<v1::EnterpriseEvent> Sample(int enterprises, int per, std::uint64_t seed = 1) {
  sample::SampleOptions o;
  o.seed = seed;
  o.enterprises = enterprises;
  o.events_per_enterprise = per;
  o.deregister_fraction = 0;
  o.banks = {"ICBC"};
  return sample::Generate(o);
}

void PublishAll(const std::string& endpoint, const std::vector<v1::EnterpriseEvent>& events) {
  zmq::context_t context(1);
  client::ClientOptions options;
  options.endpoint = endpoint;
  client::Publisher publisher(context, options);
  for (const auto& e : events) publisher.Publish(e);
  std::size_t confirmed = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        publisher.Poll(50, [&](std::uint64_t, const v1::PublishAck& a) {
          EXPECT_NE(a.status(), v1::REFUSED) << a.message();
          ++confirmed;
        });
        return confirmed == events.size();
      },
      30000));
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("yilian-webhook");
    testing::WriteFile(dir_ + "/webhook.secret", kSecret + "\n");
    chmod((dir_ + "/webhook.secret").c_str(), 0600);
  }
  std::string WebhookYaml(int port) {
    return "webhook:\n  url: http://127.0.0.1:" + std::to_string(port) + "/hook\n  secret_file: " + dir_ +
           "/webhook.secret\n  initial_backoff_ms: 50\n  max_backoff_ms: 400\n";
  }
  long long Completed() { return broker_->QueryInt("SELECT COUNT(*) FROM events WHERE case_state = 2"); }

  std::string dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(WebhookTest, AReceiverDownThenUpGetsEveryUpdateSignedAndInOrderAlsoAfterABrokerKill) {
  Receiver receiver;
  receiver.set_up(false);
  broker_ = std::make_unique<BrokerProcess>(WebhookYaml(receiver.port()));
  broker_->Start();
  auto events = Sample(6, 3);
  {
    Agencies agencies(broker_->endpoint());
    PublishAll(broker_->endpoint(), events);
    ASSERT_TRUE(PollUntil([&] { return Completed() == static_cast<long long>(events.size()); }, 60000));
  }
  // The receiver refused some; the updates wait in the store.
  ASSERT_TRUE(PollUntil([&] { return receiver.refused() > 0; }, 10000));
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM case_updates WHERE acked = 0"),
            static_cast<long long>(events.size()));
  httplib::Client http("127.0.0.1", broker_->http_port());
  auto stats = http.Get("/api/v1/stats");
  ASSERT_TRUE(stats);
  v1::Stats st;
  ASSERT_TRUE(json::Parse(stats->body, &st).ok()) << stats->body;
  EXPECT_EQ(st.webhook_backlog(), events.size());

  broker_->Kill(SIGKILL);
  broker_->Start();
  receiver.set_up(true);
  ASSERT_TRUE(PollUntil([&] { return broker_->QueryInt("SELECT COUNT(*) FROM case_updates WHERE acked = 0") == 0; },
                        30000));

  std::map<std::string, std::uint64_t> last_by_enterprise;
  std::set<std::string> completed;
  for (const auto& t : receiver.taken()) {
    EXPECT_TRUE(t.signature_ok) << t.id;
    EXPECT_EQ(t.id, t.update.update_id());
    const std::string& uscc = t.update.case_().uscc();
    // Sent again only after a restart; never out of order.
    EXPECT_GE(t.id, last_by_enterprise[uscc]) << uscc;
    last_by_enterprise[uscc] = t.id;
    if (t.update.kind() == v1::CASE_COMPLETED) completed.insert(t.update.case_().event_id());
  }
  EXPECT_EQ(completed.size(), events.size());
  auto after = http.Get("/api/v1/stats");
  ASSERT_TRUE(after);
  ASSERT_TRUE(json::Parse(after->body, &st).ok());
  EXPECT_EQ(st.webhook_backlog(), 0u);
}

TEST_F(WebhookTest, AReceiverThatFailsForeverHoldsBackNothingButItsOwnBacklog) {
  Receiver receiver;
  receiver.set_up(false);
  broker_ = std::make_unique<BrokerProcess>(WebhookYaml(receiver.port()));
  broker_->Start();
  Agencies agencies(broker_->endpoint());
  auto first = Sample(50, 1, 1);
  PublishAll(broker_->endpoint(), first);
  ASSERT_TRUE(PollUntil([&] { return Completed() == 50; }, 60000));
  // Publishing and delivery go on while every POST fails.
  auto second = Sample(50, 1, 2);
  for (auto& e : second) e.set_event_id("second-" + e.event_id());
  PublishAll(broker_->endpoint(), second);
  ASSERT_TRUE(PollUntil([&] { return Completed() == 100; }, 60000));
  httplib::Client http("127.0.0.1", broker_->http_port());
  ASSERT_TRUE(PollUntil(
      [&] {
        auto m = http.Get("/metrics");
        return m && m->body.find("yilian_webhook_backlog 100") != std::string::npos &&
               m->body.find("yilian_webhook_failures_total 0") == std::string::npos;
      },
      10000));
  EXPECT_TRUE(receiver.taken().empty());
}

TEST_F(WebhookTest, TheLongPollWaitsForTheNextUpdateAndPagesByIdWithoutAcknowledging) {
  broker_ = std::make_unique<BrokerProcess>();
  broker_->Start();
  httplib::Client http("127.0.0.1", broker_->http_port());
  http.set_read_timeout(40);
  v1::CaseUpdateList waited;
  std::thread poll([&] {
    auto res = http.Get("/api/v1/updates?after=0&wait=30");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    ASSERT_TRUE(json::Parse(res->body, &waited).ok()) << res->body;
  });
  auto events = Sample(3, 1);
  {
    Agencies agencies(broker_->endpoint());
    PublishAll(broker_->endpoint(), events);
    ASSERT_TRUE(PollUntil([&] { return Completed() == 3; }, 60000));
  }
  poll.join();
  ASSERT_GE(waited.updates_size(), 1);
  EXPECT_EQ(waited.last_id(), waited.updates(waited.updates_size() - 1).update_id());

  httplib::Client reader("127.0.0.1", broker_->http_port());
  auto all = reader.Get("/api/v1/updates?after=0&limit=1000");
  ASSERT_TRUE(all);
  v1::CaseUpdateList list;
  ASSERT_TRUE(json::Parse(all->body, &list).ok());
  ASSERT_EQ(list.updates_size(), 3);
  std::set<std::string> ids;
  for (const auto& u : list.updates()) {
    EXPECT_EQ(u.kind(), v1::CASE_COMPLETED);
    ids.insert(u.case_().event_id());
  }
  EXPECT_EQ(ids.size(), 3u);
  auto one = reader.Get("/api/v1/updates?after=0&limit=1");
  ASSERT_TRUE(json::Parse(one->body, &list).ok());
  ASSERT_EQ(list.updates_size(), 1);
  auto rest = reader.Get("/api/v1/updates?after=" + std::to_string(list.last_id()));
  ASSERT_TRUE(json::Parse(rest->body, &list).ok());
  EXPECT_EQ(list.updates_size(), 2);
  auto none = reader.Get("/api/v1/updates?after=" + std::to_string(list.last_id()) + "&wait=0");
  ASSERT_TRUE(json::Parse(none->body, &list).ok());
  EXPECT_EQ(list.updates_size(), 0);
  // Reading acknowledges nothing: the updates still wait for a watcher.
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM case_updates WHERE acked = 0"), 3);
  for (const char* bad : {"/api/v1/updates?limit=0", "/api/v1/updates?limit=1001", "/api/v1/updates?wait=31",
                          "/api/v1/updates?after=x", "/api/v1/updates?after=-1"}) {
    auto res = reader.Get(bad);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad;
  }
}

}  // namespace
}  // namespace yilian
