// Upgrades from every earlier schema version, on stores the old code wrote
// (tests/data/stores/v*/yilian.db, made by make-fixture.sh, counts in
// manifest.json beside each). For each fixture: the current store opens and
// migrates a copy, the rows are those of the manifest, `yilian audit verify`
// passes, and a broker started on it delivers its unsettled deliveries; a
// migration that fails leaves the file exactly as it was; and a store one
// version newer than the code is refused naming both versions. New fixture
// directories are picked up without changing this file.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "cli/cli_run.h"
#include "store/schema.h"
#include "store/store.h"
#include "testing/broker_fixture.h"

namespace yilian {
namespace {

namespace fs = std::filesystem;
using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

struct Fixture {
  std::string name;  // "v1"
  std::string dir;
  int version = 0;  // the schema version its name states (checked against the file)
};

std::vector<Fixture> Fixtures() {
  std::vector<Fixture> out;
  const fs::path root = fs::path(YILIAN_SOURCE_DIR) / "tests/data/stores";
  std::error_code ec;
  const std::regex pattern("v([0-9]+)");
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (entry.is_directory() && std::regex_match(name, m, pattern))
      out.push_back({name, entry.path().string(), std::stoi(m[1].str())});
  }
  std::sort(out.begin(), out.end(), [](const Fixture& a, const Fixture& b) { return a.version < b.version; });
  return out;
}

// The fixtures of versions older than the code's: those a migration starts
// from (the newest fixture is the current version until the next one comes).
std::vector<Fixture> OlderFixtures() {
  std::vector<Fixture> out;
  for (const Fixture& f : Fixtures())
    if (f.version < store::kSchemaVersion) out.push_back(f);
  return out;
}

std::string FixtureName(const ::testing::TestParamInfo<Fixture>& info) { return info.param.name; }

std::map<std::string, long long> ReadManifest(const std::string& path) {
  google::protobuf::Struct manifest;
  std::map<std::string, long long> out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(testing::ReadFile(path), &manifest).ok()) << path;
  for (const auto& [key, value] : manifest.fields())
    if (value.kind_case() == google::protobuf::Value::kNumberValue)
      out[key] = static_cast<long long>(value.number_value());
  return out;
}

// Runs a query on a closed database file and gives the first column of the
// first row as text; `ExecFile` runs statements. A fixture in the source
// tree is read as immutable: SQLite then creates no -wal or -shm beside it.
std::string QueryFile(const std::string& db_path, const std::string& sql, bool immutable = false) {
  sqlite3* db = nullptr;
  std::string out;
  const std::string uri = "file:" + db_path + (immutable ? "?immutable=1" : "?mode=ro");
  if (sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_text(st, 0) != nullptr)
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}
void ExecFile(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message << " in " << sql;
}

// The fixture's store copied into a new data directory (0700, file 0600).
void CopyFixture(const Fixture& f, const std::string& data_dir) {
  fs::create_directories(data_dir);
  fs::permissions(data_dir, fs::perms::owner_all);
  fs::copy_file(f.dir + "/yilian.db", data_dir + "/yilian.db");
  fs::permissions(data_dir + "/yilian.db", fs::perms::owner_read | fs::perms::owner_write);
}

class UpgradeTest : public ::testing::TestWithParam<Fixture> {};

INSTANTIATE_TEST_SUITE_P(Fixtures, UpgradeTest, ::testing::ValuesIn(Fixtures()), FixtureName);

// Only the fixtures older than the code: from the current version there is
// no migration to make fail.
class FailedUpgradeTest : public ::testing::TestWithParam<Fixture> {};

INSTANTIATE_TEST_SUITE_P(OlderFixtures, FailedUpgradeTest, ::testing::ValuesIn(OlderFixtures()), FixtureName);

