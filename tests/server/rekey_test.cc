// Data-key rotation through real broker processes (docs/security.md
// section 2): a store written under key A, the broker restarted with key B
// current and A retired while a publisher keeps publishing, killed with
// SIGKILL in the middle of the re-encryption, refused when started with B
// alone before the job is done, resumed with A retired again until done;
// then started with B alone: every stored value decrypts with B, a sealed
// meta row moved to B, no confirmed event is lost and every delivery is
// processed. No sleeps: every wait polls with a deadline.
#include <signal.h>
#include <sys/stat.h>

#include <set>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "security/field_cipher.h"
#include "testing/broker_fixture.h"
#include "testing/guarantees.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;

const char kKeyA[] = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
const char kKeyB[] = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf";

security::FieldCipher Cipher(const char* hex) { return security::FieldCipher::FromKeyHex(hex).value(); }

std::optional<v1::RekeyStatus> ReadRekey(const BrokerProcess& broker) {
  httplib::Client client("127.0.0.1", broker.http_port());
  client.set_connection_timeout(2);
  auto res = client.Get("/api/v1/rekey");
  if (!res || res->status != 200) return std::nullopt;
  v1::RekeyStatus status;
  if (!google::protobuf::util::JsonStringToMessage(res->body, &status).ok()) return std::nullopt;
  return status;
}

class RekeyTest : public ::testing::Test {
 protected:
  void WriteKey(const std::string& name, const char* hex) {
    const std::string path = broker_->dir() + "/" + name;
    testing::WriteFile(path, std::string(hex) + "\n");
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  }
  // The config with `security` keys replaced.
  void Configure(const std::string& security_yaml) {
    testing::WriteFile(broker_->config_path(), base_config_ + "security:\n" + security_yaml);
  }
  // Runs the broker binary to see it refuse to start: its exit code and log.
  int StartRefused(std::string* log) {
    const std::size_t before = testing::ReadFile(broker_->log_path()).size();
    auto p = testing::Process::Start({testing::BrokerBinary(), "--config", broker_->config_path(), "--data-dir",
                                      broker_->data_dir(), "--listen", broker_->endpoint(), "--log-file",
                                      broker_->log_path(), "--insecure-dev"},
                                     broker_->dir() + "/refused.out", broker_->dir() + "/refused.err");
    int code = -1;
    if (!p->WaitExit(20000, &code)) {
      p->Signal(SIGKILL);
      p->WaitExit(5000, &code);
      return -1;
    }
    *log = testing::ReadFile(broker_->log_path()).substr(before);
    return code;
  }

  std::unique_ptr<BrokerProcess> broker_;
  std::string base_config_;
};

