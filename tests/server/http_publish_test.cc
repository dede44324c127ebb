// Publishing over HTTPS (POST /api/v1/events) with real TLS: a broker with a
// certificate made by the openssl tool, clients with and without client
// certificates and tokens. The outcomes are those of docs/http-api.md,
// section 4.1; a broker killed during batches loses nothing it confirmed;
// hostile bodies are refused and store nothing.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <atomic>
#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "cli/sample.h"
#include "client/consumer.h"
#include "testing/broker_fixture.h"
#include "validation/json.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

std::vector<v1::EnterpriseEvent> Sample(int enterprises, int per, std::uint64_t seed = 1) {
  sample::SampleOptions o;
  o.seed = seed;
  o.enterprises = enterprises;
  o.events_per_enterprise = per;
  o.deregister_fraction = 0;
  o.banks = {"ICBC"};
  o.id_prefix = "h" + std::to_string(seed);
  return sample::Generate(o);
}

std::string Json(const v1::EnterpriseEvent& e) { return json::Print(e); }

std::string Lines(const std::vector<v1::EnterpriseEvent>& events) {
  std::string out;
  for (const auto& e : events) out += Json(e) + "\n";
  return out;
}

// A self-signed certificate for 127.0.0.1 (its own CA) and its key, in
// `dir`/`name`.crt and .key.
void MakeCertificate(const std::string& dir, const std::string& name) {
  auto p = Process::Start({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/" + name + ".key", "-out",
                           dir + "/" + name + ".crt", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                           "subjectAltName=IP:127.0.0.1"},
                          dir + "/" + name + ".out", dir + "/" + name + ".err");
  int code = -1;
  ASSERT_TRUE(p->WaitExit(30000, &code));
  ASSERT_EQ(code, 0) << testing::ReadFile(dir + "/" + name + ".err");
}

