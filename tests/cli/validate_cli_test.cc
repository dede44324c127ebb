// End-to-end tests of `yilian validate`: the real binary in a child process,
// real files, and the exact lines and exit codes a script would see.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "validation/json.h"
#include "validation/validation.h"
#include "yilian/v1/cli.pb.h"

namespace yilian {
namespace {

constexpr char kYilian[] = YILIAN_BINARY_DIR "/cli/yilian";
constexpr char kValidEvents[] = YILIAN_SOURCE_DIR "/tests/data/valid_events.jsonl";

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> lines;  // `out` split at '\n'
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class ValidateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/yilian-validate-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& f : files_) ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }

  std::string Path(const std::string& name) {
    files_.push_back(dir_ + "/" + name);
    return files_.back();
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = Path(name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  // Runs yilian with `args`; stdin from `stdin_path` (or /dev/null).
  RunResult Yilian(const std::vector<std::string>& args, const std::string& stdin_path = "/dev/null") {
    std::string out_path = Path("stdout." + std::to_string(runs_));
    std::string err_path = Path("stderr." + std::to_string(runs_));
    ++runs_;
    pid_t pid = ::fork();
    if (pid == 0) {
      int in = ::open(stdin_path.c_str(), O_RDONLY);
      int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (in < 0 || out < 0 || err < 0) ::_exit(127);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(err, 2);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(kYilian));
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(kYilian, argv.data());
      ::_exit(127);
    }
    RunResult run;
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << "yilian died with status " << status;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = ReadFile(out_path);
    run.err = ReadFile(err_path);
    std::istringstream lines(run.out);
    for (std::string line; std::getline(lines, line);) run.lines.push_back(line);
    return run;
  }

  std::string dir_;
  std::vector<std::string> files_;
  int runs_ = 0;
};

