// FieldCipher's key ring (data-key rotation): key ids in the value format,
// retired keys read but never written with, legacy values (no key id) still
// read, and the ways a value can lie about its key: a wrong, unknown or
// altered key id, a stripped one. Error texts never carry plaintext or key
// material.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "security/crypto.h"
#include "security/events.h"
#include "security/field_cipher.h"

namespace yilian::security {
namespace {

using testing::FullEvent;

const char kKeyA[] = "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";
const char kKeyB[] = "ffeeddccbbaa99887766554433221100fedcba98765432100123456789abcdef";
const char kKeyC[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const char kPath[] = "enterprise.contact.id_number";

FieldCipher Cipher(const char* hex) {
  auto c = FieldCipher::FromKeyHex(hex);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.value();
}

FieldCipher Ring(const char* current, std::vector<const char*> retired) {
  std::vector<FieldCipher> old;
  for (const char* r : retired) old.push_back(Cipher(r));
  auto ring = FieldCipher::WithRetired(Cipher(current), old);
  EXPECT_TRUE(ring.ok()) << ring.status().ToString();
  return ring.value();
}

// A value as a broker before key ids wrote it (format v1), built from the
// primitives as docs/storage.md section 7 describes it.
std::string LegacyValue(const char* key_hex, const std::string& path, const std::string& plaintext) {
  const std::string master = crypto::HexDecode(key_hex).value();
  const std::string enc = crypto::HmacSm3(master, {"yilian sm4 field key v1"}).value().substr(0, 16);
  const std::string mac_key = crypto::HmacSm3(master, {"yilian hmac field key v1"}).value();
  const std::string iv = crypto::RandomBytes(16).value();
  const std::string ct = crypto::Sm4CbcEncrypt(enc, iv, plaintext).value();
  const std::string nul(1, '\0');
  const std::string mac = crypto::HmacSm3(mac_key, {"yilian-field-v1", nul, path, nul, iv, ct}).value();
  return "sm4:" + crypto::Base64Encode(iv + ct + mac);
}

// An event as a broker before key ids stored it.
v1::EnterpriseEvent LegacyEvent(const char* key_hex) {
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  auto* lr = e.mutable_enterprise()->mutable_legal_representative();
  lr->set_id_number(LegacyValue(key_hex, "enterprise.legal_representative.id_number", lr->id_number()));
  lr->set_phone(LegacyValue(key_hex, "enterprise.legal_representative.phone", lr->phone()));
  auto* c = e.mutable_enterprise()->mutable_contact();
  c->set_id_number(LegacyValue(key_hex, "enterprise.contact.id_number", c->id_number()));
  c->set_phone(LegacyValue(key_hex, "enterprise.contact.phone", c->phone()));
  for (auto& change : *e.mutable_changes()) {
    if (!change.old_value().empty())
      change.set_old_value(LegacyValue(key_hex, "changes.old_value", change.old_value()));
    if (!change.new_value().empty())
      change.set_new_value(LegacyValue(key_hex, "changes.new_value", change.new_value()));
  }
  return e;
}

void ExpectNoSecrets(const Status& s, const std::string& what) {
  for (const std::string secret : {std::string(testing::kLegalRepId), std::string(testing::kLegalRepPhone),
                                   std::string(testing::kContactId), std::string(testing::kContactPhone),
                                   std::string(kKeyA).substr(0, 16), std::string(kKeyB).substr(0, 16),
                                   std::string(kKeyC).substr(0, 16)}) {
    EXPECT_EQ(s.message().find(secret), std::string::npos) << what << ": " << s.message();
  }
}

TEST(KeyRing, KeyIdsAreEightHexCharactersDerivedFromTheKey) {
  const FieldCipher a = Cipher(kKeyA);
  EXPECT_EQ(a.key_id().size(), 8u);
  EXPECT_EQ(a.key_id().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a.key_id(), Cipher(kKeyA).key_id());
  EXPECT_NE(a.key_id(), Cipher(kKeyB).key_id());
  // The documented derivation: the first 4 bytes of HMAC-SM3(master, label).
  const std::string master = crypto::HexDecode(kKeyA).value();
  EXPECT_EQ(a.key_id(), crypto::HexEncode(crypto::HmacSm3(master, {"yilian key id v1"}).value().substr(0, 4)));
  // The id is no prefix of the key, nor of the hex text of the key.
  EXPECT_NE(std::string(kKeyA).find(a.key_id()), 0u);
}

TEST(KeyRing, NewValuesNameTheCurrentKey) {
  const FieldCipher ring = Ring(kKeyB, {kKeyA});
  auto v = ring.EncryptValue(kPath, testing::kContactId);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value().rfind("sm4:" + ring.key_id() + ":", 0), 0u) << v.value();
  EXPECT_EQ(FieldCipher::KeyIdOf(v.value()), ring.key_id());
  EXPECT_EQ(FieldCipher::KeyIdOf("sm4:AAAA"), "");
  EXPECT_EQ(FieldCipher::KeyIdOf("plain"), std::nullopt);
  EXPECT_EQ(ring.key_ids(), (std::vector<std::string>{Cipher(kKeyB).key_id(), Cipher(kKeyA).key_id()}));
  EXPECT_TRUE(ring.HasKey(Cipher(kKeyA).key_id()));
  EXPECT_FALSE(ring.HasKey(Cipher(kKeyC).key_id()));
}

TEST(KeyRing, RetiredKeysAreReadButNeverWrittenWith) {
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  const v1::EnterpriseEvent original = e;
  ASSERT_TRUE(Cipher(kKeyA).EncryptPersonal(&e).ok());
  const FieldCipher ring = Ring(kKeyB, {kKeyC, kKeyA});
  v1::EnterpriseEvent read = e;
  ASSERT_TRUE(ring.DecryptPersonal(&read).ok());
  EXPECT_EQ(read.SerializeAsString(), original.SerializeAsString());
  // Without A in the ring the same event is refused, naming A's id.
  v1::EnterpriseEvent refused = e;
  Status s = Ring(kKeyB, {kKeyC}).DecryptPersonal(&refused);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find(Cipher(kKeyA).key_id()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("security.retired_data_key_files"), std::string::npos) << s.message();
  EXPECT_EQ(refused.SerializeAsString(), e.SerializeAsString());
  ExpectNoSecrets(s, "unknown key");
}

TEST(KeyRing, RekeyRewritesOnlyWhatIsNotUnderTheCurrentKey) {
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  const v1::EnterpriseEvent original = e;
  ASSERT_TRUE(Cipher(kKeyA).EncryptPersonal(&e).ok());
  // One value written under B already, one left plain.
  auto under_b = Cipher(kKeyB).EncryptValue("enterprise.contact.phone", testing::kContactPhone);
  ASSERT_TRUE(under_b.ok());
  e.mutable_enterprise()->mutable_contact()->set_phone(under_b.value());
  e.mutable_enterprise()->mutable_legal_representative()->set_phone(testing::kLegalRepPhone);

  const FieldCipher ring = Ring(kKeyB, {kKeyA});
  auto changed = ring.RekeyPersonal(&e);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_TRUE(changed.value());
  EXPECT_EQ(e.enterprise().contact().phone(), under_b.value());  // left as it was
  EXPECT_EQ(e.enterprise().legal_representative().phone(), testing::kLegalRepPhone);
  std::set<std::string> ids;
  ASSERT_TRUE(ring.KeyIdsOf(e, &ids).ok());
  EXPECT_EQ(ids, (std::set<std::string>{ring.key_id()}));
  // B alone reads it all now, and a second pass changes nothing.
  v1::EnterpriseEvent read = e;
  ASSERT_TRUE(Cipher(kKeyB).DecryptPersonal(&read).ok());
  EXPECT_EQ(read.SerializeAsString(), original.SerializeAsString());
  const std::string once = e.SerializeAsString();
  auto again = ring.RekeyPersonal(&e);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value());
  EXPECT_EQ(e.SerializeAsString(), once);
}

TEST(KeyRing, LegacyValuesAreReadWithWhicheverKeyOfTheRingWroteThem) {
  const v1::EnterpriseEvent legacy = LegacyEvent(kKeyA);
  v1::EnterpriseEvent original = FullEvent(v1::CHANGED);
  // The legacy writer's key alone, the key as current with others retired,
  // and the key retired behind another current one.
  for (const FieldCipher& ring : {Cipher(kKeyA), Ring(kKeyA, {kKeyB}), Ring(kKeyB, {kKeyC, kKeyA})}) {
    v1::EnterpriseEvent e = legacy;
    ASSERT_TRUE(ring.DecryptPersonal(&e).ok()) << ring.key_id();
    EXPECT_EQ(e.SerializeAsString(), original.SerializeAsString());
    std::set<std::string> ids;
    ASSERT_TRUE(ring.KeyIdsOf(legacy, &ids).ok());
    EXPECT_EQ(ids, (std::set<std::string>{Cipher(kKeyA).key_id()}));
  }
  // Rekeyed under the current key even when it is the one that wrote them:
  // the values gain their key id.
  v1::EnterpriseEvent e = legacy;
  auto changed = Cipher(kKeyA).RekeyPersonal(&e);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(changed.value());
  EXPECT_EQ(FieldCipher::KeyIdOf(e.enterprise().contact().id_number()), Cipher(kKeyA).key_id());
  // A ring without the writer refuses it: integrity, not a key id.
  v1::EnterpriseEvent refused = legacy;
  Status s = Ring(kKeyB, {kKeyC}).DecryptPersonal(&refused);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("every configured data key"), std::string::npos) << s.message();
  EXPECT_EQ(refused.SerializeAsString(), legacy.SerializeAsString());
  ExpectNoSecrets(s, "legacy under another key");
}

