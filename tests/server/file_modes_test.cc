// File modes against a real broker (docs/security.md 1.3, docs/operations.md
// 7): under the usual umask 022 the data directory is 0700 and the store, its
// -wal and -shm files, the lock and the log file are 0600; files left open
// by an older installation are tightened with a notice; the broker refuses
// to start with a keys file, tokens file, key pair, data key or HTTPS key
// that group or others may write; and a keys file made writable by others
// while the broker runs is not read again until the mode is fixed.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "auth/keys.h"
#include "client/consumer.h"
#include "testing/broker_fixture.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

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

// A broker with CURVE, HTTP tokens, a data key and HTTPS, every file it
// trusts in its test directory.
class TrustedFilesTest : public Umask022 {
 protected:
  void SetUp() override {
    Umask022::SetUp();
    broker_ = std::make_unique<BrokerProcess>();
    dir_ = broker_->dir();
    for (const char* name : {"broker", "platform", "stranger"})
      ASSERT_TRUE(auth::WriteKeyPair(dir_, name, auth::GenerateKeyPair().value()).ok());
    WriteKeys({"platform"});
    testing::WriteFile(dir_ + "/tokens.yaml",
                       "tokens:\n  - {identity: ops, role: admin, token: \"" + std::string(40, 'a') + "\"}\n");
    ASSERT_EQ(::chmod((dir_ + "/tokens.yaml").c_str(), 0600), 0);
    testing::WriteFile(dir_ + "/data.key", std::string(64, 'c') + "\n");
    ASSERT_EQ(::chmod((dir_ + "/data.key").c_str(), 0600), 0);
    auto openssl = Process::Start(
        {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", dir_ + "/http.key", "-out", dir_ + "/http.crt", "-days", "2", "-subj", "/CN=127.0.0.1"},
        dir_ + "/openssl.out", dir_ + "/openssl.out");
    int code = -1;
    ASSERT_TRUE(openssl->WaitExit(30000, &code));
    ASSERT_EQ(code, 0) << testing::ReadFile(dir_ + "/openssl.out");
    ASSERT_EQ(::chmod((dir_ + "/http.key").c_str(), 0600), 0);
    testing::WriteFile(broker_->config_path(),
                       testing::ReadFile(broker_->config_path()) + "  tls_cert_file: " + dir_ + "/http.crt\n" +
                           "  tls_key_file: " + dir_ + "/http.key\n" + "security:\n  server_key_file: " + dir_ +
                           "/broker.key\n  keys_file: " + dir_ + "/keys.yaml\n  tokens_file: " + dir_ +
                           "/tokens.yaml\n  data_key_file: " + dir_ + "/data.key\n");
    broker_->set_insecure(false);
  }

  // keys.yaml listing the publisher key `platform` and, for each further
  // name, an agency:tax key; written in place, so it keeps its mode.
  void WriteKeys(const std::vector<std::string>& names) {
    std::string yaml = "keys:\n";
    for (const auto& name : names) {
      std::string role = name == "platform" ? "publisher" : "agency:tax";
      yaml += "  - {identity: " + name + ", role: \"" + role + "\", public: \"" + PublicKey(name) + "\"}\n";
    }
    testing::WriteFile(dir_ + "/keys.yaml", yaml);
  }

  std::string PublicKey(const std::string& name) {
    auto pair = auth::ReadKeyPair(dir_ + "/" + name + ".key");
    EXPECT_TRUE(pair.ok()) << pair.status().message();
    return pair.ok() ? pair.value().public_key : "";
  }

  // Runs the broker as BrokerProcess would until it exits or serves HTTPS
  // (the last thing it starts); returns its exit code (-1: it was serving,
  // and was stopped), its standard error in *err.
  int RunBroker(std::string* err) {
    std::string err_path = dir_ + "/run-" + std::to_string(++runs_) + ".err";
    std::string log_path = dir_ + "/run-" + std::to_string(runs_) + ".log";
    auto p = Process::Start({testing::BrokerBinary(), "--config", broker_->config_path(), "--data-dir",
                             broker_->data_dir(), "--listen", broker_->endpoint(), "--log-file", log_path},
                            "", err_path);
    int code = -1;
    bool exited =
        PollUntil(
            [&] {
              return !p->running() || Contains(testing::ReadFile(log_path), "HTTP API and dashboard on https://");
            },
            20000) &&
        !p->running();
    if (exited) {
      p->WaitExit(1000, &code);
    } else {
      p->Signal(SIGTERM);
      p->WaitExit(20000, nullptr);
    }
    *err = testing::ReadFile(err_path);
    return exited ? code : -1;
  }

  client::ClientOptions Options(const std::string& name) {
    client::ClientOptions o;
    o.endpoint = broker_->endpoint();
    o.server_public_key = PublicKey("broker");
    auto pair = auth::ReadKeyPair(dir_ + "/" + name + ".key");
    o.public_key = pair.value().public_key;
    o.secret_key = pair.value().secret_key;
    o.agency = "tax";
    o.name = name;
    return o;
  }

  zmq::context_t context_{1};
  std::unique_ptr<BrokerProcess> broker_;
  std::string dir_;
  int runs_ = 0;
};

TEST_F(TrustedFilesTest, BrokerRefusesToStartWithAFileOthersMayWrite) {
  std::string err;
  // As provisioned, the broker starts: what follows fails for the mode alone.
  ASSERT_EQ(RunBroker(&err), -1) << err;
  struct File {
    std::string name;
    mode_t mode;  // as provisioned
  };
  for (const File& f : {File{"keys.yaml", 0644}, File{"tokens.yaml", 0600}, File{"broker.key", 0600},
                        File{"data.key", 0600}, File{"http.key", 0600}}) {
    const std::string path = dir_ + "/" + f.name;
    ASSERT_EQ(::chmod(path.c_str(), f.mode), 0);
    for (const char* loose : {"0666", "0620"}) {
      ASSERT_EQ(::chmod(path.c_str(), static_cast<mode_t>(std::stoul(loose, nullptr, 8))), 0);
      int code = RunBroker(&err);
      EXPECT_NE(code, -1) << f.name << " mode " << loose << ": the broker started";
      EXPECT_NE(code, 0) << f.name;
      EXPECT_TRUE(Contains(err, "'" + path + "' has mode " + loose)) << err;
      EXPECT_TRUE(Contains(err, "writable by group or others")) << err;
      EXPECT_TRUE(Contains(err, "chmod")) << err;
    }
    ASSERT_EQ(::chmod(path.c_str(), f.mode), 0);
  }
  EXPECT_EQ(RunBroker(&err), -1) << err;
}

TEST_F(TrustedFilesTest, KeysFileMadeWritableByOthersWhileRunningIsNotReadAgain) {
  broker_->Start();
  const std::string keys = dir_ + "/keys.yaml";
  // Someone makes the keys file writable by all, and anyone adds a key.
  ASSERT_EQ(::chmod(keys.c_str(), 0666), 0);
  WriteKeys({"platform", "stranger"});
  EXPECT_TRUE(PollUntil(
      [&] {
        std::string log = testing::ReadFile(broker_->log_path());
        return Contains(log, "keys file changed but cannot be used, keeping the previous keys: keys file '" + keys +
                                 "' has mode 0666: it is writable by group or others");
      },
      10000))
      << testing::ReadFile(broker_->log_path());
  // The key added meanwhile gets no session.
  client::Consumer stranger(context_, Options("stranger"));
  EXPECT_FALSE(PollUntil([&] { return stranger.Receive(20), stranger.connection().connected(); }, 1500));
  EXPECT_TRUE(PollUntil(
      [&] {
        return Contains(testing::ReadFile(broker_->log_path()),
                        "CURVE key " + PublicKey("stranger") + " is not in the keys file");
      },
      5000));
  // The operator checks the file and takes the write access back: the file
  // is read again and the key it now lists is admitted.
  ASSERT_EQ(::chmod(keys.c_str(), 0644), 0);
  ASSERT_TRUE(PollUntil(
      [&] { return Contains(testing::ReadFile(broker_->log_path()), "keys file reloaded: 2 client keys"); }, 10000))
      << testing::ReadFile(broker_->log_path());
  client::Consumer admitted(context_, Options("stranger"));
  EXPECT_TRUE(PollUntil([&] { return admitted.Receive(20), admitted.connection().connected(); }, 10000));
}

}  // namespace
}  // namespace yilian