TEST_F(RekeyTest, AKilledRotationResumesAndEveryStoredValueEndsUnderTheNewKey) {
  const std::string id_a = Cipher(kKeyA).key_id(), id_b = Cipher(kKeyB).key_id();
  // One event re-encrypted at most every 20 ms: the rotation lasts long
  // enough to be caught in the middle, on any disk.
  broker_ = std::make_unique<BrokerProcess>(
      "security:\n  rekey_batch_events: 1\n  rekey_interval_ms: 20\n"
      "delivery:\n  ack_timeout_ms: 3000\nretry:\n  initial_backoff_ms: 50\n  max_backoff_ms: 500\n"
      "  max_attempts: 1000\n");
  base_config_ = testing::ReadFile(broker_->config_path());
  base_config_ = base_config_.substr(0, base_config_.find("security:\n")) +
                 base_config_.substr(base_config_.find("delivery:\n"));
  const std::string dir = broker_->dir();
  WriteKey("a.key", kKeyA);
  WriteKey("b.key", kKeyB);
  const std::string batch = "  rekey_batch_events: 1\n  rekey_interval_ms: 20\n";

  // 1. Key A, no consumer: half the sample stored, every delivery unsettled.
  Configure("  data_key_file: " + dir + "/a.key\n" + batch);
  broker_->Start();
  const auto events = guarantees::SampleEvents();
  const std::vector<v1::EnterpriseEvent> first(events.begin(), events.begin() + events.size() / 2);
  {
    auto publisher = guarantees::StartPublisher(broker_->endpoint(), dir, first, 5000);
    int code = -1;
    ASSERT_TRUE(publisher->WaitExit(120000, &code));
    ASSERT_EQ(code, 0) << testing::ReadFile(dir + "/publish.err");
  }
  ASSERT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM events"), static_cast<long long>(first.size()));
  EXPECT_EQ(broker_->Query("SELECT value FROM meta WHERE key = 'data_key_ids'"), id_a);
  auto state = ReadRekey(*broker_);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->state(), "idle");
  EXPECT_EQ(state->current_key_id(), id_a);
  ASSERT_EQ(broker_->Stop(), 0);

  // 2. Key B current, A retired, the whole sample published meanwhile (the
  // first half again: duplicates). Killed once the job is under way.
  Configure("  data_key_file: " + dir + "/b.key\n  retired_data_key_files: [" + dir + "/a.key]\n" + batch);
  broker_->Start();
  auto publisher = guarantees::StartPublisher(broker_->endpoint(), dir, events, 300);
  std::optional<v1::RekeyStatus> mid;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        mid = ReadRekey(*broker_);
        return mid && mid->state() == "running" && mid->done() > 0 && mid->remaining() > 0;
      },
      60000))
      << (mid ? mid->DebugString() : "no answer");
  EXPECT_EQ(mid->current_key_id(), id_b);
  EXPECT_EQ(mid->total(), first.size());
  EXPECT_EQ(mid->done() + mid->remaining(), mid->total());
  // The CLI's one-off reading while it runs.
  {
    auto cli = testing::Process::Start({testing::CliBinary(), "rekey", "--no-wait", "--http",
                                        "127.0.0.1:" + std::to_string(broker_->http_port())},
                                       dir + "/rekey-once.out", dir + "/rekey-once.err");
    int code = -1;
    ASSERT_TRUE(cli->WaitExit(20000, &code));
    EXPECT_EQ(code, 0) << testing::ReadFile(dir + "/rekey-once.err");
    const std::string out = testing::ReadFile(dir + "/rekey-once.out");
    EXPECT_NE(out.find("key=" + id_b), std::string::npos) << out;
    EXPECT_EQ(testing::ReadLines(dir + "/rekey-once.out").size(), 1u) << out;
  }
  broker_->Kill(SIGKILL);
  const long long cursor = std::stoll(broker_->Query("SELECT value FROM meta WHERE key = 'rekey_next_seq'"));
  EXPECT_GT(cursor, 0);
  EXPECT_EQ(broker_->Query("SELECT value FROM meta WHERE key = 'rekey_key_id'"), id_b);

  // 3. B alone before the job is done: refused at start, naming key A.
  Configure("  data_key_file: " + dir + "/b.key\n" + batch);
  std::string log;
  EXPECT_EQ(StartRefused(&log), 1);
  EXPECT_NE(log.find("data key " + id_a), std::string::npos) << log;
  EXPECT_NE(log.find("security.retired_data_key_files"), std::string::npos) << log;
  EXPECT_EQ(log.find(kKeyA), std::string::npos);

  // A value kept sealed in meta under A (as the archive will keep one).
  const std::string sealed = Cipher(kKeyA).EncryptValue("sealed.test", "13812345678").value();
  ASSERT_TRUE(broker_->Exec("INSERT INTO meta (key, value) VALUES ('sealed.test', '" + sealed + "')"));

  // 4. A retired again: the job resumes from its cursor and finishes while
  // the publisher goes on; the CLI waits for it.
  Configure("  data_key_file: " + dir + "/b.key\n  retired_data_key_files: [" + dir + "/a.key]\n" + batch);
  broker_->Start();
  {
    auto cli = testing::Process::Start({testing::CliBinary(), "rekey", "--interval-ms", "50", "--http",
                                        "127.0.0.1:" + std::to_string(broker_->http_port())},
                                       dir + "/rekey-wait.out", dir + "/rekey-wait.err");
    int code = -1;
    ASSERT_TRUE(cli->WaitExit(120000, &code));
    EXPECT_EQ(code, 0) << testing::ReadFile(dir + "/rekey-wait.err");
    auto lines = testing::ReadLines(dir + "/rekey-wait.out");
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back().rfind("rekey done key=" + id_b, 0), 0u) << lines.back();
  }
  auto done = ReadRekey(*broker_);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), "done");
  EXPECT_EQ(done->remaining(), 0u);
  EXPECT_EQ(broker_->Query("SELECT value FROM meta WHERE key = 'data_key_ids'"), id_b);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM meta WHERE key LIKE 'rekey_%'"), 0);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM audit WHERE kind = 'rekey'"), 1);
  EXPECT_NE(broker_->Query("SELECT body FROM audit WHERE kind = 'rekey'").find("key=" + id_b), std::string::npos);
  EXPECT_NE(testing::ReadFile(broker_->log_path()).find("may be removed"), std::string::npos);
  const std::string resealed = broker_->Query("SELECT value FROM meta WHERE key = 'sealed.test'");
  EXPECT_EQ(security::FieldCipher::KeyIdOf(resealed), id_b);
  EXPECT_EQ(Cipher(kKeyB).DecryptValue("sealed.test", resealed).value(), "13812345678");

  // 5. B alone: starts, publishing goes on, every delivery is processed.
  ASSERT_EQ(broker_->Stop(), 0);
  Configure("  data_key_file: " + dir + "/b.key\n" + batch);
  broker_->Start();
  auto consumers = guarantees::StartConsumers(broker_->endpoint(), dir);
  int code = -1;
  ASSERT_TRUE(publisher->WaitExit(150000, &code)) << "publisher hung";
  ASSERT_EQ(code, 0) << testing::ReadFile(dir + "/publish.err");
  std::size_t repeated = 0;
  guarantees::Check(*broker_, dir, events, &repeated);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state = 5"), 0) << "dead letters";

  // Every stored payload decrypts with B alone, to what was published.
  std::map<std::string, const v1::EnterpriseEvent*> by_id;
  for (const auto& e : events) by_id[e.event_id()] = &e;
  const security::FieldCipher b = Cipher(kKeyB);
  std::size_t checked = 0;
  for (const auto& row : broker_->QueryColumn("SELECT event_id || ' ' || hex(payload) FROM events")) {
    const std::string id = row.substr(0, row.find(' '));
    const std::string hex = row.substr(row.find(' ') + 1);
    std::string bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    v1::EnterpriseEvent stored;
    ASSERT_TRUE(stored.ParseFromString(bytes)) << id;
    std::set<std::string> keys;
    ASSERT_TRUE(b.KeyIdsOf(stored, &keys).ok()) << id;
    EXPECT_TRUE(keys.empty() || keys == std::set<std::string>{id_b}) << id;
    ASSERT_TRUE(b.DecryptPersonal(&stored).ok()) << id;
    const v1::EnterpriseEvent& published = *by_id.at(id);
    EXPECT_EQ(stored.enterprise().legal_representative().id_number(),
              published.enterprise().legal_representative().id_number())
        << id;
    EXPECT_EQ(stored.enterprise().contact().phone(), published.enterprise().contact().phone()) << id;
    ++checked;
  }
  EXPECT_EQ(checked, events.size());
  for (auto& c : consumers) c->Signal(SIGTERM);
}

}  // namespace
}  // namespace yilian
