// FieldCipher: round trips, no personal number left in clear, fresh IVs,
// tampering and wrong keys refused without changing the event, key files and
// their modes, and the keyed content hash.
#include "security/field_cipher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/digest.h"
#include "security/events.h"

namespace yilian::security {
namespace {

using testing::FullEvent;

const char kKeyA[] = "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";
const char kKeyB[] = "ffeeddccbbaa99887766554433221100fedcba98765432100123456789abcdef";

FieldCipher Cipher(const char* hex) {
  auto c = FieldCipher::FromKeyHex(hex);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.value();
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The encrypted values of an event, in a fixed order.
std::vector<std::string> PersonalValues(const v1::EnterpriseEvent& e) {
  std::vector<std::string> out = {e.enterprise().legal_representative().id_number(),
                                  e.enterprise().legal_representative().phone(), e.enterprise().contact().id_number(),
                                  e.enterprise().contact().phone()};
  for (const auto& c : e.changes()) {
    if (!c.old_value().empty()) out.push_back(c.old_value());
    if (!c.new_value().empty()) out.push_back(c.new_value());
  }
  if (!e.deregistration().reason().empty()) out.push_back(e.deregistration().reason());
  return out;
}

TEST(FieldCipher, RoundTripKeepsEverything) {
  FieldCipher cipher = Cipher(kKeyA);
  for (v1::EventType type : {v1::ESTABLISHED, v1::CHANGED, v1::FILED, v1::DEREGISTERED}) {
    const v1::EnterpriseEvent original = FullEvent(type);
    v1::EnterpriseEvent e = original;
    ASSERT_TRUE(cipher.EncryptPersonal(&e).ok());
    EXPECT_NE(e.SerializeAsString(), original.SerializeAsString());
    ASSERT_TRUE(cipher.DecryptPersonal(&e).ok());
    EXPECT_EQ(e.SerializeAsString(), original.SerializeAsString());
  }
}

TEST(FieldCipher, ChineseTextInEncryptedValuesRoundTrips) {
  FieldCipher cipher = Cipher(kKeyA);
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  e.mutable_changes(2)->set_old_value("钱七（原法定代表人）身份证号 11010519491231002X；电话 13812345678");
  e.mutable_enterprise()->mutable_contact()->set_id_number("护照E12345678");
  const v1::EnterpriseEvent original = e;
  ASSERT_TRUE(cipher.EncryptPersonal(&e).ok());
  EXPECT_EQ(e.changes(2).old_value().rfind("sm4:", 0), 0u);
  ASSERT_TRUE(cipher.DecryptPersonal(&e).ok());
  EXPECT_EQ(e.changes(2).old_value(), original.changes(2).old_value());
  EXPECT_EQ(e.enterprise().contact().id_number(), "护照E12345678");
}

TEST(FieldCipher, NoPersonalNumberInClearAfterEncryption) {
  FieldCipher cipher = Cipher(kKeyA);
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  ASSERT_TRUE(cipher.EncryptPersonal(&e).ok());
  std::string bytes;
  ASSERT_TRUE(e.SerializeToString(&bytes));
  for (const std::string secret :
       {testing::kLegalRepId, testing::kLegalRepPhone, testing::kContactId, testing::kContactPhone}) {
    EXPECT_FALSE(Contains(bytes, secret)) << secret;
    // Not even a tail of it (a masked form shows the last 4; 6 would be a leak).
    EXPECT_FALSE(Contains(bytes, secret.substr(secret.size() - 6))) << secret;
  }
  // Encrypted values are ASCII "sm4:<base64>", so the event still parses
  // as proto3 (which insists on UTF-8).
  for (const std::string& v : PersonalValues(e)) {
    ASSERT_EQ(v.rfind("sm4:", 0), 0u) << v;
    for (char c : v) EXPECT_TRUE(c > 0x20 && c < 0x7f) << v;
  }
  v1::EnterpriseEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  // Names and the rest stay readable.
  EXPECT_EQ(parsed.enterprise().legal_representative().name(), "张三");
  EXPECT_EQ(parsed.enterprise().address(), e.enterprise().address());
  // Every change's values are encrypted, not only a person's: free text
  // (a shareholders change lists ID and phone numbers).
  ASSERT_GT(parsed.changes_size(), 1);
  for (const auto& c : parsed.changes()) {
    EXPECT_EQ(c.new_value().rfind("sm4:", 0), 0u) << c.field();
  }
}

TEST(FieldCipher, AShareholdersChangeAndADeregistrationReasonAreEncrypted) {
  FieldCipher cipher = Cipher(kKeyA);
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  v1::FieldChange* c = e.add_changes();
  c->set_field("shareholders");
  c->set_old_value("张三 11010519491231002X 13812345678");
  c->set_new_value("李四 440524188001010014 13999990000");
  e.mutable_deregistration()->set_reason("股东王五(13700001111)决议解散");
  const v1::EnterpriseEvent original = e;
  ASSERT_TRUE(cipher.EncryptPersonal(&e).ok());
  const std::string bytes = e.SerializeAsString();
  for (const std::string secret : {"11010519491231002X", "13812345678", "440524188001010014", "13999990000",
                                   "13700001111"})
    EXPECT_FALSE(Contains(bytes, secret)) << secret;
  ASSERT_TRUE(cipher.DecryptPersonal(&e).ok());
  EXPECT_EQ(e.SerializeAsString(), original.SerializeAsString());
}

TEST(FieldCipher, FreshIvEveryTime) {
  FieldCipher cipher = Cipher(kKeyA);
  v1::EnterpriseEvent a = FullEvent(v1::CHANGED);
  v1::EnterpriseEvent b = a;
  ASSERT_TRUE(cipher.EncryptPersonal(&a).ok());
  ASSERT_TRUE(cipher.EncryptPersonal(&b).ok());
  std::vector<std::string> va = PersonalValues(a);
  std::vector<std::string> vb = PersonalValues(b);
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i) EXPECT_NE(va[i], vb[i]) << i;
  auto x = cipher.EncryptValue("p", "same");
  auto y = cipher.EncryptValue("p", "same");
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_NE(x.value(), y.value());
}

TEST(FieldCipher, EmptyAndAbsentValuesStayThatWay) {
  FieldCipher cipher = Cipher(kKeyA);
  v1::EnterpriseEvent e = FullEvent(v1::ESTABLISHED);
  e.mutable_enterprise()->clear_contact();
  e.mutable_enterprise()->mutable_legal_representative()->clear_phone();
  e.clear_changes();
  ASSERT_TRUE(cipher.EncryptPersonal(&e).ok());
  EXPECT_FALSE(e.enterprise().has_contact());
  EXPECT_TRUE(e.enterprise().legal_representative().phone().empty());
  EXPECT_EQ(e.enterprise().legal_representative().id_number().rfind("sm4:", 0), 0u);

  v1::EnterpriseEvent empty;
  ASSERT_TRUE(cipher.EncryptPersonal(&empty).ok());
  EXPECT_EQ(empty.ByteSizeLong(), 0u);
}

TEST(FieldCipher, PlainValuesFromOlderStoresAreLeftAlone) {
  FieldCipher cipher = Cipher(kKeyA);
  const v1::EnterpriseEvent original = FullEvent(v1::CHANGED);
  v1::EnterpriseEvent e = original;
  ASSERT_TRUE(cipher.DecryptPersonal(&e).ok());
  EXPECT_EQ(e.SerializeAsString(), original.SerializeAsString());
  // A mix: one value encrypted, the others still plain.
  auto enc = cipher.EncryptValue("enterprise.legal_representative.phone", testing::kLegalRepPhone);
  ASSERT_TRUE(enc.ok());
  e.mutable_enterprise()->mutable_legal_representative()->set_phone(enc.value());
  ASSERT_TRUE(cipher.DecryptPersonal(&e).ok());
  EXPECT_EQ(e.SerializeAsString(), original.SerializeAsString());
}

TEST(FieldCipher, EncryptingTwiceIsRefused) {
  FieldCipher cipher = Cipher(kKeyA);
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  ASSERT_TRUE(cipher.EncryptPersonal(&e).ok());
  const v1::EnterpriseEvent once = e;
  Status s = cipher.EncryptPersonal(&e);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.SerializeAsString(), once.SerializeAsString());
}

// Decryption failures: kCorruption, the event unchanged, no plaintext in the
// error text.
void ExpectRefused(const FieldCipher& cipher, v1::EnterpriseEvent e, const std::string& what) {
  const std::string before = e.SerializeAsString();
  Status s = cipher.DecryptPersonal(&e);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << what << ": " << s.ToString();
  EXPECT_EQ(e.SerializeAsString(), before) << what;
  for (const std::string secret :
       {testing::kLegalRepId, testing::kLegalRepPhone, testing::kContactId, testing::kContactPhone}) {
    EXPECT_FALSE(Contains(s.message(), secret)) << what;
  }
}

TEST(FieldCipher, TamperingIsRefused) {
  FieldCipher cipher = Cipher(kKeyA);
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  ASSERT_TRUE(cipher.EncryptPersonal(&e).ok());
  const std::string good = e.enterprise().legal_representative().id_number();

  auto with_id = [&](const std::string& value) {
    v1::EnterpriseEvent t = e;
    t.mutable_enterprise()->mutable_legal_representative()->set_id_number(value);
    return t;
  };
  auto flip = [&](size_t pos) {
    std::string v = good;
    v[pos] = v[pos] == 'A' ? 'B' : 'A';
    return v;
  };
  // The last base64 characters before the padding hold the MAC, the first
  // ones after the prefix the IV, the middle the ciphertext.
  size_t end = good.find('=') == std::string::npos ? good.size() : good.find('=');
  ExpectRefused(cipher, with_id(flip(end - 2)), "MAC byte changed");
  ExpectRefused(cipher, with_id(flip(5)), "IV byte changed");
  ExpectRefused(cipher, with_id(flip(4 + 24 + 4)), "ciphertext byte changed");
  ExpectRefused(cipher, with_id(good.substr(0, good.size() - 4)), "truncated");
  ExpectRefused(cipher, with_id(good + "AAAA"), "extended");
  ExpectRefused(cipher, with_id("sm4:"), "empty");
  ExpectRefused(cipher, with_id("sm4:!!!!"), "not base64");
  ExpectRefused(cipher, with_id("sm4:" + std::string(64, 'A')), "zeros");
  // A valid ciphertext moved to another field does not verify there.
  ExpectRefused(cipher, with_id(e.enterprise().legal_representative().phone()), "moved from phone");
  ExpectRefused(cipher, with_id(e.enterprise().contact().id_number()), "moved from contact");
}

TEST(FieldCipher, WrongKeyIsRefused) {
  v1::EnterpriseEvent e = FullEvent(v1::ESTABLISHED);
  ASSERT_TRUE(Cipher(kKeyA).EncryptPersonal(&e).ok());
  // The values name key A, which B's ring does not hold: refused as such
  // (key_ring_test.cc covers the ring), the event unchanged.
  const std::string before = e.SerializeAsString();
  Status s = Cipher(kKeyB).DecryptPersonal(&e);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), Cipher(kKeyA).key_id())) << s.message();
  EXPECT_EQ(e.SerializeAsString(), before);
}

