// File modes against a real broker (docs/security.md 1.3, docs/operations.md
// 7): under the usual umask 022 the data directory is 0700 and the store, its
// -wal and -shm files, the lock and the log file are 0600; files left open
// by an older installation are tightened with a notice.
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "testing/broker_fixture.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;

// The permission bits of `path` as chmod takes them ("0600"), or "absent".
std::string ModeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "absent";
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return text;
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs the test (and the processes it starts) under umask 022, whatever the
// umask of whoever runs the tests.
class Umask022 : public ::testing::Test {
 protected:
  void SetUp() override { old_umask_ = ::umask(022); }
  void TearDown() override { ::umask(old_umask_); }
  mode_t old_umask_ = 022;
};

using BrokerFilesTest = Umask022;

TEST_F(BrokerFilesTest, DataDirectoryStoreLockAndLogArePrivateUnderUmask022) {
  BrokerProcess broker;
  broker.Start();
  const std::string data = broker.data_dir();
  EXPECT_EQ(ModeOf(data), "0700");
  for (const char* name : {"/yilian.db", "/yilian.db-wal", "/yilian.db-shm", "/LOCK"})
    EXPECT_EQ(ModeOf(data + name), "0600") << name;
  EXPECT_EQ(ModeOf(broker.log_path()), "0600");
  EXPECT_EQ(broker.Stop(), 0);
}

TEST_F(BrokerFilesTest, AnOpenDataDirectoryAndFilesAreTightenedWithANotice) {
  BrokerProcess broker;
  broker.Start();
  ASSERT_EQ(broker.Stop(), 0);
  // As an older installation (or a looser umask) left them.
  const std::string data = broker.data_dir();
  ASSERT_EQ(::chmod(data.c_str(), 0755), 0);
  for (const char* name : {"/yilian.db", "/LOCK"}) ASSERT_EQ(::chmod((data + name).c_str(), 0644), 0) << name;
  ASSERT_EQ(::chmod(broker.log_path().c_str(), 0644), 0);

  broker.Start();
  EXPECT_EQ(ModeOf(data), "0700");
  for (const char* name : {"/yilian.db", "/yilian.db-wal", "/yilian.db-shm", "/LOCK"})
    EXPECT_EQ(ModeOf(data + name), "0600") << name;
  EXPECT_EQ(ModeOf(broker.log_path()), "0600");
  std::string log = testing::ReadFile(broker.log_path());
  EXPECT_TRUE(Contains(log, "data directory '" + data + "' had mode 0755")) << log;
  EXPECT_TRUE(Contains(log, "'" + data + "/yilian.db' had mode 0644")) << log;
  EXPECT_TRUE(Contains(log, "'" + broker.log_path() + "' had mode 0644")) << log;
  EXPECT_EQ(broker.Stop(), 0);
}

}  // namespace
}  // namespace yilian
