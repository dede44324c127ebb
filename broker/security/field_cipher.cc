#include "security/field_cipher.h"

#include <cstring>
#include <utility>
#include <vector>

#include "security/crypto.h"
#include "security/key_file.h"

namespace yilian::security {
namespace {

constexpr std::string_view kMacLabelV1 = "yilian-field-v1";  // legacy values, no key id
constexpr std::string_view kMacLabelV2 = "yilian-field-v2";
constexpr std::string_view kEncKeyLabel = "yilian sm4 field key v1";
constexpr std::string_view kMacKeyLabel = "yilian hmac field key v1";
constexpr std::string_view kHashKeyLabel = "yilian content hash key v1";
constexpr std::string_view kKeyIdLabel = "yilian key id v1";
constexpr std::size_t kMasterKeyBytes = 32;
// iv + at least one cipher block + mac.
constexpr std::size_t kMinBlobBytes = 2 * crypto::kSm4BlockBytes + crypto::kSm3Bytes;
constexpr std::string_view kNul("\0", 1);

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

bool IsKeyId(std::string_view id) {
  return id.size() == FieldCipher::kKeyIdChars && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

FieldCipher::~FieldCipher() {
  for (Key& k : keys_) {
    crypto::Wipe(k.enc.data(), k.enc.size());
    crypto::Wipe(k.mac.data(), k.mac.size());
    crypto::Wipe(k.hash.data(), k.hash.size());
  }
}

Result<FieldCipher> FieldCipher::FromKeyHex(std::string_view hex64) {
  const Status bad = Status::InvalidArgument("field encryption key must be exactly 64 hex characters (32 bytes)");
  if (hex64.size() != 2 * kMasterKeyBytes) return bad;
  std::optional<std::string> master = crypto::HexDecode(hex64);
  if (!master) return bad;
  std::optional<std::string> enc = crypto::HmacSm3(*master, {kEncKeyLabel});
  std::optional<std::string> mac = crypto::HmacSm3(*master, {kMacKeyLabel});
  std::optional<std::string> hash = crypto::HmacSm3(*master, {kHashKeyLabel});
  std::optional<std::string> id = crypto::HmacSm3(*master, {kKeyIdLabel});
  WipeString(&*master);
  FieldCipher cipher;
  bool ok = enc && mac && hash && id;
  if (ok) {
    Key key;
    std::memcpy(key.enc.data(), enc->data(), key.enc.size());
    std::memcpy(key.mac.data(), mac->data(), key.mac.size());
    std::memcpy(key.hash.data(), hash->data(), key.hash.size());
    key.id = crypto::HexEncode(id->substr(0, kKeyIdChars / 2));
    cipher.keys_.push_back(std::move(key));
    crypto::Wipe(key.enc.data(), key.enc.size());
    crypto::Wipe(key.mac.data(), key.mac.size());
    crypto::Wipe(key.hash.data(), key.hash.size());
  }
  for (auto* s : {&enc, &mac, &hash, &id}) {
    if (*s) WipeString(&**s);
  }
  if (!ok) return Status::Internal("deriving the field encryption keys failed (OpenSSL HMAC-SM3)");
  return cipher;
}

Result<FieldCipher> FieldCipher::WithRetired(const FieldCipher& current, const std::vector<FieldCipher>& retired) {
  FieldCipher ring;
  ring.keys_.push_back(current.keys_.front());
  for (const FieldCipher& r : retired) {
    const Key& key = r.keys_.front();
    if (ring.Find(key.id) != nullptr) {
      return Status::InvalidArgument("data key " + key.id + " is given twice" +
                                     (key.id == ring.key_id() ? " (the current key cannot also be a retired one)" : ""));
    }
    ring.keys_.push_back(key);
  }
  return ring;
}

Result<FieldCipher> FieldCipher::LoadKeyFiles(const std::string& current, const std::vector<std::string>& retired) {
  Result<FieldCipher> first = LoadKeyFile(current);
  if (!first.ok()) return first.status();
  std::vector<FieldCipher> old;
  for (const std::string& path : retired) {
    Result<FieldCipher> r = LoadKeyFile(path);
    if (!r.ok()) return r.status();
    old.push_back(std::move(r).value());
  }
  Result<FieldCipher> ring = WithRetired(first.value(), old);
  if (!ring.ok()) {
    return Status(ring.status().code(), "security.retired_data_key_files: " + ring.status().message() +
                                            " (key files '" + current + "'" + [&] {
                                              std::string all;
                                              for (const auto& p : retired) all += ", '" + p + "'";
                                              return all;
                                            }() + ")");
  }
  return ring;
}

std::vector<std::string> FieldCipher::key_ids() const {
  std::vector<std::string> ids;
  for (const Key& k : keys_) ids.push_back(k.id);
  return ids;
}

const FieldCipher::Key* FieldCipher::Find(std::string_view key_id) const {
  for (const Key& k : keys_)
    if (k.id == key_id) return &k;
  return nullptr;
}

std::optional<std::string> FieldCipher::KeyIdOf(std::string_view value) {
  if (!HasPrefix(value)) return std::nullopt;
  std::string_view rest = value.substr(kPrefix.size());
  if (rest.size() > kKeyIdChars && rest[kKeyIdChars] == ':' && IsKeyId(rest.substr(0, kKeyIdChars)))
    return std::string(rest.substr(0, kKeyIdChars));
  return std::string();
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
  const Key& key = keys_.front();
  std::optional<std::string> iv = crypto::RandomBytes(crypto::kSm4BlockBytes);
  if (!iv) return Status::Internal("no random IV (OpenSSL RAND_bytes failed)");
  std::optional<std::string> ct = crypto::Sm4CbcEncrypt(View(key.enc), *iv, plaintext);
  if (!ct) return Status::Internal("SM4-CBC encryption failed for " + std::string(path));
  std::optional<std::string> mac =
      crypto::HmacSm3(View(key.mac), {kMacLabelV2, kNul, key.id, kNul, path, kNul, *iv, *ct});
  if (!mac) return Status::Internal("HMAC-SM3 failed for " + std::string(path));
  return std::string(kPrefix) + key.id + ":" + crypto::Base64Encode(*iv + *ct + *mac);
}

Result<std::pair<std::string, std::string>> FieldCipher::Open(std::string_view path, std::string_view value) const {
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption("encrypted value of " + std::string(path) + " " + why);
  };
  std::optional<std::string> id = KeyIdOf(value);
  if (!id) return corrupt("lacks the sm4: prefix");
  std::string_view encoded = value.substr(kPrefix.size() + (id->empty() ? 0 : kKeyIdChars + 1));
  std::optional<std::string> blob = crypto::Base64Decode(encoded);
  if (!blob) return corrupt("is not valid base64");
  if (blob->size() < kMinBlobBytes || (blob->size() - crypto::kSm3Bytes) % crypto::kSm4BlockBytes != 0) {
    return corrupt("has an impossible length");
  }
  std::string_view all(*blob);
  std::string_view iv = all.substr(0, crypto::kSm4BlockBytes);
  std::string_view ct = all.substr(crypto::kSm4BlockBytes, all.size() - crypto::kSm4BlockBytes - crypto::kSm3Bytes);
  std::string_view mac = all.substr(all.size() - crypto::kSm3Bytes);
  // The keys to try: the one the value names, or for a legacy value every
  // key of the ring in order (the MAC tells which one wrote it).
  std::vector<const Key*> candidates;
  if (!id->empty()) {
    const Key* key = Find(*id);
    if (key == nullptr) {
      return Status::FailedPrecondition("encrypted value of " + std::string(path) + " was written with data key " +
                                        *id + ", which is neither security.data_key_file nor one of "
                                        "security.retired_data_key_files");
    }
    candidates.push_back(key);
  } else {
    for (const Key& k : keys_) candidates.push_back(&k);
  }
  for (const Key* key : candidates) {
    std::optional<std::string> expected =
        id->empty() ? crypto::HmacSm3(View(key->mac), {kMacLabelV1, kNul, path, kNul, iv, ct})
                    : crypto::HmacSm3(View(key->mac), {kMacLabelV2, kNul, key->id, kNul, path, kNul, iv, ct});
    if (!expected) return Status::Internal("HMAC-SM3 failed for " + std::string(path));
    if (!crypto::ConstantTimeEquals(*expected, mac)) continue;
    std::optional<std::string> plain = crypto::Sm4CbcDecrypt(View(key->enc), iv, ct);
    if (!plain) return corrupt("does not decrypt");
    return std::make_pair(std::move(*plain), key->id);
  }
  if (!id->empty()) return corrupt("fails its integrity check under data key " + *id + " (tampered)");
  return corrupt(keys_.size() == 1 ? "fails its integrity check (tampered, or written with another key)"
                                   : "fails its integrity check under every configured data key (tampered, or "
                                     "written with another key)");
}

Result<std::string> FieldCipher::DecryptValue(std::string_view path, std::string_view value) const {
  auto opened = Open(path, value);
  if (!opened.ok()) return opened.status();
  return std::move(opened.value().first);
}

Result<std::optional<std::string>> FieldCipher::RekeyValue(std::string_view path, std::string_view value) const {
  if (KeyIdOf(value) == key_id()) {
    // Under the current key already, if it verifies: checked, so that a
    // damaged value is reported rather than passed over.
    auto opened = Open(path, value);
    if (!opened.ok()) return opened.status();
    WipeString(&opened.value().first);
    return std::optional<std::string>();
  }
  auto opened = Open(path, value);
  if (!opened.ok()) return opened.status();
  Result<std::string> sealed = EncryptValue(path, opened.value().first);
  WipeString(&opened.value().first);
  if (!sealed.ok()) return sealed.status();
  return std::optional<std::string>(std::move(sealed).value());
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

Result<bool> FieldCipher::RekeyPersonal(v1::EnterpriseEvent* event) const {
  std::vector<Slot> slots = PersonalSlots(event);
  std::vector<std::optional<std::string>> out(slots.size());
  bool changed = false;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!HasPrefix(*slots[i].value)) continue;
    Result<std::optional<std::string>> again = RekeyValue(slots[i].path, *slots[i].value);
    if (!again.ok()) return again.status();
    if (again.value()) changed = true;
    out[i] = std::move(again.value());
  }
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (out[i]) *slots[i].value = std::move(*out[i]);
  }
  return changed;
}

Status FieldCipher::KeyIdsOf(const v1::EnterpriseEvent& event, std::set<std::string>* ids) const {
  v1::EnterpriseEvent copy = event;  // PersonalSlots wants a mutable event
  for (const Slot& slot : PersonalSlots(&copy)) {
    if (!HasPrefix(*slot.value)) continue;
    auto opened = Open(slot.path, *slot.value);
    if (!opened.ok()) return opened.status();
    WipeString(&opened.value().first);
    ids->insert(opened.value().second);
  }
  return Status::Ok();
}

std::string FieldCipher::ContentHash(const std::string& plaintext_bytes) const {
  std::optional<std::string> mac = crypto::HmacSm3(View(keys_.front().hash), {plaintext_bytes});
  return mac ? crypto::HexEncode(*mac) : std::string();
}

}  // namespace yilian::security