TEST_P(UpgradeTest, TheFixtureMigratesKeepsItsRowsVerifiesAndDeliversWhatWasUnsettled) {
  const Fixture& f = GetParam();
  auto manifest = ReadManifest(f.dir + "/manifest.json");
  ASSERT_EQ(manifest["schema_version"], f.version) << "manifest of " << f.dir;
  ASSERT_EQ(QueryFile(f.dir + "/yilian.db", "SELECT value FROM meta WHERE key = 'schema_version'", true),
            std::to_string(f.version));

  BrokerProcess broker;
  CopyFixture(f, broker.data_dir());
  const std::string db = broker.data_dir() + "/yilian.db";
  {
    // The current store opens it (migrating an older version) and keeps
    // every row as it was.
    auto store = store::Store::OpenSqlite(broker.data_dir(), store::StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  EXPECT_EQ(QueryFile(db, "SELECT value FROM meta WHERE key = 'schema_version'"),
            std::to_string(store::kSchemaVersion));
  auto count = [&](const std::string& sql) { return std::stoll(QueryFile(db, sql)); };
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), manifest["events"]);
  EXPECT_EQ(count("SELECT COUNT(*) FROM enterprises"), manifest["enterprises"]);
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), manifest["deliveries"]);
  const std::vector<std::string> states = {"pending", "delivered", "accepted", "processed", "rejected", "dead"};
  for (std::size_t s = 0; s < states.size(); ++s)
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = " + std::to_string(s)), manifest[states[s]])
        << states[s];
  EXPECT_EQ(count("SELECT COUNT(*) FROM case_updates"), manifest["case_updates"]);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit"), manifest["audit_records"]);
  // A realistic store: every final state, unsettled rows, updates, audit.
  for (const char* key : {"pending", "accepted", "processed", "rejected", "dead", "case_updates", "audit_records"})
    EXPECT_GT(manifest[key], 0) << key << ": the fixture lacks them";

  testing::CliRun verified = testing::RunCli(broker.dir(), {"audit", "verify", "--data-dir", broker.data_dir()});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;

  // What a broker hands over at start: the unsettled rows not waiting
  // behind an earlier row of their enterprise that the agency ACCEPTED
  // (that one stays with the adapter until its final result).
  const std::string deliverable =
      "FROM deliveries d WHERE d.state < 2 AND NOT EXISTS (SELECT 1 FROM deliveries a WHERE a.agency = d.agency "
      "AND a.uscc = d.uscc AND a.state = 2 AND a.seq < d.seq)";
  const long long waiting = count("SELECT COUNT(*) FROM deliveries WHERE state < 2") - count("SELECT COUNT(*) " +
                                                                                              deliverable);
  ASSERT_GT(count("SELECT COUNT(*) " + deliverable), 0);
  std::vector<std::string> agencies;
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(h, ("SELECT DISTINCT agency " + deliverable).c_str(), -1, &st, nullptr), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) agencies.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    sqlite3_close(h);
  }
  broker.Start();
  std::vector<std::unique_ptr<Process>> consumers;
  for (const std::string& agency : agencies)
    consumers.push_back(Process::Start({testing::CliBinary(), "consume", "--broker", broker.endpoint(), "--agency",
                                        agency, "--log", broker.dir() + "/consumed.log"},
                                       "", broker.dir() + "/consume.err"));
  EXPECT_TRUE(PollUntil([&] { return broker.QueryInt("SELECT COUNT(*) " + deliverable) == 0; }, 60000))
      << broker.Query("SELECT COUNT(*) " + deliverable) << " deliverable rows not settled; "
      << testing::ReadFile(broker.dir() + "/consume.err");
  EXPECT_EQ(broker.QueryInt("SELECT COUNT(*) FROM deliveries WHERE state < 2"), waiting);
  for (auto& c : consumers) c->Signal(SIGTERM);
  EXPECT_EQ(broker.Stop(), 0);
  testing::CliRun after = testing::RunCli(broker.dir(), {"audit", "verify", "--data-dir", broker.data_dir()});
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
}

// Makes the migration's last step fail: every migration sets the new
// schema_version in `meta`, so a trigger refusing any write to `meta`
// fails it after all its other statements have run.
constexpr const char* kFailMetaWrites = R"sql(
  CREATE TRIGGER test_fail_meta_update BEFORE UPDATE ON meta BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
  CREATE TRIGGER test_fail_meta_insert BEFORE INSERT ON meta BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
)sql";