TEST(KeyRing, AValueCannotLieAboutItsKey) {
  const FieldCipher a = Cipher(kKeyA);
  const FieldCipher ring = Ring(kKeyB, {kKeyA});
  const std::string id_a = a.key_id(), id_b = ring.key_id();
  const std::string good = a.EncryptValue(kPath, testing::kContactId).value();
  ASSERT_TRUE(ring.DecryptValue(kPath, good).ok());
  const std::string body = good.substr(4 + 9);

  struct Case {
    std::string what, value;
    StatusCode code;
  };
  std::string flipped_id = id_a;
  flipped_id[0] = flipped_id[0] == '0' ? '1' : '0';
  std::string upper_id = id_a;
  for (char& c : upper_id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::vector<Case> cases = {
      // A's value relabelled as B's: B's MAC key, and the id is in the MAC.
      {"relabelled with the current key's id", "sm4:" + id_b + ":" + body, StatusCode::kCorruption},
      {"an id no key has", "sm4:" + Cipher(kKeyC).key_id() + ":" + body, StatusCode::kFailedPrecondition},
      {"one character of the id changed", "sm4:" + flipped_id + ":" + body, StatusCode::kFailedPrecondition},
      // Stripped to pass as legacy: the v1 MAC label differs.
      {"id stripped (downgrade to legacy)", "sm4:" + body, StatusCode::kCorruption},
      {"upper-case id", "sm4:" + upper_id + ":" + body, StatusCode::kCorruption},
      {"short id", "sm4:" + id_a.substr(1) + ":" + body, StatusCode::kCorruption},
      {"empty id", "sm4::" + body, StatusCode::kCorruption},
      {"id without a value", "sm4:" + id_a + ":", StatusCode::kCorruption},
      {"two ids", "sm4:" + id_a + ":" + id_a + ":" + body, StatusCode::kCorruption},
      {"MAC byte changed", good.substr(0, good.size() - 3) + (good[good.size() - 3] == 'A' ? "B" : "A") +
                               good.substr(good.size() - 2),
       StatusCode::kCorruption},
  };
  for (const Case& c : cases) {
    auto r = ring.DecryptValue(kPath, c.value);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.status().code(), c.code) << c.what << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(kPath), std::string::npos) << c.what;
    ExpectNoSecrets(r.status(), c.what);
    auto again = ring.RekeyValue(kPath, c.value);
    EXPECT_FALSE(again.ok()) << c.what;
  }
  // Under the current key with a damaged MAC: RekeyValue reports it rather
  // than passing over it.
  std::string current = ring.EncryptValue(kPath, testing::kContactId).value();
  current[current.size() - 3] = current[current.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(ring.RekeyValue(kPath, current).status().code(), StatusCode::kCorruption);
}