// The SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it
// ("AB:CD:..."), which is what an operator copies into the tokens file.
std::string OpensslFingerprint(const std::string& dir, const std::string& name) {
  auto p = Process::Start({"/usr/bin/openssl", "x509", "-in", dir + "/" + name + ".crt", "-noout", "-fingerprint",
                           "-sha256"},
                          dir + "/" + name + ".fp", dir + "/" + name + ".fperr");
  int code = -1;
  if (!p->WaitExit(30000, &code) || code != 0) return "";
  std::string out = testing::ReadFile(dir + "/" + name + ".fp");
  out = out.substr(out.find('=') + 1);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

v1::PublishAck ParseAck(const std::string& body) {
  v1::PublishAck ack;
  EXPECT_TRUE(json::Parse(body, &ack).ok()) << body;
  return ack;
}

v1::PublishBatchResult ParseBatch(const std::string& body) {
  v1::PublishBatchResult r;
  EXPECT_TRUE(json::Parse(body, &r).ok()) << body;
  return r;
}

const std::string kPublisherToken(40, 'p');
const std::string kObserverToken(40, 'o');
const std::string kAdminToken(40, 'a');

class HttpPublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A client writing to a broker that was killed or refused its handshake
    // gets an error, not SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    dir_ = testing::MakeTempDir("yilian-http-publish");
    MakeCertificate(dir_, "server");
    MakeCertificate(dir_, "platform");  // listed in the tokens file as a publisher
    MakeCertificate(dir_, "unlisted");  // signed by an accepted CA, in no entry
    MakeCertificate(dir_, "stranger");  // from a CA the broker does not accept
    testing::WriteFile(dir_ + "/clients-ca.crt", testing::ReadFile(dir_ + "/platform.crt") +
                                                     testing::ReadFile(dir_ + "/unlisted.crt"));
    const std::string fingerprint = OpensslFingerprint(dir_, "platform");
    ASSERT_FALSE(fingerprint.empty());
    testing::WriteFile(dir_ + "/tokens.yaml",
                       "tokens:\n"
                       "  - identity: platform-by-certificate\n    role: publisher\n    certificate_sha256: \"" +
                           fingerprint +
                           "\"\n"
                           "  - identity: platform-by-token\n    role: publisher\n    token: \"" +
                           kPublisherToken +
                           "\"\n"
                           "  - identity: monitor\n    role: observer\n    token: \"" +
                           kObserverToken +
                           "\"\n"
                           "  - identity: ops\n    role: admin\n    token: \"" +
                           kAdminToken + "\"\n");
    chmod((dir_ + "/tokens.yaml").c_str(), 0600);
  }

  void StartBroker(const std::string& yaml = "") {
    broker_ = std::make_unique<BrokerProcess>(
        "  tls_cert_file: " + dir_ + "/server.crt\n  tls_key_file: " + dir_ + "/server.key\n  tls_client_ca_file: " +
        dir_ + "/clients-ca.crt\n" + yaml + "security:\n  tokens_file: " + dir_ + "/tokens.yaml\n");
    broker_->Start();
  }

  // An HTTPS client presenting `cert` (empty: none), trusting the broker.
  std::unique_ptr<httplib::SSLClient> Client(const std::string& cert) {
    auto c = cert.empty() ? std::make_unique<httplib::SSLClient>("127.0.0.1", broker_->http_port())
                          : std::make_unique<httplib::SSLClient>("127.0.0.1", broker_->http_port(),
                                                                 dir_ + "/" + cert + ".crt", dir_ + "/" + cert + ".key");
    c->enable_server_certificate_verification(true);
    c->set_ca_cert_path((dir_ + "/server.crt").c_str());
    c->set_read_timeout(40);
    return c;
  }

  static httplib::Result Post(httplib::SSLClient& c, const std::string& body,
                              const std::string& type = "application/json", const std::string& token = "") {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return c.Post("/api/v1/events", headers, body, type);
  }

  long long StoredEvents() { return broker_->QueryInt("SELECT COUNT(*) FROM events"); }

  std::string dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(HttpPublishTest, AClientCertificatePublishesAndEachOutcomeIsTheSameAsOnTheWire) {
  StartBroker();
  auto c = Client("platform");
  auto events = Sample(3, 2);  // enterprises 0..2 at revision 1, then at revision 2

  auto accepted = Post(*c, Json(events[0]));
  ASSERT_TRUE(accepted) << httplib::to_string(accepted.error());
  ASSERT_EQ(accepted->status, 200) << accepted->body;
  v1::PublishAck a = ParseAck(accepted->body);
  EXPECT_EQ(a.status(), v1::ACCEPTED);
  EXPECT_EQ(a.event_id(), events[0].event_id());
  EXPECT_GT(a.sequence(), 0u);
  EXPECT_FALSE(a.agencies().empty());
  // Confirmed means stored.
  EXPECT_EQ(broker_->QueryInt("SELECT seq FROM events WHERE event_id = '" + events[0].event_id() + "'"),
            static_cast<long long>(a.sequence()));

  // The same body again (a client that timed out): the same sequence.
  auto again = Post(*c, Json(events[0]));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  v1::PublishAck d = ParseAck(again->body);
  EXPECT_EQ(d.status(), v1::DUPLICATE);
  EXPECT_EQ(d.sequence(), a.sequence());

  v1::EnterpriseEvent changed = events[0];
  changed.mutable_enterprise()->set_name(changed.enterprise().name() + "分公司");
  auto conflict = Post(*c, Json(changed));
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 409);
  EXPECT_EQ(ParseAck(conflict->body).error(), v1::CONFLICT);

  // Revision 2 of the second enterprise, then its revision 1 (stale).
  ASSERT_EQ(Post(*c, Json(events[4]))->status, 200);
  auto stale = Post(*c, Json(events[1]));
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 409);
  v1::PublishAck s = ParseAck(stale->body);
  EXPECT_EQ(s.error(), v1::STALE_REVISION);
  EXPECT_EQ(s.current_revision(), events[4].revision());

  v1::EnterpriseEvent invalid = events[2];
  invalid.set_uscc("91350200MA00000000");  // wrong check character
  auto refused = Post(*c, Json(invalid));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 422);
  v1::PublishAck r = ParseAck(refused->body);
  EXPECT_EQ(r.error(), v1::INVALID_EVENT);
  ASSERT_GT(r.errors_size(), 0);
  EXPECT_EQ(r.errors(0).path(), "uscc");
  const long long stored = StoredEvents();
  EXPECT_EQ(stored, 2);

  // A batch of mixed outcomes: one result per line, in line order.
  auto batch = Post(*c, Json(events[2]) + "\n\n" + Json(events[0]) + "\n" + Json(invalid) + "\n" + Json(changed) + "\n",
                    "application/x-ndjson");
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->status, 200) << batch->body;
  v1::PublishBatchResult results = ParseBatch(batch->body);
  ASSERT_EQ(results.results_size(), 4);
  EXPECT_EQ(results.results(0).status(), v1::ACCEPTED);
  EXPECT_EQ(results.results(0).correlation_id(), 1u);
  EXPECT_EQ(results.results(1).status(), v1::DUPLICATE);
  EXPECT_EQ(results.results(1).correlation_id(), 3u);  // the blank line counts
  EXPECT_EQ(results.results(2).error(), v1::INVALID_EVENT);
  EXPECT_EQ(results.results(3).error(), v1::CONFLICT);
  EXPECT_EQ(StoredEvents(), stored + 1);
}

