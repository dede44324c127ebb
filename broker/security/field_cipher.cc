#include "security/field_cipher.h"

#include <cstring>
#include <utility>
#include <vector>

#include "security/crypto.h"
#include "security/key_file.h"

namespace yilian::security {
namespace {

constexpr std::string_view kMacLabel = "yilian-field-v1";
constexpr std::string_view kEncKeyLabel = "yilian sm4 field key v1";
constexpr std::string_view kMacKeyLabel = "yilian hmac field key v1";
constexpr std::string_view kHashKeyLabel = "yilian content hash key v1";
constexpr std::size_t kMasterKeyBytes = 32;
// iv + at least one cipher block + mac.
constexpr std::size_t kMinBlobBytes = 2 * crypto::kSm4BlockBytes + crypto::kSm3Bytes;

bool HasPrefix(std::string_view value) { return value.substr(0, FieldCipher::kPrefix.size()) == FieldCipher::kPrefix; }

std::string_view View(const auto& key) {
  return std::string_view(reinterpret_cast<const char*>(key.data()), key.size());
}

// A value to rewrite: where it lives and the path bound into its MAC.
struct Slot {
  std::string* value;
  std::string_view path;
};

// Every personal value of `event`, whether set or not.
std::vector<Slot> PersonalSlots(v1::EnterpriseEvent* event) {
  std::vector<Slot> slots;
  if (event->has_enterprise()) {
    v1::Enterprise* e = event->mutable_enterprise();
    if (e->has_legal_representative()) {
      slots.push_back(
          {e->mutable_legal_representative()->mutable_id_number(), "enterprise.legal_representative.id_number"});
      slots.push_back({e->mutable_legal_representative()->mutable_phone(), "enterprise.legal_representative.phone"});
    }
    if (e->has_contact()) {
      slots.push_back({e->mutable_contact()->mutable_id_number(), "enterprise.contact.id_number"});
      slots.push_back({e->mutable_contact()->mutable_phone(), "enterprise.contact.phone"});
    }
  }
  // Every change's values, not only a person's: they are free text, and a
  // change of the shareholders, say, lists their ID and phone numbers.
  for (v1::FieldChange& change : *event->mutable_changes()) {
    slots.push_back({change.mutable_old_value(), "changes.old_value"});
    slots.push_back({change.mutable_new_value(), "changes.new_value"});
  }
  if (event->has_deregistration())
    slots.push_back({event->mutable_deregistration()->mutable_reason(), "deregistration.reason"});
  return slots;
}

void WipeString(std::string* s) {
  crypto::Wipe(s->data(), s->size());
  s->clear();
}

}  // namespace

FieldCipher::~FieldCipher() {
  crypto::Wipe(enc_key_.data(), enc_key_.size());
  crypto::Wipe(mac_key_.data(), mac_key_.size());
  crypto::Wipe(hash_key_.data(), hash_key_.size());
}

Result<FieldCipher> FieldCipher::FromKeyHex(std::string_view hex64) {
  const Status bad = Status::InvalidArgument("field encryption key must be exactly 64 hex characters (32 bytes)");
  if (hex64.size() != 2 * kMasterKeyBytes) return bad;
  std::optional<std::string> master = crypto::HexDecode(hex64);
  if (!master) return bad;
  std::optional<std::string> enc = crypto::HmacSm3(*master, {kEncKeyLabel});
  std::optional<std::string> mac = crypto::HmacSm3(*master, {kMacKeyLabel});
  std::optional<std::string> hash = crypto::HmacSm3(*master, {kHashKeyLabel});
  WipeString(&*master);
  FieldCipher cipher;
  bool ok = enc && mac && hash;
  if (ok) {
    std::memcpy(cipher.enc_key_.data(), enc->data(), cipher.enc_key_.size());
    std::memcpy(cipher.mac_key_.data(), mac->data(), cipher.mac_key_.size());
    std::memcpy(cipher.hash_key_.data(), hash->data(), cipher.hash_key_.size());
  }
  for (auto* s : {&enc, &mac, &hash}) {
    if (*s) WipeString(&**s);
  }
  if (!ok) return Status::Internal("deriving the field encryption keys failed (OpenSSL HMAC-SM3)");
  return cipher;
}

Result<FieldCipher> FieldCipher::LoadKeyFile(const std::string& path) {
  Result<std::string> text = ReadKeyFileText(path);
  if (!text.ok()) return text.status();
  Result<FieldCipher> cipher = FromKeyHex(text.value());
  WipeString(&text.value());
  if (!cipher.ok()) return Status(cipher.status().code(), "key file '" + path + "': " + cipher.status().message());
  return cipher;
}

std::string FieldCipher::GenerateKeyHex() {
  std::optional<std::string> key = crypto::RandomBytes(kMasterKeyBytes);
  if (!key) return std::string();
  std::string hex = crypto::HexEncode(*key);
  WipeString(&*key);
  return hex;
}

Result<std::string> FieldCipher::EncryptValue(std::string_view path, std::string_view plaintext) const {
  std::optional<std::string> iv = crypto::RandomBytes(crypto::kSm4BlockBytes);
  if (!iv) return Status::Internal("no random IV (OpenSSL RAND_bytes failed)");
  std::optional<std::string> ct = crypto::Sm4CbcEncrypt(View(enc_key_), *iv, plaintext);
  if (!ct) return Status::Internal("SM4-CBC encryption failed for " + std::string(path));
  std::optional<std::string> mac = crypto::HmacSm3(
      View(mac_key_), {kMacLabel, std::string_view("\0", 1), path, std::string_view("\0", 1), *iv, *ct});
  if (!mac) return Status::Internal("HMAC-SM3 failed for " + std::string(path));
  return std::string(kPrefix) + crypto::Base64Encode(*iv + *ct + *mac);
}

Result<std::string> FieldCipher::DecryptValue(std::string_view path, std::string_view value) const {
  auto corrupt = [&](const char* why) {
    return Status::Corruption("encrypted value of " + std::string(path) + " " + why);
  };
  if (!HasPrefix(value)) return corrupt("lacks the sm4: prefix");
  std::optional<std::string> blob = crypto::Base64Decode(value.substr(kPrefix.size()));
  if (!blob) return corrupt("is not valid base64");
  if (blob->size() < kMinBlobBytes || (blob->size() - crypto::kSm3Bytes) % crypto::kSm4BlockBytes != 0) {
    return corrupt("has an impossible length");
  }
  std::string_view all(*blob);
  std::string_view iv = all.substr(0, crypto::kSm4BlockBytes);
  std::string_view ct = all.substr(crypto::kSm4BlockBytes, all.size() - crypto::kSm4BlockBytes - crypto::kSm3Bytes);
  std::string_view mac = all.substr(all.size() - crypto::kSm3Bytes);
  std::optional<std::string> expected =
      crypto::HmacSm3(View(mac_key_), {kMacLabel, std::string_view("\0", 1), path, std::string_view("\0", 1), iv, ct});
  if (!expected) return Status::Internal("HMAC-SM3 failed for " + std::string(path));
  if (!crypto::ConstantTimeEquals(*expected, mac)) {
    return corrupt("fails its integrity check (tampered, or written with another key)");
  }
  std::optional<std::string> plain = crypto::Sm4CbcDecrypt(View(enc_key_), iv, ct);
  if (!plain) return corrupt("does not decrypt");
  return std::move(*plain);
}

Status FieldCipher::EncryptPersonal(v1::EnterpriseEvent* event) const {
  std::vector<Slot> slots = PersonalSlots(event);
  std::vector<std::string> out(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const std::string& value = *slots[i].value;
    if (value.empty()) continue;
    if (HasPrefix(value)) {
      return Status::InvalidArgument(std::string(slots[i].path) +
                                     " already starts with \"sm4:\" (already encrypted, or not a plain value)");
    }
    Result<std::string> enc = EncryptValue(slots[i].path, value);
    if (!enc.ok()) return enc.status();
    out[i] = std::move(enc.value());
  }
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].value->empty()) continue;
    WipeString(slots[i].value);
    *slots[i].value = std::move(out[i]);
  }
  return Status::Ok();
}

Status FieldCipher::DecryptPersonal(v1::EnterpriseEvent* event) const {
  std::vector<Slot> slots = PersonalSlots(event);
  std::vector<std::optional<std::string>> out(slots.size());
  Status failed;
  for (std::size_t i = 0; i < slots.size() && failed.ok(); ++i) {
    if (!HasPrefix(*slots[i].value)) continue;
    Result<std::string> plain = DecryptValue(slots[i].path, *slots[i].value);
    if (!plain.ok()) {
      failed = plain.status();
    } else {
      out[i] = std::move(plain.value());
    }
  }
  if (!failed.ok()) {
    for (auto& p : out) {
      if (p) WipeString(&*p);
    }
    return failed;
  }
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (out[i]) *slots[i].value = std::move(*out[i]);
  }
  return Status::Ok();
}

std::string FieldCipher::ContentHash(const std::string& plaintext_bytes) const {
  std::optional<std::string> mac = crypto::HmacSm3(View(hash_key_), {plaintext_bytes});
  return mac ? crypto::HexEncode(*mac) : std::string();
}

}  // namespace yilian::security