TEST(KeyRing, AKeyGivenTwiceIsRefused) {
  auto same = FieldCipher::WithRetired(Cipher(kKeyA), {Cipher(kKeyA)});
  ASSERT_FALSE(same.ok());
  EXPECT_NE(same.status().message().find("cannot also be a retired one"), std::string::npos);
  auto twice = FieldCipher::WithRetired(Cipher(kKeyA), {Cipher(kKeyB), Cipher(kKeyB)});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find(Cipher(kKeyB).key_id()), std::string::npos);
  ExpectNoSecrets(twice.status(), "twice");
}

class KeyRingFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("yilian-key-ring-test-" + std::to_string(::getpid()) + "-" +
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

TEST_F(KeyRingFiles, RetiredKeyFilesFollowTheDataKeyRules) {
  const std::string b = Write("b.key", kKeyB, 0600), a = Write("a.key", std::string(kKeyA) + "\n", 0600);
  auto ring = FieldCipher::LoadKeyFiles(b, {a});
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  EXPECT_EQ(ring->key_ids(), Ring(kKeyB, {kKeyA}).key_ids());

  const std::string open = Write("open.key", kKeyA, 0644);
  auto refused = FieldCipher::LoadKeyFiles(b, {open});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(open), std::string::npos) << refused.status().message();

  const std::string bad = Write("bad.key", std::string(kKeyA).substr(0, 60), 0600);
  auto short_key = FieldCipher::LoadKeyFiles(b, {bad});
  ASSERT_FALSE(short_key.ok());
  EXPECT_NE(short_key.status().message().find(bad), std::string::npos);
  ExpectNoSecrets(short_key.status(), "short key");

  auto missing = FieldCipher::LoadKeyFiles(b, {(dir_ / "none.key").string()});
  EXPECT_FALSE(missing.ok());

  auto twice = FieldCipher::LoadKeyFiles(b, {Write("b2.key", kKeyB, 0600)});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("security.retired_data_key_files"), std::string::npos);
  ExpectNoSecrets(twice.status(), "current key retired too");
}

}  // namespace
}  // namespace yilian::security
