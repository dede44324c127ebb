// yilian-adapter as a process: each way of failing at start-up is a clear
// message and its own exit code (docs/plugins.md), never a crash; what it
// writes is private whatever the umask, and key files others may write are
// refused; and the host's configuration file is declared and checked.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>

#include "auth/keys.h"
#include "host/exit_codes.h"
#include "host/host_config.h"
#include "testing/process.h"

namespace yilian::host {
namespace {

std::string AdapterBinary() { return std::string(YILIAN_BINARY_DIR) + "/adapters/host/yilian-adapter"; }

class AdapterProcessTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("yilian-host-test"); }
  void TearDown() override { testing::RemoveTree(dir_); }

  // Runs the adapter to its exit; returns the exit code, output in *out.
  int Run(std::vector<std::string> args, std::string* out, const std::string& config_yaml = "") {
    std::vector<std::string> argv = {AdapterBinary(), "--broker",
                                     "tcp://127.0.0.1:" + std::to_string(testing::FreeTcpPort())};
    if (!config_yaml.empty()) {
      testing::WriteFile(dir_ + "/adapter.yaml", config_yaml);
      argv.insert(argv.end(), {"--config", dir_ + "/adapter.yaml"});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    std::string log = dir_ + "/out-" + std::to_string(++runs_) + ".log";
    auto p = testing::Process::Start(argv, log, log);
    int code = -1;
    EXPECT_TRUE(p->WaitExit(20000, &code));
    *out = testing::ReadFile(log);
    return code;
  }
  std::string dir_;
  int runs_ = 0;
};

TEST_F(AdapterProcessTest, MissingPluginFile) {
  std::string out;
  EXPECT_EQ(Run({"--agency", "tax", "--plugin", "no_such_plugin", "--state-dir", dir_ + "/s"}, &out),
            kExitPluginNotFound);
  EXPECT_NE(out.find("plugin 'no_such_plugin' not found: no yilian_plugin_no_such_plugin.so in"), std::string::npos)
      << out;
  EXPECT_EQ(Run({"--agency", "tax", "--plugin", dir_ + "/gone.so", "--state-dir", dir_ + "/s"}, &out),
            kExitPluginNotFound);
}

TEST_F(AdapterProcessTest, WrongAbiVersion) {
  std::string out;
  EXPECT_EQ(Run({"--agency", "tax", "--plugin", "wrong_abi", "--plugin-dir", YILIAN_TEST_PLUGIN_DIR, "--state-dir",
                 dir_ + "/s"},
                &out),
            kExitPluginInvalid);
  EXPECT_NE(out.find("plugin ABI version 99, this host speaks version 1"), std::string::npos) << out;
}

TEST_F(AdapterProcessTest, MissingSymbol) {
  std::string out;
  EXPECT_EQ(Run({"--agency", "tax", "--plugin", std::string(YILIAN_TEST_PLUGIN_DIR) + "/yilian_plugin_no_entry.so",
                 "--state-dir", dir_ + "/s"},
                &out),
            kExitPluginInvalid);
  EXPECT_NE(out.find("missing symbol yilian_plugin_entry"), std::string::npos) << out;
}

TEST_F(AdapterProcessTest, PluginRefusesItsConfiguration) {
  std::string out;
  EXPECT_EQ(Run({"--agency", "tax", "--plugin", "tax", "--state-dir", dir_ + "/s"}, &out,
                "plugin:\n  sink:\n    type: ftp\n"),
            kExitPluginRefused);
  EXPECT_NE(out.find("plugin.sink.type: 'ftp' is not one of exchange-db|http"), std::string::npos) << out;
  EXPECT_EQ(Run({"--agency", "bank:ICBC", "--plugin", "tax", "--state-dir", dir_ + "/s"}, &out,
                "plugin:\n  sink: {type: exchange-db, path: " + dir_ + "/x.db}\n"),
            kExitPluginRefused);
  EXPECT_NE(out.find("serves agency tax, not 'bank:ICBC'"), std::string::npos) << out;
}

TEST_F(AdapterProcessTest, BadConfigFileAndMissingStateDir) {
  std::string out;
  EXPECT_EQ(Run({"--agency", "tax", "--plugin", "tax", "--state-dir", dir_ + "/s"}, &out, "adapter:\n  credit: 0\n"),
            kExitUsage);
  EXPECT_NE(out.find("adapter.credit: 0 is out of bounds 1..10000"), std::string::npos) << out;
  EXPECT_EQ(Run({"--agency", "tax", "--plugin", "tax"}, &out), kExitUsage);
  EXPECT_NE(out.find("no state directory"), std::string::npos) << out;
  EXPECT_EQ(Run({"--agency", "tax"}, &out), kExitUsage);
}

TEST_F(AdapterProcessTest, OneAdapterPerStateDirectory) {
  std::string yaml = "plugin:\n  sink: {type: exchange-db, path: " + dir_ + "/tax.db}\n";
  testing::WriteFile(dir_ + "/first.yaml", yaml);
  std::string first_log = dir_ + "/first.log";
  auto first = testing::Process::Start({AdapterBinary(), "--broker", "tcp://127.0.0.1:1", "--agency", "tax", "--plugin",
                                        "tax", "--config", dir_ + "/first.yaml", "--state-dir", dir_ + "/s"},
                                       first_log, first_log);
  ASSERT_TRUE(testing::PollUntil(
      [&] { return testing::ReadFile(first_log).find("connecting to") != std::string::npos; }, 20000))
      << testing::ReadFile(first_log);
  std::string out;
  EXPECT_EQ(Run({"--agency", "tax", "--plugin", "tax", "--state-dir", dir_ + "/s"}, &out, yaml), kExitState);
  EXPECT_NE(out.find("is in use by another adapter"), std::string::npos) << out;
  first->Signal(SIGTERM);
  int code = -1;
  EXPECT_TRUE(first->WaitExit(20000, &code));
  EXPECT_EQ(code, kExitOk);
}

// The permission bits of `path` as chmod takes them ("0600"), or "absent".
std::string ModeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "absent";
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return text;
}

