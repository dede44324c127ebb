// The PostgreSQL harness of the tests: a private server on its own port that
// the broker's role can use and that leaves nothing behind, a synchronous
// standby that receives the primary's rows, and a failover (the primary
// killed, the standby promoted) that a multi-host libpq client follows.
// PostgreSQL 15 must be installed (scripts/setup): these tests fail without it.
#include "testing/postgres.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "testing/process.h"

namespace yilian::testing {
namespace {

// Processes whose working directory is inside `dir` (a server's postmaster
// and its children work in their data directory), or, where working
// directories cannot be read, whose command line names it (the postmaster).
std::vector<std::string> ProcessesIn(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code link_ec;
    std::string cwd = std::filesystem::read_symlink(entry.path() / "cwd", link_ec).string();
    if (link_ec) {
      // Without CAP_SYS_PTRACE (root in a container) another user's cwd is
      // hidden: the postmaster still names its directory on its command line.
      std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
      for (char& c : cmdline)
        if (c == '\0') c = ' ';
      if (cmdline.find(dir) == std::string::npos) continue;
      cwd = cmdline;
    } else if (cwd.rfind(dir, 0) != 0) {
      continue;
    }
    std::string stat = ReadFile(entry.path().string() + "/stat");
    size_t close_paren = stat.rfind(')');
    if (close_paren != std::string::npos && close_paren + 2 < stat.size() && stat[close_paren + 2] == 'Z') continue;
    found.push_back(pid + " " + cwd);
  }
  return found;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  return text;
}

TEST(PostgresHarness, StartsAPrivateServerAndRemovesIt) {
  ASSERT_TRUE(PostgresInstalled()) << "PostgreSQL 15 is missing: run scripts/setup";
  std::string dir;
  {
    std::string error;
    auto pg = TestPostgres::Start({}, &error);
    ASSERT_NE(pg, nullptr) << error;
    dir = pg->dir();
    EXPECT_TRUE(std::filesystem::is_directory(dir));
    EXPECT_NE(pg->port(), 5432);
    EXPECT_EQ(pg->psql("SELECT 1", 0, &error), "1") << error;
    EXPECT_EQ(pg->conninfo(),
              "host=127.0.0.1 port=" + std::to_string(pg->port()) + " dbname=yilian user=yilian connect_timeout=5");
    // The broker's role owns its database and can make tables in it.
    EXPECT_EQ(
        Psql(pg->conninfo(), "CREATE TABLE t (v int); INSERT INTO t VALUES (7); SELECT current_user, v FROM t", &error),
        "yilian|7")
        << error;
    EXPECT_EQ(pg->psql("SHOW port"), std::to_string(pg->port()));
    EXPECT_EQ(pg->psql("SELECT inet_server_addr()"), "127.0.0.1");
    EXPECT_EQ(pg->psql("SHOW unix_socket_directories").rfind(dir, 0), 0u);
    EXPECT_FALSE(ProcessesIn(dir).empty());
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(ProcessesIn(dir).empty()) << Joined(ProcessesIn(dir));
}

TEST(PostgresHarness, SynchronousStandbyReceivesThePrimarysRows) {
  ASSERT_TRUE(PostgresInstalled()) << "PostgreSQL 15 is missing: run scripts/setup";
  std::string error;
  auto pg = TestPostgres::Start({.synchronous_standby_ready = true}, &error);
  ASSERT_NE(pg, nullptr) << error;
  ASSERT_TRUE(pg->StartStandby(/*synchronous=*/true, &error)) << error;
  EXPECT_NE(pg->standby_port(), pg->port());
  EXPECT_NE(pg->standby_port(), 5432);

  EXPECT_EQ(pg->psql("SELECT application_name || ' ' || sync_state FROM pg_stat_replication", 0, &error),
            "standby sync")
      << error;
  EXPECT_EQ(pg->psql("SELECT pg_is_in_recovery()", 1, &error), "t") << error;

  ASSERT_EQ(Psql(pg->conninfo(), "CREATE TABLE events (id int PRIMARY KEY); INSERT INTO events VALUES (42)", &error),
            "")
      << error;
  ASSERT_TRUE(error.empty()) << error;
  std::string seen;
  EXPECT_TRUE(PollUntil(
      [&] {
        seen = pg->psql("SELECT id FROM events", 1);
        return seen == "42";
      },
      30'000))
      << "on the standby: '" << seen << "'";
}

TEST(PostgresHarness, AsynchronousStandby) {
  ASSERT_TRUE(PostgresInstalled()) << "PostgreSQL 15 is missing: run scripts/setup";
  std::string error;
  auto pg = TestPostgres::Start({.synchronous_standby_ready = true}, &error);
  ASSERT_NE(pg, nullptr) << error;
  ASSERT_TRUE(pg->StartStandby(/*synchronous=*/false, &error)) << error;
  EXPECT_EQ(pg->psql("SELECT application_name || ' ' || sync_state FROM pg_stat_replication", 0, &error),
            "standby async")
      << error;
  EXPECT_EQ(pg->psql("SHOW synchronous_standby_names", 0, &error), "") << error;
}

TEST(PostgresHarness, PromotedStandbyTakesTheWritesAfterThePrimaryIsKilled) {
  ASSERT_TRUE(PostgresInstalled()) << "PostgreSQL 15 is missing: run scripts/setup";
  std::string dir;
  {
    std::string error;
    auto pg = TestPostgres::Start({.synchronous_standby_ready = true}, &error);
    ASSERT_NE(pg, nullptr) << error;
    dir = pg->dir();
    ASSERT_TRUE(pg->StartStandby(/*synchronous=*/true, &error)) << error;
    ASSERT_EQ(Psql(pg->conninfo(), "CREATE TABLE events (id int); INSERT INTO events VALUES (1)", &error), "") << error;
    ASSERT_TRUE(error.empty()) << error;
    EXPECT_EQ(Psql(pg->multi_host_conninfo(), "SELECT inet_server_port()", &error), std::to_string(pg->port()))
        << error;

    ASSERT_TRUE(pg->KillPrimary(&error)) << error;
    EXPECT_EQ(pg->psql("SELECT 1", 0), "");  // nobody answers on the primary's port
    ASSERT_TRUE(pg->PromoteStandby(&error)) << error;
    EXPECT_EQ(pg->psql("SELECT pg_is_in_recovery()", 1, &error), "f") << error;

    // A client given both servers reaches the writable one; the row committed
    // before the crash is there (synchronous replication).
    EXPECT_EQ(Psql(pg->multi_host_conninfo(),
                   "INSERT INTO events VALUES (2); SELECT inet_server_port() || ' ' || count(*) FROM events", &error),
              std::to_string(pg->standby_port()) + " 2")
        << error;
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(ProcessesIn(dir).empty()) << Joined(ProcessesIn(dir));
}

TEST(PostgresHarness, PrimaryStopsAndStartsAgainWithItsData) {
  ASSERT_TRUE(PostgresInstalled()) << "PostgreSQL 15 is missing: run scripts/setup";
  std::string error;
  auto pg = TestPostgres::Start({}, &error);
  ASSERT_NE(pg, nullptr) << error;
  ASSERT_EQ(Psql(pg->conninfo(), "CREATE TABLE t (v int); INSERT INTO t VALUES (5)", &error), "") << error;
  int port = pg->port();
  ASSERT_TRUE(pg->StopPrimary(&error)) << error;
  EXPECT_EQ(pg->psql("SELECT 1"), "");
  ASSERT_TRUE(pg->StartPrimary(&error)) << error;
  EXPECT_EQ(pg->port(), port);
  EXPECT_EQ(pg->psql("SELECT v FROM t", 0, &error), "5") << error;
  // After a crash, too (crash recovery on start).
  ASSERT_TRUE(pg->KillPrimary(&error)) << error;
  ASSERT_TRUE(pg->StartPrimary(&error)) << error;
  EXPECT_EQ(pg->psql("SELECT v FROM t", 0, &error), "5") << error;
}

TEST(PostgresHarness, StandbyNeedsAPrimaryMadeReadyForIt) {
  ASSERT_TRUE(PostgresInstalled()) << "PostgreSQL 15 is missing: run scripts/setup";
  std::string error;
  auto pg = TestPostgres::Start({}, &error);
  ASSERT_NE(pg, nullptr) << error;
  EXPECT_FALSE(pg->StartStandby(/*synchronous=*/false, &error));
  EXPECT_NE(error.find("synchronous_standby_ready"), std::string::npos) << error;
}

}  // namespace
}  // namespace yilian::testing
