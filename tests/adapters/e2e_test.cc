#include <sys/stat.h>
// End to end with real processes: yilian-broker, one yilian-adapter per
// agency with its built-in plugin, and one yilian-agency-sim per agency
// (exchange databases, and one bank over HTTP). A batch of establishments,
// changes and deregistrations ends with every delivery settled: PROCESSED
// with the agency's reference, or REJECTED exactly where the simulator
// refused; the references appear on the cases. Killing an adapter while its
// agency still has unanswered rows, or while answers wait for a broker that
// is down, loses no result.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "auth/keys.h"
#include "cli/sample.h"
#include "client/publisher.h"
#include "sink/sink.h"
#include "sqlite/db.h"
#include "testing/broker_fixture.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

std::string Bin(const std::string& rel) { return std::string(YILIAN_BINARY_DIR) + "/" + rel; }

// Rows of a read-only query: each row its columns joined by '|'.
std::vector<std::string> Rows(const std::string& db_path, const std::string& sql) {
  std::vector<std::string> out;
  sqlite::OpenOptions o;
  o.read_only = true;
  auto db = sqlite::Db::Open(db_path, o);
  if (!db.ok()) return out;
  auto stmt = db.value()->Prepare(sql);
  if (!stmt.ok()) return out;
  for (bool row = true;;) {
    if (!stmt->Step(&row).ok() || !row) break;
    std::string line;
    for (int c = 0; c < 4; ++c) line += (c ? "|" : "") + stmt->Text(c);
    out.push_back(line);
  }
  return out;
}

long long Count(const std::string& db_path, const std::string& sql) {
  auto rows = Rows(db_path, sql);
  return rows.empty() ? -1 : std::atoll(rows[0].c_str());
}

