// `yilian backup` beside a broker under load and `yilian restore` into a new
// data directory, with real processes and files: the restored broker's
// audit trail verifies, it holds every event confirmed before the backup
// began, it delivers what was unsettled in the backup, and publishers'
// resends are told apart (ACCEPTED for what came after the backup,
// DUPLICATE for what it holds). Then what restore refuses: a directory that
// holds a store, a directory whose broker runs, a damaged file, a file that
// is no yilian store, a store newer than the code, a missing file; and what
// backup refuses: overwriting a file, a PostgreSQL store.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "cli/sample.h"
#include "cli_run.h"
#include "store/schema.h"
#include "testing/broker_fixture.h"
#include "validation/json.h"
#include "yilian/v1/tools.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::CliRun;
using testing::PollUntil;
using testing::Process;

// The event ids of publish reports (JSON lines) with `status`.
std::set<std::string> Reported(const std::string& path, const std::string& status) {
  std::set<std::string> ids;
  for (const std::string& line : testing::ReadLines(path)) {
    v1::PublishReport report;
    if (!json::Parse(line, &report).ok()) continue;  // a line still being written
    if (report.status() == status) ids.insert(report.event_id());
  }
  return ids;
}

std::string WriteEvents(const std::string& path, const std::vector<v1::EnterpriseEvent>& events) {
  std::string text;
  for (const auto& e : events) text += json::Print(e) + "\n";
  testing::WriteFile(path, text);
  return path;
}

// Runs `sql` on the database file `path` (a backup being made into something else).
void ExecOn(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

class BackupRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("yilian-backup-test"); }
  void TearDown() override { testing::RemoveTree(dir_); }
  std::string dir_;
};

