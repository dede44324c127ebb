// The audit anchor line (yilian/audit/anchor.h) and the broker's anchor file writer
// (audit/anchor_writer.h): signed lines round-trip, every changed field or
// another key fails the signature, malformed lines are refused with a
// reason, the key file is held to the data key's rules, and the writer
// appends one synced line per head to a file only its owner may read.
#include "yilian/audit/anchor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "audit/anchor_writer.h"
#include "testing/process.h"

namespace yilian::audit {
namespace {

constexpr const char* kKeyA = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
constexpr const char* kKeyB = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
const std::string kHash(64, 'a');
const std::string kOtherHash(64, 'b');

AnchorKey Key(const char* hex) {
  auto k = AnchorKey::FromKeyHex(hex);
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return std::move(k).value();
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(AnchorLine, SignedLineRoundTripsAndVerifies) {
  AnchorKey key = Key(kKeyA);
  auto anchor = key.Sign(1767225600123, 42, kHash);
  ASSERT_TRUE(anchor.ok()) << anchor.status().ToString();
  const std::string line = FormatAnchorLine(anchor.value());
  EXPECT_EQ(line.rfind("anchor v1 1767225600123 42 " + kHash + " ", 0), 0u) << line;
  EXPECT_EQ(anchor->mac.size(), 64u);
  auto parsed = ParseAnchorLine(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->at, 1767225600123);
  EXPECT_EQ(parsed->id, 42u);
  EXPECT_EQ(parsed->hash, kHash);
  EXPECT_EQ(parsed->mac, anchor->mac);
  EXPECT_TRUE(key.Verifies(parsed.value()));
  // Signing is deterministic: the same head gives the same line.
  EXPECT_EQ(FormatAnchorLine(key.Sign(1767225600123, 42, kHash).value()), line);
}

TEST(AnchorLine, AnyChangedFieldOrAnotherKeyFailsTheSignature) {
  AnchorKey key = Key(kKeyA);
  Anchor good = key.Sign(1000, 7, kHash).value();
  Anchor at = good, id = good, hash = good, mac = good;
  at.at = 1001;
  id.id = 8;
  hash.hash = kOtherHash;
  mac.mac[0] = mac.mac[0] == '0' ? '1' : '0';
  for (const Anchor& a : {at, id, hash, mac}) EXPECT_FALSE(key.Verifies(a)) << FormatAnchorLine(a);
  EXPECT_FALSE(Key(kKeyB).Verifies(good));
  EXPECT_TRUE(Key(kKeyA).Verifies(good));
  // The mac is not a plain digest of the fields: a forger without the key
  // cannot compute it, and the key file's bytes are not the mac key.
  EXPECT_NE(Key(kKeyB).Sign(1000, 7, kHash)->mac, good.mac);
}

TEST(AnchorLine, SignRefusesWhatNoAnchorCanName) {
  AnchorKey key = Key(kKeyA);
  EXPECT_EQ(key.Sign(1000, 0, kHash).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(key.Sign(1000, 1, "abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(key.Sign(1000, 1, std::string(64, 'A')).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(key.Sign(-1, 1, kHash).status().code(), StatusCode::kInvalidArgument);
}

TEST(AnchorLine, MalformedLinesAreRefusedWithAReason) {
  const std::string mac(64, 'c');
  const std::string ok = "anchor v1 1000 7 " + kHash + " " + mac;
  ASSERT_TRUE(ParseAnchorLine(ok).ok());
  for (const std::string& bad : {
           std::string(""),
           "anchor v2 1000 7 " + kHash + " " + mac,
           "anchor v1 1000 7 " + kHash,
           "anchor v1 1000 7 " + kHash + " " + mac + " extra",
           "anchor v1  1000 7 " + kHash + " " + mac,
           "anchor v1 1000 7 " + kHash + " " + mac + "\r",
           "anchor v1 -5 7 " + kHash + " " + mac,
           "anchor v1 0100 7 " + kHash + " " + mac,
           "anchor v1 1000 0 " + kHash + " " + mac,
           "anchor v1 1000 x " + kHash + " " + mac,
           "anchor v1 1000 7 " + std::string(64, 'A') + " " + mac,
           "anchor v1 1000 7 " + kHash + " " + mac.substr(1),
           "anchor v1 99999999999999999999 7 " + kHash + " " + mac,
       }) {
    auto r = ParseAnchorLine(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(r.status().message().empty()) << bad;
  }
}

TEST(AnchorLine, DefaultFileIsBesideTheDataDirectory) {
  EXPECT_EQ(DefaultAnchorFile("/var/lib/yilian/data"), "/var/lib/yilian/audit-anchors.log");
  EXPECT_EQ(DefaultAnchorFile("/var/lib/yilian/data/"), "/var/lib/yilian/audit-anchors.log");
  EXPECT_EQ(DefaultAnchorFile("./data"), "audit-anchors.log");
  EXPECT_EQ(DefaultAnchorFile("data"), "audit-anchors.log");
  EXPECT_EQ(DefaultAnchorFile("run/one/data"), "run/one/audit-anchors.log");
  EXPECT_EQ(DefaultAnchorFile("."), "../audit-anchors.log");
}

class AnchorFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("yilian-anchor-test"); }
  void TearDown() override { testing::RemoveTree(dir_); }

  std::string WriteKey(const std::string& name, const std::string& content, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  std::string dir_;
};

TEST_F(AnchorFileTest, KeyFileFollowsTheDataKeyRules) {
  for (std::string content : {std::string(kKeyA), std::string(kKeyA) + "\n"}) {
    auto key = AnchorKey::LoadKeyFile(WriteKey("audit.key", content, 0600));
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(key->Sign(1, 1, kHash)->mac, Key(kKeyA).Sign(1, 1, kHash)->mac);
    std::filesystem::remove(dir_ + "/audit.key");
  }
  auto open = AnchorKey::LoadKeyFile(WriteKey("open.key", kKeyA, 0640));
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(open.status().message().find("mode 0640"), std::string::npos) << open.status().message();
  auto bad = AnchorKey::LoadKeyFile(WriteKey("bad.key", std::string(kKeyA).substr(0, 40), 0600));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(dir_ + "/bad.key"), std::string::npos) << bad.status().message();
  EXPECT_EQ(bad.status().message().find("0011223344"), std::string::npos) << bad.status().message();
  EXPECT_EQ(AnchorKey::LoadKeyFile(dir_ + "/missing.key").status().code(), StatusCode::kIoError);
}

TEST_F(AnchorFileTest, WriterAppendsOneSyncedLinePerHeadToAPrivateFile) {
  const std::string path = dir_ + "/audit-anchors.log";
  { std::ofstream(path) << "kept line\n"; }
  ::chmod(path.c_str(), 0600);
  auto writer = AnchorWriter::Open(path, Key(kKeyA));
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  writer.value()->Submit(1000, 1, kHash);
  // Poll for the first line before submitting the next: a waiting head is
  // replaced by a newer one, so both are only written if the first left.
  ASSERT_TRUE(testing::PollUntil([&] { return Lines(path).size() == 2; }, 10000));
  writer.value()->Submit(2000, 2, kOtherHash);
  writer.value()->Close();
  writer.value()->Submit(3000, 3, kHash);  // after Close: dropped
  std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "kept line");
  AnchorKey key = Key(kKeyA);
  for (std::size_t i = 1; i < 3; ++i) {
    auto a = ParseAnchorLine(lines[i]);
    ASSERT_TRUE(a.ok()) << lines[i];
    EXPECT_TRUE(key.Verifies(a.value()));
    EXPECT_EQ(a->id, i);
  }
  EXPECT_EQ(ParseAnchorLine(lines[2])->hash, kOtherHash);
}

TEST_F(AnchorFileTest, NewFileIsCreatedOwnerOnlyAndAMissingDirectoryIsAnError) {
  const std::string path = dir_ + "/new-anchors.log";
  auto writer = AnchorWriter::Open(path, Key(kKeyA));
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  writer.value()->Submit(1000, 5, kHash);
  writer.value()->Close();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Lines(path).size(), 1u);

  auto missing = AnchorWriter::Open(dir_ + "/no/such/dir/anchors.log", Key(kKeyA));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_NE(missing.status().message().find("no/such/dir/anchors.log"), std::string::npos);
}

}  // namespace
}  // namespace yilian::audit