TEST_F(HttpPublishTest, OnlyAPublisherMayPublish) {
  StartBroker();
  const std::string body = Json(Sample(1, 1)[0]);

  // No credential at all.
  auto none = Post(*Client("unlisted"), body);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");
  // A certificate from a CA the broker does not accept: no TLS session.
  EXPECT_FALSE(Post(*Client("stranger"), body));
  EXPECT_FALSE(Post(*Client(""), body));
  // Tokens of other roles, and an unknown token.
  auto observer = Post(*Client("unlisted"), body, "application/json", kObserverToken);
  ASSERT_TRUE(observer);
  EXPECT_EQ(observer->status, 403);
  auto admin = Post(*Client("unlisted"), body, "application/json", kAdminToken);
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 403);
  auto unknown = Post(*Client("platform"), body, "application/json", std::string(40, 'x'));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 401);
  EXPECT_EQ(StoredEvents(), 0);

  // A publisher token works from any accepted certificate.
  auto token = Post(*Client("unlisted"), body, "application/json", kPublisherToken);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->status, 200) << token->body;
  EXPECT_EQ(StoredEvents(), 1);
  // The identity that published is in the broker's log, not the token.
  const std::string log = testing::ReadFile(broker_->log_path());
  EXPECT_EQ(log.find(kPublisherToken), std::string::npos);
  EXPECT_NE(log.find("identity 'monitor' is not a publisher"), std::string::npos);
}

TEST_F(HttpPublishTest, HostileBodiesAreRefusedAndNothingIsStored) {
  StartBroker("  max_publish_body_bytes: 8192\n  max_publish_batch: 3\n");
  auto c = Client("platform");
  auto events = Sample(4, 1);
  auto expect = [&](httplib::Result res, int status, const std::string& code) {
    ASSERT_TRUE(res) << code;
    EXPECT_EQ(res->status, status) << res->body;
    v1::ApiError e;
    ASSERT_TRUE(json::Parse(res->body, &e).ok()) << res->body;
    EXPECT_EQ(e.code(), code);
    EXPECT_FALSE(e.message().empty());
  };
  expect(Post(*c, std::string(9000, ' ') + Json(events[0])), 413, "PAYLOAD_TOO_LARGE");
  expect(Post(*c, "{\"event_id\": "), 400, "INVALID_ARGUMENT");
  expect(Post(*c, "{\"no_such_field\": 1}"), 400, "INVALID_ARGUMENT");
  expect(Post(*c, std::string(3000, '[') + std::string(3000, ']')), 400, "INVALID_ARGUMENT");
  std::string nested = "{\"enterprise\":" + std::string(1000, '{') + std::string(1000, '}') + "}";
  expect(Post(*c, nested), 400, "INVALID_ARGUMENT");
  std::string bad_utf8 = Json(events[0]);
  bad_utf8.replace(bad_utf8.find(events[0].enterprise().name()), 3, "\xff\xfe\xfd");
  expect(Post(*c, bad_utf8), 400, "INVALID_ARGUMENT");
  expect(Post(*c, Json(events[0]), "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE");
  expect(Post(*c, Lines(events), "application/x-ndjson"), 413, "BATCH_TOO_LARGE");
  expect(Post(*c, "\n \n", "application/x-ndjson"), 400, "INVALID_ARGUMENT");
  // One bad line refuses the whole batch, naming the line.
  auto bad_line = Post(*c, Json(events[0]) + "\n{oops\n", "application/x-ndjson");
  ASSERT_TRUE(bad_line);
  EXPECT_EQ(bad_line->status, 400);
  EXPECT_NE(bad_line->body.find("line 2"), std::string::npos) << bad_line->body;

  EXPECT_EQ(StoredEvents(), 0);
  // The broker serves on.
  auto ok = Post(*c, Json(events[0]));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpPublishTest, ABatchOverMaxBodyBytesButUnderMaxPublishBodyBytesIsStored) {
  // The defaults: http.max_body_bytes 65,536, http.max_publish_body_bytes
  // 1 MiB. Events padded to about 1.5 KB take about 2 KB as JSON.
  StartBroker();
  auto c = Client("platform");
  sample::SampleOptions o;
  o.enterprises = 100;
  o.events_per_enterprise = 1;
  o.deregister_fraction = 0;
  o.banks = {"ICBC"};
  o.target_bytes = 1500;
  o.id_prefix = "big";
  const std::string body = Lines(sample::Generate(o));
  ASSERT_GT(body.size(), 65536u);
  ASSERT_LT(body.size(), 1048576u);
  auto res = Post(*c, body, "application/x-ndjson", kPublisherToken);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(ParseBatch(res->body).results_size(), 100);
  EXPECT_EQ(StoredEvents(), 100);
  // Any other request is still held to http.max_body_bytes.
  httplib::Headers admin{{"Authorization", "Bearer " + kAdminToken}};
  auto other = c->Post("/api/v1/cases/x/resolve", admin, std::string(70000, ' '), "application/json");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 413) << other->body;
}