std::vector<std::string> SampleLines() {
  std::istringstream in(ReadFile(kValidEvents));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every output line must itself be a ValidateReport in proto3 JSON.
v1::ValidateReport ParseReport(const std::string& line) {
  v1::ValidateReport report;
  Status status = json::Parse(line, &report);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << line;
  return report;
}

TEST_F(ValidateCli, AllValidExitsZero) {
  RunResult run = Yilian({"validate", kValidEvents});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  std::vector<std::string> expected = {
      R"({"line":1,"event_id":"xm-2024-000101","valid":true})",
      R"({"line":2,"event_id":"hn-2024-000102","valid":true})",
      R"({"line":3,"event_id":"sh-2024-000103","valid":true})",
      R"({"line":4,"event_id":"bj-2024-000104","valid":true})",
      R"({"line":5,"event_id":"sz-2024-000105","valid":true})",
      R"({"line":6,"event_id":"tj-2024-000106","valid":true})",
  };
  EXPECT_EQ(run.lines, expected);
}

TEST_F(ValidateCli, MixedFileReportsEveryNonBlankLine) {
  std::vector<std::string> samples = SampleLines();
  ASSERT_GE(samples.size(), 3u);
  std::string content;
  content += samples[0] + "\n";                                        // 1: valid
  content += "\n";                                                     // 2: blank, skipped
  content += "this is not json 11010519491231002X\n";                  // 3: garbage
  content += R"({"event_id":"bad-1","type":"FILED","uscc":"91350100M000100Y44","revision":"2",)"
             R"("occurred_at":"2024-03-06T08:00:00Z","authority":"厦门市市场监督管理局",)"
             R"("enterprise":{"name":"厦门某公司","entity_type":"有限责任公司","address":"厦门市",)"
             R"("contact":{"name":"李四","id_type":"RESIDENT_ID","id_number":"110105194912310021"}}})"
             "\n";                                                     // 4: invalid event
  content += "{\"event_id\":\"utf8-1\",\"authority\":\"\xE5\x8E\xA6\xFF\"}\n";  // 5: invalid UTF-8
  content += R"({"event_id":"unknown-1","colour":"red"})" "\n";        // 6: unknown field
  content += "   \t\n";                                                // 7: blank, skipped
  content += samples[1] + "\r\n";                                      // 8: valid, CRLF
  content += R"({"event_id":"bad-2","type":"CHANGED"})" "\n";          // 9: invalid event
  content += R"([1,2,3])" "\n";                                        // 10: not an object
  content += samples[2];                                               // 11: valid, no final newline
  std::string path = WriteFile("mixed.jsonl", content);

  RunResult run = Yilian({"validate", path});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.err, "");
  ASSERT_EQ(run.lines.size(), 9u) << run.out;
  EXPECT_EQ(run.lines[0], R"({"line":1,"event_id":"xm-2024-000101","valid":true})");
  EXPECT_EQ(run.lines[1],
            R"({"line":3,"valid":false,"errors":[{"path":"","code":"PARSE_ERROR",)"
            R"("message":"invalid JSON for yilian.v1.EnterpriseEvent: Unexpected token."}]})");
  EXPECT_EQ(run.lines[2],
            R"({"line":4,"event_id":"bad-1","valid":false,"errors":[)"
            R"({"path":"uscc","code":"CHECK_DIGIT","message":"check character is '4', GB 32100-2015 gives '3'"},)"
            R"({"path":"enterprise.contact.id_number","code":"CHECK_DIGIT",)"
            R"j("message":"resident ID 1101**********0021 has a wrong check character (GB 11643 MOD 11-2)"}]})j");
  EXPECT_EQ(run.lines[3],
            R"({"line":5,"valid":false,"errors":[{"path":"","code":"PARSE_ERROR",)"
            R"("message":"invalid JSON for yilian.v1.EnterpriseEvent: Encountered non UTF-8 code points."}]})");
  EXPECT_EQ(run.lines[4],
            R"({"line":6,"event_id":"unknown-1","valid":false,"errors":[{"path":"","code":"PARSE_ERROR",)"
            R"("message":"invalid JSON for yilian.v1.EnterpriseEvent: colour: Cannot find field."}]})");
  EXPECT_EQ(run.lines[5], R"({"line":8,"event_id":"hn-2024-000102","valid":true})");
  EXPECT_EQ(run.lines[7],
            R"({"line":10,"valid":false,"errors":[{"path":"","code":"PARSE_ERROR",)"
            R"("message":"invalid JSON for yilian.v1.EnterpriseEvent: : Root element must be a message."}]})");
  EXPECT_EQ(run.lines[8], R"({"line":11,"event_id":"sh-2024-000103","valid":true})");

  // Line 9: an event with many problems; every one listed, in field order.
  v1::ValidateReport bad2 = ParseReport(run.lines[6]);
  EXPECT_EQ(bad2.line(), 9u);
  EXPECT_EQ(bad2.event_id(), "bad-2");
  EXPECT_TRUE(bad2.has_valid());
  EXPECT_FALSE(bad2.valid());
  std::vector<std::string> got;
  for (const auto& e : bad2.errors()) got.push_back(e.path() + " " + e.code());
  std::vector<std::string> expected = {"uscc REQUIRED",      "revision REQUIRED", "occurred_at REQUIRED",
                                       "authority REQUIRED", "enterprise REQUIRED", "changes REQUIRED"};
  EXPECT_EQ(got, expected);

  // Whatever the input, the output is valid UTF-8 and leaks no personal data.
  EXPECT_TRUE(validation::IsValidUtf8(run.out));
  EXPECT_EQ(run.out.find("0519491231"), std::string::npos);
  for (const std::string& line : run.lines) ParseReport(line);
}

TEST_F(ValidateCli, DashReadsStandardInput) {
  RunResult run = Yilian({"validate", "-"}, kValidEvents);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.lines.size(), SampleLines().size());

  std::string bad = WriteFile("bad.jsonl", "{\n");
  run = Yilian({"validate", "-"}, bad);
  EXPECT_EQ(run.exit_code, 1);
  ASSERT_EQ(run.lines.size(), 1u);
  EXPECT_EQ(ParseReport(run.lines[0]).errors(0).code(), "PARSE_ERROR");
}

