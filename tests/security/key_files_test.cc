// The broker's public key as adapters and the CLI take it (--server-key,
// adapter.server_key): a .pub file written by `yilian keygen`, or the Z85
// text itself. A path is also text of some length; one of exactly 40
// characters of the Z85 alphabet must still be read as the file it names.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "auth/keys.h"

namespace yilian {
namespace {

class PublicKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/ykXXXXXX";  // mkdtemp's letters and digits are Z85 characters
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
};

TEST_F(PublicKeyFileTest, AFileWhosePathLooksLikeAZ85KeyIsReadAsAFile) {
  auth::KeyPair broker = auth::GenerateKeyPair().value();
  // dir_/ + NAME + ".pub" is 40 characters, every one in the Z85 alphabet.
  std::string name(40 - dir_.size() - 1 - 4, 'b');
  ASSERT_TRUE(auth::WriteKeyPair(dir_, name, broker).ok());
  std::string path = dir_ + "/" + name + ".pub";
  ASSERT_EQ(path.size(), 40u);
  ASSERT_TRUE(auth::IsZ85Key(path)) << "the path must be a valid Z85 key for this test to mean anything";

  auto key = auth::ReadPublicKey(path);
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(key.value(), broker.public_key);
}

TEST_F(PublicKeyFileTest, Z85TextIsTheKeyAndAnythingElseIsAClearError) {
  auth::KeyPair broker = auth::GenerateKeyPair().value();
  auto key = auth::ReadPublicKey(broker.public_key);
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(key.value(), broker.public_key);

  auto missing = auth::ReadPublicKey(dir_ + "/absent.pub");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("neither a Z85 public key nor a readable file"), std::string::npos)
      << missing.status().message();
}

}  // namespace
}  // namespace yilian