TEST_F(HttpPublishTest, APublisherOverItsRateIsToldWhenToComeBack) {
  StartBroker("  publish_rate_per_client: 1\n");
  auto c = Client("platform");
  auto events = Sample(2, 1);
  ASSERT_EQ(Post(*c, Json(events[0]))->status, 200);
  auto over = Post(*c, Json(events[1]));
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 429) << over->body;
  ASSERT_TRUE(over->has_header("Retry-After"));
  EXPECT_GE(std::stoi(over->get_header_value("Retry-After")), 1);
  EXPECT_EQ(StoredEvents(), 1);
}

// Batches posted one after another while the broker is SIGKILLed: every
// event answered ACCEPTED is stored and delivered; after the restart the
// same batches again give DUPLICATE for those, and each batch was stored
// whole or not at all.
TEST_F(HttpPublishTest, AKilledBrokerKeepsEveryConfirmedEventAndTheResendSettlesTheRest) {
  StartBroker();
  constexpr int kBatches = 60, kPerBatch = 20;
  auto events = Sample(kBatches * kPerBatch, 1, 7);
  std::vector<std::string> bodies(kBatches);
  for (int b = 0; b < kBatches; ++b)
    bodies[b] = Lines({events.begin() + b * kPerBatch, events.begin() + (b + 1) * kPerBatch});

  std::set<std::string> accepted;
  std::atomic<int> answered{0};
  std::thread publisher([&] {
    auto c = Client("platform");
    for (int b = 0; b < kBatches; ++b) {
      auto res = Post(*c, bodies[b], "application/x-ndjson");
      if (!res || res->status != 200) continue;  // killed: the outcome is unknown
      const v1::PublishBatchResult batch = ParseBatch(res->body);
      for (const auto& r : batch.results())
        if (r.status() == v1::ACCEPTED) accepted.insert(r.event_id());
      ++answered;
    }
  });
  ASSERT_TRUE(PollUntil([&] { return answered.load() >= 10; }, 30000));
  broker_->Kill(SIGKILL);
  publisher.join();
  ASSERT_GE(accepted.size(), 10u * kPerBatch);

  broker_->Start();
  for (const auto& id : accepted)
    EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM events WHERE event_id = '" + id + "'"), 1) << id;

  auto c = Client("platform");
  std::set<std::string> stored_before;
  for (const auto& id : broker_->QueryColumn("SELECT event_id FROM events")) stored_before.insert(id);
  for (int b = 0; b < kBatches; ++b) {
    auto res = Post(*c, bodies[b], "application/x-ndjson");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    int duplicates = 0;
    const v1::PublishBatchResult batch = ParseBatch(res->body);
    for (const auto& r : batch.results()) {
      const bool was_stored = stored_before.count(r.event_id()) > 0;
      EXPECT_EQ(r.status(), was_stored ? v1::DUPLICATE : v1::ACCEPTED) << r.event_id();
      if (accepted.count(r.event_id())) EXPECT_EQ(r.status(), v1::DUPLICATE) << r.event_id();
      duplicates += was_stored;
    }
    EXPECT_TRUE(duplicates == 0 || duplicates == kPerBatch) << "batch " << b << " was stored in part";
  }

  // Every event reaches the tax agency (every sample ESTABLISHED goes there).
  zmq::context_t context(1);
  client::ClientOptions options;
  options.endpoint = broker_->endpoint();
  options.agency = "tax";
  options.credit = 256;
  client::Consumer tax(context, options);
  std::set<std::string> delivered;
  ASSERT_TRUE(PollUntil(
      [&] {
        while (auto d = tax.Receive(10)) {
          delivered.insert(d->event_id());
          v1::Result r;
          r.set_sequence(d->sequence());
          r.set_event_id(d->event_id());
          r.set_agency(d->agency());
          r.set_outcome(v1::OUTCOME_PROCESSED);
          r.set_attempt(d->attempt());
          r.set_reference("REF");
          tax.Answer(r);
        }
        return delivered.size() == events.size();
      },
      60000))
      << delivered.size() << " of " << events.size();
  for (const auto& id : accepted) EXPECT_TRUE(delivered.count(id)) << id;
}

}  // namespace
}  // namespace yilian
