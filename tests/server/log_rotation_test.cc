// The broker's log file rotated by size (log.max_file_mb, log.max_files):
// with a tiny limit and debug logging, publishing and delivering events that
// carry ID and phone numbers makes several rotated files; there are never
// more than max_files of them beside the current one, every one is mode
// 0600, and none holds any of the events' ID or phone numbers in clear.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "cli/sample.h"
#include "testing/broker_fixture.h"
#include "validation/json.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

TEST(LogRotationTest, RotatedFilesAreBoundedPrivateAndHoldNoPersonalNumbers) {
  constexpr int kMaxFiles = 3;
  BrokerProcess broker("log:\n  level: debug\n  max_file_mb: 0.02\n  max_files: " + std::to_string(kMaxFiles) + "\n");
  broker.Start();
  sample::SampleOptions o;
  o.seed = 31;
  o.enterprises = 120;
  o.events_per_enterprise = 2;
  o.deregister_fraction = 0;
  o.banks = {"ICBC"};
  const auto events = sample::Generate(o);
  std::vector<std::string> secrets;  // every ID and phone number published
  std::string lines;
  for (const auto& e : events) {
    for (const auto* p : {&e.enterprise().legal_representative(), &e.enterprise().contact()}) {
      if (!p->id_number().empty()) secrets.push_back(p->id_number());
      if (!p->phone().empty()) secrets.push_back(p->phone());
    }
    lines += json::Print(e) + "\n";
  }
  ASSERT_GE(secrets.size(), events.size());
  testing::WriteFile(broker.dir() + "/events.jsonl", lines);
  auto tax = Process::Start({testing::CliBinary(), "consume", "--broker", broker.endpoint(), "--agency", "tax"}, "",
                            "");
  auto publish = Process::Start(
      {testing::CliBinary(), "publish", "--broker", broker.endpoint(), "--timeout", "60", broker.dir() + "/events.jsonl"},
      broker.dir() + "/publish.out", broker.dir() + "/publish.err");
  int code = -1;
  ASSERT_TRUE(publish->WaitExit(90000, &code));
  ASSERT_EQ(code, 0) << testing::ReadFile(broker.dir() + "/publish.err");
  ASSERT_TRUE(PollUntil(
      [&] { return broker.QueryInt("SELECT COUNT(*) FROM deliveries WHERE agency = 'tax' AND state < 3") == 0; },
      60000));
  tax->Signal(SIGTERM);
  ASSERT_EQ(broker.Stop(), 0);

  // broker.log and the rotated broker.1.log, broker.2.log, ...
  std::vector<std::string> files;
  const std::regex log_name(R"(broker(\.[0-9]+)?\.log)");
  for (const auto& entry : std::filesystem::directory_iterator(broker.dir())) {
    if (std::regex_match(entry.path().filename().string(), log_name)) files.push_back(entry.path().string());
  }
  EXPECT_GE(files.size(), 3u) << "the log was not rotated";
  EXPECT_LE(files.size(), static_cast<std::size_t>(kMaxFiles + 1));
  auto rotated = [&](int index) { return broker.dir() + "/broker." + std::to_string(index) + ".log"; };
  EXPECT_TRUE(std::filesystem::exists(rotated(kMaxFiles)));
  EXPECT_FALSE(std::filesystem::exists(rotated(kMaxFiles + 1)));
  std::size_t bytes = 0;
  for (const std::string& path : files) {
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
    // A file is cut before the line that would take it past the limit.
    EXPECT_LE(st.st_size, 0.02 * 1024 * 1024) << path;
    const std::string text = testing::ReadFile(path);
    bytes += text.size();
    for (const std::string& secret : secrets) EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << path;
  }
  // The files do hold the run's debug lines: the search above read them.
  EXPECT_GT(bytes, 40u * 1024);
}

}  // namespace
}  // namespace yilian