TEST_F(ValidateCli, EmptyInputIsAllValid) {
  RunResult run = Yilian({"validate", WriteFile("empty.jsonl", "\n\n")});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "");
}

TEST_F(ValidateCli, MissingFileExitsTwo) {
  std::string path = dir_ + "/does-not-exist.jsonl";
  RunResult run = Yilian({"validate", path});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find(path), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("No such file or directory"), std::string::npos) << run.err;
}

TEST_F(ValidateCli, UnreadableFileExitsTwo) {
  // A directory opens but cannot be read as a file.
  RunResult run = Yilian({"validate", dir_});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find(dir_), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("Is a directory"), std::string::npos) << run.err;

}

TEST_F(ValidateCli, UsageErrorsExitTwo) {
  EXPECT_EQ(Yilian({}).exit_code, 2);
  EXPECT_EQ(Yilian({"validate"}).exit_code, 2);
  EXPECT_EQ(Yilian({"validate", "--no-such-option", kValidEvents}).exit_code, 2);
  EXPECT_EQ(Yilian({"validate", "--max-event-bytes", "0", kValidEvents}).exit_code, 2);
  EXPECT_EQ(Yilian({"validate", "--max-event-bytes", "many", kValidEvents}).exit_code, 2);
  EXPECT_EQ(Yilian({"validate", kValidEvents, kValidEvents}).exit_code, 2);
  EXPECT_EQ(Yilian({"no-such-command"}).exit_code, 2);
}

TEST_F(ValidateCli, HelpExitsZero) {
  RunResult run = Yilian({"validate", "--help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("--max-event-bytes"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("--lenient-uscc"), std::string::npos) << run.out;
  EXPECT_EQ(Yilian({"--help"}).exit_code, 0);
}

TEST_F(ValidateCli, MaxEventBytes) {
  RunResult run = Yilian({"validate", "--max-event-bytes", "200", kValidEvents});
  EXPECT_EQ(run.exit_code, 1);
  ASSERT_EQ(run.lines.size(), SampleLines().size());
  for (const std::string& line : run.lines) {
    v1::ValidateReport report = ParseReport(line);
    ASSERT_EQ(report.errors_size(), 1) << line;
    EXPECT_EQ(report.errors(0).code(), "TOO_LARGE");
    EXPECT_EQ(report.errors(0).path(), "");
  }
  EXPECT_EQ(Yilian({"validate", "--max-event-bytes", "65536", kValidEvents}).exit_code, 0);
}

TEST_F(ValidateCli, LenientUsccAcceptsWrongCheckCharacterWithWarning) {
  std::string line = SampleLines()[0];
  size_t at = line.find("91350100M000100Y43");
  ASSERT_NE(at, std::string::npos);
  line.replace(at, 18, "91350100M000100Y44");
  std::string path = WriteFile("historic.jsonl", line + "\n");

  RunResult strict = Yilian({"validate", path});
  EXPECT_EQ(strict.exit_code, 1);
  ASSERT_EQ(strict.lines.size(), 1u);
  EXPECT_EQ(ParseReport(strict.lines[0]).errors(0).code(), "CHECK_DIGIT");

  RunResult lenient = Yilian({"validate", "--lenient-uscc", path});
  EXPECT_EQ(lenient.exit_code, 0);
  ASSERT_EQ(lenient.lines.size(), 1u);
  EXPECT_EQ(lenient.lines[0], R"({"line":1,"event_id":"xm-2024-000101","valid":true})");
  EXPECT_NE(lenient.err.find("--lenient-uscc"), std::string::npos) << lenient.err;
  EXPECT_NE(lenient.err.find("line 1"), std::string::npos) << lenient.err;

  // Lenient about the check character only.
  line.replace(at, 18, "91350100M000100Y4");
  RunResult short_code = Yilian({"validate", "--lenient-uscc", WriteFile("short.jsonl", line + "\n")});
  EXPECT_EQ(short_code.exit_code, 1);
}

}  // namespace
}  // namespace yilian