// Sets the process umask (inherited by the processes a test starts) for
// its lifetime.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

// What the adapter keeps is its user's alone, whatever the umask it was
// started with (docs/operations.md 6), and loose modes left by an older
// installation are tightened with a notice.
TEST_F(AdapterProcessTest, StateDirectoryJournalAndLogArePrivateUnderUmask022) {
  ScopedUmask umask(022);
  testing::WriteFile(dir_ + "/tax.yaml", "plugin:\n  sink: {type: exchange-db, path: " + dir_ + "/tax.db}\n");
  const std::string state = dir_ + "/state", log = dir_ + "/adapter.log";
  auto start = [&] {
    std::size_t before = testing::ReadFile(log).size();
    auto p = testing::Process::Start({AdapterBinary(), "--broker", "tcp://127.0.0.1:1", "--agency", "tax", "--plugin",
                                      "tax", "--config", dir_ + "/tax.yaml", "--state-dir", state, "--log-file", log},
                                     dir_ + "/adapter.out", dir_ + "/adapter.out");
    EXPECT_TRUE(testing::PollUntil(
        [&] { return testing::ReadFile(log).find("connecting to", before) != std::string::npos; }, 20000))
        << testing::ReadFile(dir_ + "/adapter.out");
    return p;
  };
  auto stop = [](std::unique_ptr<testing::Process> p) {
    p->Signal(SIGTERM);
    int code = -1;
    EXPECT_TRUE(p->WaitExit(20000, &code));
    EXPECT_EQ(code, kExitOk);
  };

  auto adapter = start();
  EXPECT_EQ(ModeOf(state), "0700");
  for (const char* name : {"/results.db", "/results.db-wal", "/results.db-shm", "/lock"})
    EXPECT_EQ(ModeOf(state + name), "0600") << name;
  EXPECT_EQ(ModeOf(log), "0600");
  stop(std::move(adapter));

  // As an older installation (or a looser umask) left them.
  ASSERT_EQ(::chmod(state.c_str(), 0755), 0);
  for (const char* name : {"/results.db", "/lock"}) ASSERT_EQ(::chmod((state + name).c_str(), 0644), 0) << name;
  ASSERT_EQ(::chmod(log.c_str(), 0644), 0);
  adapter = start();
  EXPECT_EQ(ModeOf(state), "0700");
  for (const char* name : {"/results.db", "/results.db-wal", "/results.db-shm", "/lock"})
    EXPECT_EQ(ModeOf(state + name), "0600") << name;
  EXPECT_EQ(ModeOf(log), "0600");
  std::string text = testing::ReadFile(log);
  EXPECT_NE(text.find("state directory '" + state + "' had mode 0755"), std::string::npos) << text;
  EXPECT_NE(text.find("'" + state + "/results.db' had mode 0644"), std::string::npos) << text;
  EXPECT_NE(text.find("'" + log + "' had mode 0644"), std::string::npos) << text;
  stop(std::move(adapter));
}