TEST_P(FailedUpgradeTest, AFailedMigrationLeavesTheStoreAsItWas) {
  const Fixture& f = GetParam();
  const std::string version = std::to_string(f.version);
  ASSERT_EQ(QueryFile(f.dir + "/yilian.db", "SELECT value FROM meta WHERE key = 'schema_version'", true), version);
  const std::string dir = testing::MakeTempDir("yilian-upgrade-fail");
  CopyFixture(f, dir + "/data");
  const std::string db = dir + "/data/yilian.db";
  ExecFile(db, kFailMetaWrites);
  const std::string bytes = testing::ReadFile(db);
  const std::string events = QueryFile(db, "SELECT COUNT(*) FROM events");
  const std::string deliveries = QueryFile(db, "SELECT COUNT(*) FROM deliveries");

  auto store = store::Store::OpenSqlite(dir + "/data", store::StoreOptions{});
  ASSERT_FALSE(store.ok());
  const std::string message = store.status().message();
  EXPECT_NE(message.find("cannot migrate schema version " + version + " to"), std::string::npos) << message;
  EXPECT_NE(message.find(db), std::string::npos) << message;
  EXPECT_NE(message.find("injected failure"), std::string::npos) << message;
  // The same bytes: nothing of the migration was committed.
  EXPECT_TRUE(testing::ReadFile(db) == bytes) << "the file changed";
  EXPECT_FALSE(fs::exists(db + "-wal") && fs::file_size(db + "-wal") > 0);
  EXPECT_EQ(QueryFile(db, "SELECT value FROM meta WHERE key = 'schema_version'"), version);
  EXPECT_EQ(QueryFile(db, "SELECT COUNT(*) FROM events"), events);
  EXPECT_EQ(QueryFile(db, "SELECT COUNT(*) FROM deliveries"), deliveries);
  // Once the cause is gone, the same file migrates.
  ExecFile(db, "DROP TRIGGER test_fail_meta_update; DROP TRIGGER test_fail_meta_insert;");
  {
    auto again = store::Store::OpenSqlite(dir + "/data", store::StoreOptions{});
    EXPECT_TRUE(again.ok()) << again.status().ToString();
  }
  testing::RemoveTree(dir);
}

TEST(UpgradeNewerStore, AStoreNewerThanTheCodeIsRefusedNamingBothVersions) {
  const std::vector<Fixture> fixtures = Fixtures();
  ASSERT_FALSE(fixtures.empty());
  const std::string dir = testing::MakeTempDir("yilian-upgrade-newer");
  CopyFixture(fixtures.back(), dir + "/data");
  const std::string db = dir + "/data/yilian.db";
  { ASSERT_TRUE(store::Store::OpenSqlite(dir + "/data", store::StoreOptions{}).ok()); }
  const std::string newer = std::to_string(store::kSchemaVersion + 1);
  ExecFile(db, "UPDATE meta SET value = '" + newer + "' WHERE key = 'schema_version'");
  const std::string bytes = testing::ReadFile(db);
  auto store = store::Store::OpenSqlite(dir + "/data", store::StoreOptions{});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("has schema version " + newer + ", newer than this broker's schema version " +
                                          std::to_string(store::kSchemaVersion)),
            std::string::npos)
      << store.status().message();
  EXPECT_TRUE(testing::ReadFile(db) == bytes) << "the refused file changed";
  // The broker process says so and exits.
  auto broker = Process::Start({testing::BrokerBinary(), "--data-dir", dir + "/data", "--listen",
                                "tcp://127.0.0.1:" + std::to_string(testing::FreeTcpPort()), "--http", "",
                                "--insecure-dev"},
                               dir + "/out", dir + "/err");
  int code = 0;
  ASSERT_TRUE(broker->WaitExit(20000, &code));
  EXPECT_NE(code, 0);
  EXPECT_NE(testing::ReadFile(dir + "/err").find("newer than this broker's schema version"), std::string::npos)
      << testing::ReadFile(dir + "/err");
  testing::RemoveTree(dir);
}

}  // namespace
}  // namespace yilian