// One agency: its simulator and its adapter.
struct Agency {
  std::string id;      // "tax", "bank:CCB"
  std::string plugin;  // "tax", "bank"
  bool http = false;
  std::string dir;
  std::string db() const { return dir + "/exchange.db"; }
  std::string hold() const { return dir + "/hold"; }
  std::string sim_log() const { return dir + "/sim.log"; }
  std::string adapter_log() const { return dir + "/adapter.log"; }
  std::string state_dir() const { return dir + "/state"; }
  int http_port = 0;
  std::unique_ptr<Process> sim;
  std::unique_ptr<Process> adapter;
  int adapter_starts = 0;
  std::vector<std::string> log_args;  // more --log-* options for both processes
};

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = testing::MakeTempDir("yilian-e2e-adapters"); }

  // Plain TCP (--insecure-dev), or CURVE with keys for the platform and for
  // the adapters of `curve_agencies` (each its own key and agency role).
  void StartBroker(const std::vector<std::string>& curve_agencies = {}) {
    std::string yaml = "delivery:\n  ack_timeout_ms: 10000\n";
    broker_ = std::make_unique<BrokerProcess>(yaml);
    if (!curve_agencies.empty()) {
      std::string dir = broker_->dir();
      std::string keys = "keys:\n";
      for (std::string name : {std::string("broker"), std::string("platform")})
        ASSERT_TRUE(auth::WriteKeyPair(dir, name, auth::GenerateKeyPair().value()).ok());
      keys += "  - {identity: platform, role: publisher, public: \"" +
              auth::ReadKeyPair(dir + "/platform.key").value().public_key + "\"}\n";
      for (const auto& agency : curve_agencies) {
        std::string name = "adapter-" + std::to_string(keys.size());
        ASSERT_TRUE(auth::WriteKeyPair(dir, name, auth::GenerateKeyPair().value()).ok());
        keys += "  - {identity: " + name + ", role: \"agency:" + agency + "\", public: \"" +
                auth::ReadKeyPair(dir + "/" + name + ".key").value().public_key + "\"}\n";
        adapter_keys_[agency] = {"--server-key", dir + "/broker.pub", "--key", dir + "/" + name + ".key"};
      }
      testing::WriteFile(dir + "/keys.yaml", keys);
      // Not writable by others whatever the umask: the broker would refuse it.
      chmod((dir + "/keys.yaml").c_str(), 0644);
      // With CURVE the broker also needs its SM4 data key (personal fields at rest).
      testing::WriteFile(dir + "/data.key", std::string(64, 'd') + "\n");
      chmod((dir + "/data.key").c_str(), 0600);
      testing::WriteFile(broker_->config_path(), testing::ReadFile(broker_->config_path()) +
                                                     "security:\n  server_key_file: " + dir +
                                                     "/broker.key\n  keys_file: " + dir + "/keys.yaml\n"
                                                     "  data_key_file: " + dir + "/data.key\n");
      broker_->set_insecure(false);
      auto platform = auth::ReadKeyPair(dir + "/platform.key").value();
      publisher_options_.server_public_key = auth::ReadPublicKey(dir + "/broker.pub").value();
      publisher_options_.public_key = platform.public_key;
      publisher_options_.secret_key = platform.secret_key;
    }
    broker_->Start();
    publisher_options_.endpoint = broker_->endpoint();
  }
  void TearDown() override {
    for (auto& a : agencies_) {
      a->adapter.reset();
      a->sim.reset();
    }
    broker_.reset();
    if (!HasFailure() && !std::getenv("YILIAN_KEEP_TEST_DIRS")) testing::RemoveTree(root_);
  }

  Agency& AddAgency(const std::string& id, const std::string& plugin, bool http = false) {
    auto a = std::make_unique<Agency>();
    a->id = id;
    a->plugin = plugin;
    a->http = http;
    a->dir = root_ + "/" + (plugin == "bank" ? "bank_" + id.substr(5) : id);
    std::filesystem::create_directories(a->dir);
    if (http) a->http_port = testing::FreeTcpPort();
    agencies_.push_back(std::move(a));
    return *agencies_.back();
  }

  void StartSim(Agency& a, double reject_rate = 0.2) {
    std::vector<std::string> argv = {Bin("adapters/sim/yilian-agency-sim"),
                                     "--agency",
                                     a.id,
                                     "--db",
                                     a.db(),
                                     "--seed",
                                     "17",
                                     "--delay-ms",
                                     "20-250",
                                     "--reject-rate",
                                     std::to_string(reject_rate),
                                     "--poll-ms",
                                     "20",
                                     "--hold-file",
                                     a.hold(),
                                     "--log-file",
                                     a.sim_log()};
    if (a.http)
      argv.insert(argv.end(), {"--http", "127.0.0.1:" + std::to_string(a.http_port), "--http-base", "/agency"});
    argv.insert(argv.end(), a.log_args.begin(), a.log_args.end());
    std::size_t before = testing::ReadFile(a.sim_log()).size();
    a.sim = Process::Start(argv, a.dir + "/sim.out", a.dir + "/sim.out");
    ASSERT_TRUE(PollUntil(
        [&] { return testing::ReadFile(a.sim_log()).find("simulator ready", before) != std::string::npos; }, 20000))
        << testing::ReadFile(a.dir + "/sim.out");
  }

  void StartAdapter(Agency& a) {
    std::string sink = a.http ? "  sink:\n    type: http\n    url: http://127.0.0.1:" + std::to_string(a.http_port) +
                                    "/agency\n    retry_after_ms: 200\n"
                              : "  sink:\n    type: exchange-db\n    path: " + a.db() + "\n";
    testing::WriteFile(a.dir + "/adapter.yaml",
                       "adapter:\n  credit: 16\n  check_interval_ms: 50\n  check_max_interval_ms: 300\n"
                       "  result_timeout_ms: 1000\nplugin:\n" +
                           sink);
    std::size_t before = testing::ReadFile(a.adapter_log()).size();
    ++a.adapter_starts;
    std::vector<std::string> argv = {Bin("adapters/host/yilian-adapter"),
                                     "--broker",
                                     broker_->endpoint(),
                                     "--agency",
                                     a.id,
                                     "--plugin",
                                     a.plugin,
                                     "--config",
                                     a.dir + "/adapter.yaml",
                                     "--state-dir",
                                     a.state_dir(),
                                     "--log-file",
                                     a.adapter_log(),
                                     "--name",
                                     "e2e-" + a.id};
    const auto& keys = adapter_keys_[a.id];
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), a.log_args.begin(), a.log_args.end());
    a.adapter = Process::Start(argv, a.dir + "/adapter.out", a.dir + "/adapter.out");
    ASSERT_TRUE(PollUntil(
        [&] { return testing::ReadFile(a.adapter_log()).find("connecting to", before) != std::string::npos; }, 20000))
        << testing::ReadFile(a.dir + "/adapter.out");
  }

  void StartAll() {
    for (auto& a : agencies_) StartSim(*a);
    for (auto& a : agencies_) StartAdapter(*a);
  }

  std::vector<v1::EnterpriseEvent> PublishBatch(int enterprises, std::uint64_t seed) {
    sample::SampleOptions o;
    o.seed = seed;
    o.enterprises = enterprises;
    o.events_per_enterprise = 3;  // established, changed, then filed or deregistered
    o.deregister_fraction = 0.5;
    o.banks = {"ICBC", "CCB"};
    auto events = sample::Generate(o);
    client::Publisher publisher(context_, publisher_options_);
    for (const auto& e : events) publisher.Publish(e);
    std::size_t confirmed = 0;
    EXPECT_TRUE(PollUntil(
        [&] {
          publisher.Poll(20, [&](std::uint64_t, const v1::PublishAck& ack) {
            EXPECT_NE(ack.status(), v1::REFUSED) << ack.message();
            ++confirmed;
          });
          return confirmed == events.size();
        },
        30000));
    return events;
  }

  // Deliveries to the agencies of this test (the broker routes to others
  // too, which have no adapter here).
  long long Deliveries(const std::string& where) {
    std::string ids;
    for (const auto& a : agencies_) ids += (ids.empty() ? "'" : ", '") + a->id + "'";
    return broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE agency IN (" + ids + ") AND " + where);
  }

  bool AllSettled(int timeout_ms) {
    return PollUntil([&] { return Deliveries("state NOT IN (3, 4, 5)") == 0; }, timeout_ms);
  }

  // Every delivery agrees with its agency: PROCESSED with the receipt's
  // reference (or NOT_APPLICABLE, never sent), REJECTED with the receipt's
  // reason. Returns how many were rejected.
  int CheckAgainstAgencies() {
    int rejected = 0;
    for (auto& a : agencies_) {
      std::map<std::string, std::string> receipts;  // event id -> status|reference|reason_code|reason
      for (const auto& r :
           Rows(a->db(), "SELECT event_id || '|' || status, reference, reason_code, reason FROM yl_receipt"))
        receipts[r.substr(0, r.find('|'))] = r.substr(r.find('|') + 1);
      std::string sql =
          "SELECT e.event_id, d.state, d.reference, d.reason FROM deliveries d JOIN events e ON e.seq = "
          "d.seq WHERE d.agency = '" +
          a->id + "'";
      auto rows = Rows(broker_->data_dir() + "/yilian.db", sql);
      EXPECT_FALSE(rows.empty()) << a->id;
      for (const auto& row : rows) {
        std::vector<std::string> f;
        std::size_t start = 0;
        for (std::size_t bar; (bar = row.find('|', start)) != std::string::npos; start = bar + 1)
          f.push_back(row.substr(start, bar - start));
        f.push_back(row.substr(start));
        if (f.size() < 4) {
          ADD_FAILURE() << "unexpected row " << row;
          continue;
        }
        const std::string &id = f[0], &state = f[1], &reference = f[2], &reason = f[3];
        auto receipt = receipts.find(id);
        if (state == "3" && reference == "NOT_APPLICABLE") {
          EXPECT_EQ(receipt, receipts.end()) << a->id << " " << id;
          continue;
        }
        if (receipt == receipts.end()) {
          ADD_FAILURE() << a->id << " " << id << " state " << state << ": no receipt at the agency";
          continue;
        }
        if (state == "3") {
          EXPECT_EQ(receipt->second, "PROCESSED|" + reference + "||") << a->id << " " << id;
          EXPECT_FALSE(reference.empty());
        } else {
          EXPECT_EQ(state, "4") << a->id << " " << id;
          ++rejected;
          EXPECT_EQ(receipt->second.substr(0, 9), "REJECTED|") << a->id << " " << id;
          EXPECT_NE(reason.find(receipt->second.substr(10, receipt->second.find('|', 10) - 10)), std::string::npos)
              << reason << " vs " << receipt->second;
        }
      }
      // One record per event at the agency, whatever the redeliveries.
      EXPECT_EQ(Count(a->db(), "SELECT COUNT(*) - COUNT(DISTINCT event_id) FROM yl_push"), 0);
    }
    return rejected;
  }

  v1::Case GetCase(const std::string& event_id) {
    httplib::Client c("127.0.0.1", broker_->http_port());
    v1::Case out;
    auto r = c.Get(("/api/v1/cases/" + event_id).c_str());
    if (r && r->status == 200) {
      EXPECT_TRUE(sink::FromJson(r->body, &out).ok()) << r->body;
    }
    return out;
  }

  zmq::context_t context_{1};
  std::string root_;
  std::unique_ptr<BrokerProcess> broker_;
  std::vector<std::unique_ptr<Agency>> agencies_;
  client::ClientOptions publisher_options_;
  std::map<std::string, std::vector<std::string>> adapter_keys_;  // agency -> CURVE flags
};