TEST(FieldCipher, KeyHexForms) {
  EXPECT_TRUE(FieldCipher::FromKeyHex(kKeyA).ok());
  std::string upper = kKeyA;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto u = FieldCipher::FromKeyHex(upper);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->ContentHash("x"), Cipher(kKeyA).ContentHash("x"));

  for (std::string bad : {std::string(kKeyA).substr(0, 63), std::string(kKeyA) + "0", std::string(),
                          std::string(kKeyA).substr(0, 62) + "zz", std::string(kKeyA).substr(0, 63) + "\n"}) {
    auto c = FieldCipher::FromKeyHex(bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(Contains(c.status().message(), "00112233")) << c.status().message();
  }
}

TEST(FieldCipher, GeneratedKeysAreRandomHex) {
  std::string a = FieldCipher::GenerateKeyHex();
  std::string b = FieldCipher::GenerateKeyHex();
  ASSERT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(FieldCipher::FromKeyHex(a).ok());
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("yilian-key-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(KeyFileTest, LoadsOwnerOnlyFiles) {
  for (mode_t mode : {0600, 0400}) {
    for (std::string content : {std::string(kKeyA), std::string(kKeyA) + "\n", std::string(kKeyA) + "\r\n"}) {
      auto c = FieldCipher::LoadKeyFile(Write("key", content, mode));
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      EXPECT_EQ(c->ContentHash("x"), Cipher(kKeyA).ContentHash("x"));
      std::filesystem::remove(dir_ / "key");
    }
  }
}

TEST_F(KeyFileTest, RefusesFilesOthersMayRead) {
  for (mode_t mode : {0644, 0640, 0604, 0620, 0666}) {
    std::string path = Write("key" + std::to_string(mode), kKeyA, mode);
    auto c = FieldCipher::LoadKeyFile(path);
    ASSERT_FALSE(c.ok()) << std::oct << mode;
    EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
    char expect[16];
    std::snprintf(expect, sizeof expect, "mode %04o", static_cast<unsigned>(mode));
    EXPECT_TRUE(Contains(c.status().message(), expect)) << c.status().message();
    EXPECT_TRUE(Contains(c.status().message(), path)) << c.status().message();
    EXPECT_TRUE(Contains(c.status().message(), "0600")) << c.status().message();
  }
}

TEST_F(KeyFileTest, RefusesBadContentWithoutEchoingIt) {
  for (std::string content :
       {std::string(kKeyA).substr(0, 40), std::string(kKeyA) + "\n\n", std::string(),
        std::string(kKeyA) + std::string(kKeyA), " " + std::string(kKeyA), std::string(10000, 'a')}) {
    std::string path = Write("bad", content, 0600);
    auto c = FieldCipher::LoadKeyFile(path);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(c.status().message(), path));
    EXPECT_FALSE(Contains(c.status().message(), "0011223344")) << c.status().message();
    std::filesystem::remove(path);
  }
}

TEST_F(KeyFileTest, MissingFileAndDirectory) {
  auto missing = FieldCipher::LoadKeyFile((dir_ / "nope").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  std::filesystem::create_directory(dir_ / "d");
  ::chmod((dir_ / "d").c_str(), 0700);
  auto directory = FieldCipher::LoadKeyFile((dir_ / "d").string());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), StatusCode::kInvalidArgument);
}

TEST(ContentHash, StableKeyedAndSensitive) {
  FieldCipher a = Cipher(kKeyA);
  const std::string bytes = FullEvent(v1::ESTABLISHED).SerializeAsString();
  const std::string h = a.ContentHash(bytes);
  ASSERT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a.ContentHash(bytes), h);
  EXPECT_EQ(Cipher(kKeyA).ContentHash(bytes), h);
  EXPECT_NE(Cipher(kKeyB).ContentHash(bytes), h);
  EXPECT_NE(a.ContentHash(bytes + " "), h);
  // Keyed: not the plain SM3 of the bytes, so it cannot be recomputed for a
  // guessed ID number without the key.
  EXPECT_NE(Sm3Hex(bytes), h);
  EXPECT_EQ(a.ContentHash("").size(), 64u);
}

}  // namespace
}  // namespace yilian::security