TEST_F(BackupRestoreTest, BackupUnderLoadRestoresIntoANewDirectoryAndResumes) {
  sample::SampleOptions o;
  o.seed = 21;
  o.enterprises = 150;
  o.events_per_enterprise = 4;
  o.deregister_fraction = 0;
  o.banks = {"ICBC"};
  const std::vector<v1::EnterpriseEvent> events = sample::Generate(o);
  std::map<std::string, v1::EnterpriseEvent> by_id;
  for (const auto& e : events) by_id[e.event_id()] = e;

  // No agency is connected: every delivery stays unsettled in the backup.
  BrokerProcess broker;
  broker.Start();
  auto publisher = Process::Start({testing::CliBinary(), "publish", "--broker", broker.endpoint(), "--rate", "300",
                                   "--resend-ms", "1000", "--timeout", "60",
                                   WriteEvents(dir_ + "/all.jsonl", events)},
                                  dir_ + "/publish.out", dir_ + "/publish.err");
  ASSERT_TRUE(PollUntil([&] { return Reported(dir_ + "/publish.out", "accepted").size() >= 100; }, 30000))
      << testing::ReadFile(dir_ + "/publish.err");
  const std::set<std::string> before = Reported(dir_ + "/publish.out", "accepted");
  const std::string backup = dir_ + "/yilian-backup.db";
  CliRun made = testing::RunCli(dir_, {"backup", "--data-dir", broker.data_dir(), "--to", backup});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_NE(made.out.find("schema_version=" + std::to_string(store::kSchemaVersion)), std::string::npos) << made.out;
  EXPECT_NE(made.out.find("integrity=ok"), std::string::npos) << made.out;
  EXPECT_EQ(ModeOf(backup), 0600u);
  // Publishing went on during and after the backup.
  int code = -1;
  ASSERT_TRUE(publisher->WaitExit(90000, &code));
  ASSERT_EQ(code, 0) << testing::ReadFile(dir_ + "/publish.err");
  ASSERT_EQ(Reported(dir_ + "/publish.out", "accepted").size(), events.size());
  ASSERT_EQ(broker.Stop(), 0);

  // A second backup never overwrites the first.
  CliRun again = testing::RunCli(dir_, {"backup", "--data-dir", broker.data_dir(), "--to", backup});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;

  BrokerProcess restored;
  CliRun put = testing::RunCli(dir_, {"restore", "--from", backup, "--data-dir", restored.data_dir()});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(ModeOf(restored.data_dir()), 0700u);
  EXPECT_EQ(ModeOf(restored.data_dir() + "/yilian.db"), 0600u);
  restored.Start();
  CliRun verified = testing::RunCli(dir_, {"audit", "verify", "--data-dir", restored.data_dir()});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;

  // Every event confirmed before the backup began is in the restored store;
  // some published during the backup or after it are not.
  std::set<std::string> stored;
  for (const std::string& id : restored.QueryColumn("SELECT event_id FROM events")) stored.insert(id);
  for (const std::string& id : before) EXPECT_TRUE(stored.count(id)) << id << " confirmed before the backup, lost";
  std::vector<v1::EnterpriseEvent> after, held;
  for (const auto& e : events) (stored.count(e.event_id()) ? held : after).push_back(e);
  ASSERT_FALSE(after.empty()) << "the backup holds everything: publishing was not under way";
  const long long unsettled_tax =
      restored.QueryInt("SELECT COUNT(*) FROM deliveries WHERE agency = 'tax' AND state < 3");
  ASSERT_GT(unsettled_tax, 0);

  // Resume: the backup's unsettled deliveries reach an agency that connects.
  auto tax = Process::Start({testing::CliBinary(), "consume", "--broker", restored.endpoint(), "--agency", "tax",
                             "--log", dir_ + "/tax.log"},
                            "", dir_ + "/tax.err");
  ASSERT_TRUE(PollUntil(
      [&] { return restored.QueryInt("SELECT COUNT(*) FROM deliveries WHERE agency = 'tax' AND state < 3") == 0; },
      60000))
      << restored.Query("SELECT COUNT(*) FROM deliveries WHERE agency = 'tax' AND state < 3") << " unsettled";
  EXPECT_GE(static_cast<long long>(testing::ReadLines(dir_ + "/tax.log").size()), unsettled_tax);

  // The publisher resends: what came after the backup is new to the
  // restored broker, what the backup holds is a duplicate.
  CliRun resent_after = testing::RunCli(
      dir_, {"publish", "--broker", restored.endpoint(), "--timeout", "60", WriteEvents(dir_ + "/after.jsonl", after)});
  ASSERT_EQ(resent_after.exit_code, 0) << resent_after.err;
  testing::WriteFile(dir_ + "/after.out", resent_after.out);
  EXPECT_EQ(Reported(dir_ + "/after.out", "accepted").size(), after.size()) << resent_after.out;
  CliRun resent_before = testing::RunCli(
      dir_, {"publish", "--broker", restored.endpoint(), "--timeout", "60", WriteEvents(dir_ + "/held.jsonl", held)});
  ASSERT_EQ(resent_before.exit_code, 0) << resent_before.err;
  testing::WriteFile(dir_ + "/held.out", resent_before.out);
  EXPECT_EQ(Reported(dir_ + "/held.out", "duplicate").size(), held.size()) << resent_before.out;
  EXPECT_EQ(restored.QueryInt("SELECT COUNT(*) FROM events"), static_cast<long long>(events.size()));
  tax->Signal(SIGTERM);
}