TEST_F(EndToEndTest, BatchEndsCompletedExceptWhatTheAgenciesRejected) {
  AddAgency("tax", "tax");
  AddAgency("social_insurance", "social_insurance");
  AddAgency("housing_fund", "housing_fund");
  AddAgency("bank:ICBC", "bank");
  AddAgency("bank:CCB", "bank", /*http=*/true);
  StartBroker();
  StartAll();
  auto events = PublishBatch(12, 5);
  ASSERT_TRUE(AllSettled(120000)) << Deliveries("state NOT IN (3, 4, 5)") << " deliveries unsettled";
  EXPECT_EQ(Deliveries("state = 5"), 0) << "dead letters";
  EXPECT_GT(Deliveries("state = 3"), 0);
  int rejected = CheckAgainstAgencies();
  EXPECT_GT(rejected, 0) << "a reject rate of 0.2 should refuse something";

  // The cases: COMPLETED unless an agency refused, with the references.
  int completed = 0, attention = 0;
  for (const auto& e : events) {
    long long routed = broker_->QueryInt(
        "SELECT COUNT(*) FROM deliveries d JOIN events e ON e.seq = d.seq WHERE "
        "e.event_id = '" +
        e.event_id() + "'");
    if (routed == 0) continue;  // a filing no agency acts on
    v1::Case c = GetCase(e.event_id());
    ASSERT_EQ(c.event_id(), e.event_id()) << "case API";
    bool any_rejected = false;
    for (const auto& a : c.agencies()) {
      if (a.state() == v1::REJECTED) any_rejected = true;
      if (a.state() == v1::PROCESSED) {
        EXPECT_FALSE(a.reference().empty()) << e.event_id() << " " << a.agency();
      }
    }
    EXPECT_EQ(c.state(), any_rejected ? v1::ATTENTION : v1::COMPLETED) << e.event_id();
    (any_rejected ? attention : completed)++;
  }
  EXPECT_GT(completed, 0);
  EXPECT_GT(attention, 0);
  // Spot check: the establishment's tax reference is the bureau's confirmation number.
  v1::Case first = GetCase(events[0].event_id());
  for (const auto& a : first.agencies())
    if (a.agency() == "tax" && a.state() == v1::PROCESSED) {
      EXPECT_EQ(a.reference().substr(0, 2), "QR");
    }
}