// The adapter trusts the broker's public key file and its own key pair:
// neither may be writable by group or others.
TEST_F(AdapterProcessTest, RefusesKeyFilesOthersMayWrite) {
  for (const char* name : {"broker", "adapter"})
    ASSERT_TRUE(auth::WriteKeyPair(dir_, name, auth::GenerateKeyPair().value()).ok());
  const std::string yaml = "plugin:\n  sink: {type: exchange-db, path: " + dir_ + "/tax.db}\n";
  const std::vector<std::string> args = {
      "--agency",  "tax",          "--plugin",           "tax",   "--state-dir",
      dir_ + "/s", "--server-key", dir_ + "/broker.pub", "--key", dir_ + "/adapter.key"};
  struct File {
    std::string name;
    mode_t mode;  // as written
  };
  for (const File& f : {File{"broker.pub", 0644}, File{"adapter.key", 0600}}) {
    const std::string path = dir_ + "/" + f.name;
    for (mode_t loose : {0666, 0620}) {
      ASSERT_EQ(::chmod(path.c_str(), loose), 0);
      std::string out;
      EXPECT_EQ(Run(args, &out, yaml), kExitUsage) << f.name << " mode " << std::oct << loose;
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(loose));
      EXPECT_NE(out.find("'" + path + "' has mode " + mode), std::string::npos) << out;
      EXPECT_NE(out.find("writable by group or others"), std::string::npos) << out;
      EXPECT_NE(out.find("chmod"), std::string::npos) << out;
    }
    ASSERT_EQ(::chmod(path.c_str(), f.mode), 0);
  }
}

TEST(HostConfig, KeysDefaultsBoundsAndPluginSection) {
  auto c = ParseHostConfig(
      "adapter:\n  credit: 8\n  state_dir: /var/lib/yilian/tax\n  check_interval_ms: 200\n"
      "plugin:\n  sink:\n    type: exchange-db\n    path: /data/前置库/tax.db\n  bank_code: ICBC\n",
      "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->credit, 8);
  EXPECT_EQ(c->state_dir, "/var/lib/yilian/tax");
  EXPECT_EQ(c->check_interval_ms, 200);
  EXPECT_EQ(c->check_max_interval_ms, 30000);
  std::vector<std::pair<std::string, std::string>> expected = {
      {"sink.type", "exchange-db"}, {"sink.path", "/data/前置库/tax.db"}, {"bank_code", "ICBC"}};
  EXPECT_EQ(c->plugin, expected);

  EXPECT_NE(
      ParseHostConfig("adapter:\n  credits: 8\n", "a.yaml").status().message().find("adapter.credits: unknown key"),
      std::string::npos);
  EXPECT_NE(ParseHostConfig("adaptor: {}\n", "a.yaml").status().message().find("unknown section"), std::string::npos);
  EXPECT_NE(ParseHostConfig("adapter:\n  credit: lots\n", "a.yaml").status().message().find("expected an integer"),
            std::string::npos);
  EXPECT_NE(ParseHostConfig("plugin:\n  hosts: [a, b]\n", "a.yaml").status().message().find("lists are not supported"),
            std::string::npos);
  EXPECT_FALSE(ParseHostConfig("adapter:\n  check_interval_ms: 5000\n  check_max_interval_ms: 1000\n", "a").ok());
  EXPECT_FALSE(ParseHostConfig("adapter: [\n", "a").ok());
  EXPECT_TRUE(ParseHostConfig("", "a").ok());
  EXPECT_NE(DescribeHostConfig().find("adapter.check_max_interval_ms"), std::string::npos);
}

}  // namespace
}  // namespace yilian::host
