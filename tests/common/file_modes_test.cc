// common/file_modes.h: what the broker and the adapters write is created
// private (0700/0600) whatever the umask and tightened when found open; what
// they trust is refused when others could change it, secrets also when
// others could read them, with the file, its mode and the fix in the error.
#include "common/file_modes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace yilian::files {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class FileModesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("yilian-file-modes-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::create_directories(dir_);
    old_umask_ = ::umask(022);
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::filesystem::remove_all(dir_);
  }

  std::string Write(const std::string& name, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "content\n";
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  std::string dir_;
  mode_t old_umask_ = 022;
};

TEST_F(FileModesTest, TrustedFileOthersMayReadButNotWrite) {
  for (mode_t mode : {0600, 0644, 0444, 0640, 0400}) {
    EXPECT_TRUE(CheckTrustedFile(Write("ok", mode), "keys file", Trust::kNoOthersWrite).ok()) << std::oct << mode;
  }
  for (mode_t mode : {0666, 0620, 0602, 0664, 0646}) {
    std::string path = Write("bad" + std::to_string(mode), mode);
    Status s = CheckTrustedFile(path, "keys file", Trust::kNoOthersWrite);
    ASSERT_FALSE(s.ok()) << std::oct << mode;
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_TRUE(Contains(s.message(), "keys file '" + path + "' has mode " + ModeText(mode))) << s.message();
    EXPECT_TRUE(Contains(s.message(), "writable by group or others")) << s.message();
    EXPECT_TRUE(Contains(s.message(), "chmod go-w '" + path + "'")) << s.message();
  }
}

TEST_F(FileModesTest, SecretFileIsOwnerOnly) {
  for (mode_t mode : {0600, 0400}) {
    EXPECT_TRUE(CheckTrustedFile(Write("ok", mode), "tokens file", Trust::kSecret).ok()) << std::oct << mode;
  }
  struct Case {
    mode_t mode;
    const char* how;
  };
  for (Case c : {Case{0640, "it is readable by"}, Case{0620, "it is writable by"},
                 Case{0666, "it is readable and writable by"}, Case{0610, "it is accessible by"}}) {
    std::string path = Write("bad" + std::to_string(c.mode), c.mode);
    Status s = CheckTrustedFile(path, "tokens file", Trust::kSecret);
    ASSERT_FALSE(s.ok()) << std::oct << c.mode;
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_TRUE(Contains(s.message(), "tokens file '" + path + "' has mode " + ModeText(c.mode))) << s.message();
    EXPECT_TRUE(Contains(s.message(), c.how)) << s.message();
    EXPECT_TRUE(Contains(s.message(), "0600 or stricter")) << s.message();
    EXPECT_TRUE(Contains(s.message(), "chmod 600 '" + path + "'")) << s.message();
  }
}

TEST_F(FileModesTest, TrustedFileMissingOrNotRegular) {
  Status missing = CheckTrustedFile(dir_ + "/nope", "keys file", Trust::kNoOthersWrite);
  EXPECT_EQ(missing.code(), StatusCode::kIoError);
  EXPECT_TRUE(Contains(missing.message(), dir_ + "/nope")) << missing.message();
  Status directory = CheckTrustedFile(dir_, "keys file", Trust::kNoOthersWrite);
  EXPECT_EQ(directory.code(), StatusCode::kInvalidArgument);
}

TEST_F(FileModesTest, PrivateDirIsCreated0700UnderUmask022) {
  std::string notice = "stale";
  std::string path = dir_ + "/a/b/data";
  ASSERT_TRUE(MakePrivateDir(path, &notice).ok());
  EXPECT_EQ(ModeOf(path), 0700u);
  EXPECT_EQ(notice, "");
  // Again: nothing to change.
  ASSERT_TRUE(MakePrivateDir(path + "/", &notice).ok());
  EXPECT_EQ(ModeOf(path), 0700u);
  EXPECT_EQ(notice, "");
}

TEST_F(FileModesTest, OpenDirIsTightenedWithANotice) {
  std::string path = dir_ + "/data";
  ASSERT_EQ(::mkdir(path.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0755), 0);
  std::string notice;
  ASSERT_TRUE(MakePrivateDir(path, &notice).ok());
  EXPECT_EQ(ModeOf(path), 0700u);
  EXPECT_TRUE(Contains(notice, "'" + path + "' had mode 0755")) << notice;
  EXPECT_TRUE(Contains(notice, "made it 0700")) << notice;
}

TEST_F(FileModesTest, PrivateDirRefusesAFile) {
  std::string notice;
  Status s = MakePrivateDir(Write("file", 0600), &notice);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(s.message(), "is not a directory")) << s.message();
}

TEST_F(FileModesTest, PrivateFileIsCreated0600UnderUmask022AndOpenOnesTightened) {
  std::string notice = "stale";
  std::string created = dir_ + "/new.db";
  ASSERT_TRUE(MakePrivateFile(created, &notice).ok());
  EXPECT_EQ(ModeOf(created), 0600u);
  EXPECT_EQ(std::filesystem::file_size(created), 0u);
  EXPECT_EQ(notice, "");

  std::string open = Write("old.log", 0644);
  ASSERT_TRUE(MakePrivateFile(open, &notice).ok());
  EXPECT_EQ(ModeOf(open), 0600u);
  EXPECT_TRUE(Contains(notice, "'" + open + "' had mode 0644")) << notice;
  // The content stays.
  std::ifstream in(open);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "content");

  std::string closed = Write("closed", 0400);
  ASSERT_TRUE(MakePrivateFile(closed, &notice).ok());
  EXPECT_EQ(ModeOf(closed), 0400u);
  EXPECT_EQ(notice, "");
}

TEST_F(FileModesTest, TightenLeavesMissingAndNonRegularFilesAlone) {
  std::string notice = "stale";
  ASSERT_TRUE(TightenFileIfPresent(dir_ + "/absent-wal", &notice).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/absent-wal"));
  EXPECT_EQ(notice, "");
  std::string present = Write("present-wal", 0664);
  ASSERT_TRUE(TightenFileIfPresent(present, &notice).ok());
  EXPECT_EQ(ModeOf(present), 0600u);
  EXPECT_FALSE(notice.empty());
  // A log "file" that is a device is not ours to change.
  ASSERT_TRUE(MakePrivateFile("/dev/null", &notice).ok());
  EXPECT_EQ(ModeOf("/dev/null"), 0666u);
  EXPECT_EQ(notice, "");
}

}  // namespace
}  // namespace yilian::files