TEST_F(BackupRestoreTest, RestoreRefusesWhatItMustNotOverwriteOrCannotTrust) {
  BrokerProcess broker;
  broker.Start();
  CliRun published = testing::RunCli(dir_, {"gen-sample", "--enterprises", "3", "--events-per-enterprise", "1", "--seed", "5"});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  testing::WriteFile(dir_ + "/events.jsonl", published.out);
  ASSERT_EQ(testing::RunCli(dir_, {"publish", "--broker", broker.endpoint(), dir_ + "/events.jsonl"}).exit_code, 0);
  // The store named by the broker's configuration file alone.
  testing::WriteFile(dir_ + "/broker.yaml", testing::ReadFile(broker.config_path()) + "data_dir: " + broker.data_dir() + "\n");
  const std::string backup = dir_ + "/b.db";
  CliRun by_config = testing::RunCli(dir_, {"backup", "--config", dir_ + "/broker.yaml", "--to", backup});
  ASSERT_EQ(by_config.exit_code, 0) << by_config.err;
  EXPECT_NE(by_config.out.find("events=3"), std::string::npos) << by_config.out;
  // A configuration whose store is PostgreSQL is pointed to PostgreSQL's tools.
  testing::WriteFile(dir_ + "/pg.yaml", "store:\n  backend: postgresql\n  postgresql:\n    conninfo: \"dbname=yilian\"\n");
  CliRun pg = testing::RunCli(dir_, {"backup", "--config", dir_ + "/pg.yaml", "--to", dir_ + "/pg.db"});
  EXPECT_EQ(pg.exit_code, 2);
  EXPECT_NE(pg.err.find("pg_dump"), std::string::npos) << pg.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pg.db"));

  // The running broker's own directory: its LOCK is held.
  CliRun running = testing::RunCli(dir_, {"restore", "--from", backup, "--data-dir", broker.data_dir()});
  EXPECT_EQ(running.exit_code, 2);
  EXPECT_NE(running.err.find("in use by a running broker"), std::string::npos) << running.err;
  ASSERT_EQ(broker.Stop(), 0);
  // Stopped, it still holds a store.
  CliRun occupied = testing::RunCli(dir_, {"restore", "--from", backup, "--data-dir", broker.data_dir()});
  EXPECT_EQ(occupied.exit_code, 2);
  EXPECT_NE(occupied.err.find("already holds a store"), std::string::npos) << occupied.err;

  // A damaged copy: the headers of pages 2 to 6 overwritten.
  const std::string damaged = dir_ + "/damaged.db";
  {
    std::string bytes = testing::ReadFile(backup);
    ASSERT_GT(bytes.size(), 6u * 4096);
    for (std::size_t page = 1; page < 6; ++page)
      for (std::size_t i = 0; i < 12; ++i) bytes[page * 4096 + i] = static_cast<char>(0xA5);
    testing::WriteFile(damaged, bytes);
  }
  const std::string fresh = dir_ + "/fresh";
  CliRun bad = testing::RunCli(dir_, {"restore", "--from", damaged, "--data-dir", fresh});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("is damaged"), std::string::npos) << bad.err;
  testing::WriteFile(dir_ + "/notes.txt", "not a database, but long enough to have a header of one ...........\n");
  CliRun text = testing::RunCli(dir_, {"restore", "--from", dir_ + "/notes.txt", "--data-dir", fresh});
  EXPECT_EQ(text.exit_code, 2);
  EXPECT_NE(text.err.find("not an SQLite database"), std::string::npos) << text.err;
  CliRun missing = testing::RunCli(dir_, {"restore", "--from", dir_ + "/none.db", "--data-dir", fresh});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no file"), std::string::npos) << missing.err;
  // An SQLite database of something else.
  const std::string other = dir_ + "/other.db";
  ASSERT_EQ(testing::RunCli(dir_, {"backup", "--data-dir", broker.data_dir(), "--to", other}).exit_code, 0);
  ExecOn(other, "DROP TABLE meta");
  CliRun foreign = testing::RunCli(dir_, {"restore", "--from", other, "--data-dir", fresh});
  EXPECT_EQ(foreign.exit_code, 2);
  EXPECT_NE(foreign.err.find("not a yilian store"), std::string::npos) << foreign.err;
  // A store migrated by a newer yilian.
  const std::string newer = dir_ + "/newer.db";
  ASSERT_EQ(testing::RunCli(dir_, {"backup", "--data-dir", broker.data_dir(), "--to", newer}).exit_code, 0);
  ExecOn(newer, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  CliRun too_new = testing::RunCli(dir_, {"restore", "--from", newer, "--data-dir", fresh});
  EXPECT_EQ(too_new.exit_code, 1);
  EXPECT_NE(too_new.err.find("schema version 99, newer than this yilian's"), std::string::npos) << too_new.err;
  // Nothing was left in the directory by the refusals.
  struct stat st;
  EXPECT_NE(::stat((fresh + "/yilian.db").c_str(), &st), 0);
  // The good file restores there.
  CliRun good = testing::RunCli(dir_, {"restore", "--from", backup, "--data-dir", fresh});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.out.find("events=3"), std::string::npos) << good.out;
}

}  // namespace
}  // namespace yilian