TEST_F(EndToEndTest, KilledAdapterLosesNoResultTheAgencyGivesLater) {
  Agency& tax = AddAgency("tax", "tax");
  testing::WriteFile(tax.hold(), "");  // the bureau has not started work yet
  StartBroker();
  StartAll();
  auto events = PublishBatch(6, 9);
  // Every establishment is in the bureau's table and ACCEPTED at the broker.
  ASSERT_TRUE(PollUntil(
      [&] { return Count(tax.db(), "SELECT COUNT(*) FROM yl_push") == 6 && Deliveries("state = 2") == 6; }, 30000))
      << Count(tax.db(), "SELECT COUNT(*) FROM yl_push") << " rows, " << Deliveries("state = 2") << " accepted";
  tax.adapter->Signal(SIGKILL);
  tax.adapter->WaitExit(10000, nullptr);
  std::remove(tax.hold().c_str());  // the bureau answers while the adapter is gone
  ASSERT_TRUE(PollUntil([&] { return Count(tax.db(), "SELECT COUNT(*) FROM yl_receipt") == 6; }, 30000));
  StartAdapter(tax);
  ASSERT_TRUE(AllSettled(60000));
  EXPECT_NE(testing::ReadFile(tax.adapter_log()).find("resuming 6 events at the agency"), std::string::npos);
  CheckAgainstAgencies();
  EXPECT_EQ(Deliveries("state = 5"), 0);
}

TEST_F(EndToEndTest, AnswersWaitingForADownBrokerSurviveAnAdapterKill) {
  Agency& hf = AddAgency("housing_fund", "housing_fund");
  testing::WriteFile(hf.hold(), "");
  StartBroker();
  StartAll();
  PublishBatch(5, 13);
  ASSERT_TRUE(PollUntil([&] { return Deliveries("state = 2") == 5; }, 30000));
  broker_->Kill(SIGKILL);
  std::remove(hf.hold().c_str());
  // The adapter learns the answers but cannot report them...
  std::string journal = hf.state_dir() + "/results.db";
  ASSERT_TRUE(PollUntil([&] { return Count(journal, "SELECT COUNT(*) FROM entries WHERE state = 2") == 5; }, 30000));
  // ...and is killed with them unreported.
  hf.adapter->Signal(SIGKILL);
  hf.adapter->WaitExit(10000, nullptr);
  broker_->Start();
  StartAdapter(hf);
  ASSERT_TRUE(AllSettled(60000));
  EXPECT_NE(testing::ReadFile(hf.adapter_log()).find("5 answers not yet reported"), std::string::npos);
  CheckAgainstAgencies();
}

// The broker in its default mode: CURVE, every peer a listed key. The
// adapter connects with its own key, whose role is agency:<id>.
TEST_F(EndToEndTest, AdaptersConnectWithCurveKeys) {
  AddAgency("tax", "tax");
  AddAgency("bank:ICBC", "bank");
  StartBroker({"tax", "bank:ICBC"});
  StartAll();
  PublishBatch(3, 21);
  ASSERT_TRUE(AllSettled(60000)) << Deliveries("state NOT IN (3, 4, 5)") << " unsettled";
  EXPECT_NE(testing::ReadFile(agencies_[0]->adapter_log()).find("CURVE"), std::string::npos);
  CheckAgainstAgencies();
}

// The adapter's and the simulator's log files rotated by size
// (--log-max-mb, --log-max-files): with a tiny limit and debug logging, a
// batch with ID and phone numbers makes rotated files; never more than the
// limit beside the current one, each 0600, none holding any of the
// events' ID or phone numbers in clear.
TEST_F(EndToEndTest, AdapterAndSimulatorLogsRotateBoundedPrivateAndMasked) {
  constexpr int kMaxFiles = 2;
  Agency& tax = AddAgency("tax", "tax");
  tax.log_args = {"--log-level", "debug", "--log-max-mb", "0.01", "--log-max-files", std::to_string(kMaxFiles)};
  StartBroker();
  StartAll();
  std::vector<std::string> secrets;
  for (std::uint64_t seed : {41u, 42u, 43u}) {
    for (const auto& e : PublishBatch(40, seed)) {
      for (const auto* p : {&e.enterprise().legal_representative(), &e.enterprise().contact()}) {
        if (!p->id_number().empty()) secrets.push_back(p->id_number());
        if (!p->phone().empty()) secrets.push_back(p->phone());
      }
    }
  }
  ASSERT_FALSE(secrets.empty());
  ASSERT_TRUE(AllSettled(120000)) << Deliveries("state NOT IN (3, 4, 5)") << " unsettled";
  tax.adapter->Signal(SIGTERM);
  tax.sim->Signal(SIGTERM);
  int code = 0;
  tax.adapter->WaitExit(20000, &code);
  tax.sim->WaitExit(20000, &code);
  for (const std::string stem : {"adapter", "sim"}) {
    SCOPED_TRACE(stem);
    int rotated = 0;
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(tax.dir)) {
      const std::string name = entry.path().filename().string();
      if (name == stem + ".log") files.push_back(entry.path().string());
      if (name.rfind(stem + ".", 0) == 0 && name.size() > stem.size() + 5 &&
          name.compare(name.size() - 4, 4, ".log") == 0 && name != stem + ".log") {
        ++rotated;
        files.push_back(entry.path().string());
      }
    }
    EXPECT_GE(rotated, 1) << "the log was never rotated";
    EXPECT_LE(rotated, kMaxFiles);
    for (const auto& f : files) {
      struct stat st {};
      ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
      EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
      const std::string text = testing::ReadFile(f);
      for (const auto& s : secrets) ASSERT_EQ(text.find(s), std::string::npos) << f << " holds a personal number";
    }
  }
}

}  // namespace
}  // namespace yilian
