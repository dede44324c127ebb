// Encryption at rest of the personal fields of an EnterpriseEvent (GB/T
// 39786-2021: ID and phone numbers confidential at rest), with the national
// algorithms from OpenSSL 3: SM4-CBC for confidentiality, HMAC-SM3 for
// integrity (encrypt-then-MAC).
//
// What is encrypted: id_number and phone of enterprise.legal_representative
// and enterprise.contact, old_value/new_value of every FieldChange (free
// text: a shareholders change lists ID and phone numbers), and
// deregistration.reason. Each non-empty value becomes
//   "sm4:" + kid + ":" + base64(iv[16] || SM4-CBC ciphertext (PKCS#7) || mac[32])
// with `kid` the id of the key that wrote it (below), a fresh random IV per
// value and
//   mac = HMAC-SM3(mac_key, "yilian-field-v2" || 0x00 || kid || 0x00 || path || 0x00 || iv || ciphertext)
// where path names the field without indexes ("enterprise.contact.phone",
// "changes.old_value"), so a value cannot be moved to another field, nor
// relabelled with another key's id. The result is ASCII, so it stays a
// valid proto3 string. Names, addresses and the rest of the event stay in
// clear (routing, validation and the operator views need them).
//
// Legacy values, written before key ids (format v1), are "sm4:" +
// base64(...) with mac = HMAC-SM3(mac_key, "yilian-field-v1" || 0x00 || path
// || 0x00 || iv || ciphertext). They are still read: having no id, they are
// tried against each key of the ring in order and taken by the first whose
// MAC verifies. Base64 has no ':', so the two forms never look alike. Only
// v2 values are written.
//
// Keys. One 32-byte master key, kept as 64 hex characters in a key file:
//   - generate one with GenerateKeyHex() (`yilian keygen --data-key`) and
//     write it to a file of mode 0600 owned by the broker's user; a trailing
//     newline is allowed. LoadKeyFile refuses a file that group or others
//     may read or write, and anything but 64 hex characters.
//   - four values are derived from it with HMAC-SM3(master, label): the SM4
//     key (first 16 bytes of label "yilian sm4 field key v1"), the MAC key
//     ("yilian hmac field key v1"), the content-hash key ("yilian content
//     hash key v1") and the key id (the first 4 bytes of "yilian key id v1",
//     as 8 lower-case hex characters), so no key is used for two purposes
//     and the id says nothing about the key.
//   - losing the key loses every value it encrypted for good; back it up
//     apart from the database.
//
// Key ring (rotation, docs/security.md section 2). A FieldCipher holds the
// current key, which every write uses, and any number of retired keys,
// which are only read with. RekeyPersonal/RekeyValue rewrite what is not
// under the current key; once a store holds nothing else, the retired keys
// can go.
//
// Errors: a value that has the "sm4:" prefix but does not decode, or whose
// MAC does not verify (tampered, or another key), fails with kCorruption
// naming the field path only; one written with a key id the ring does not
// hold fails with kFailedPrecondition naming the path and the key id. The
// event is left unchanged. Error texts never contain plaintext or key
// material (a key id is neither).
//
// Thread safety: a FieldCipher is immutable after construction; all const
// methods may be called from any number of threads at once. Copies share
// nothing mutable. Key bytes are wiped when an instance is destroyed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "yilian/v1/event.pb.h"

namespace yilian::security {

class FieldCipher {
 public:
  // The prefix marking an encrypted value.
  static constexpr std::string_view kPrefix = "sm4:";
  // Characters of a key id (lower-case hex).
  static constexpr std::size_t kKeyIdChars = 8;

  // Reads a key file (see above). Errors name the path, never the content.
  static Result<FieldCipher> LoadKeyFile(const std::string& path);
  // A ring: the current key from `current`, the retired keys from `retired`
  // in that order. Refuses a key listed twice (naming both files).
  static Result<FieldCipher> LoadKeyFiles(const std::string& current, const std::vector<std::string>& retired);
  // 64 hex characters (either case), nothing else.
  static Result<FieldCipher> FromKeyHex(std::string_view hex64);
  // A ring of the current key of `current` and the current keys of
  // `retired`, read only, in that order. kInvalidArgument for a key given
  // twice.
  static Result<FieldCipher> WithRetired(const FieldCipher& current, const std::vector<FieldCipher>& retired);
  // A new random master key as 64 lower-case hex characters, from OpenSSL's
  // CSPRNG. Empty if the CSPRNG fails (it does not on a working system).
  static std::string GenerateKeyHex();

  FieldCipher(const FieldCipher&) = default;
  FieldCipher& operator=(const FieldCipher&) = default;
  ~FieldCipher();

  // The current key's id (8 lower-case hex characters).
  const std::string& key_id() const { return keys_.front().id; }
  // Every key's id: the current one first, then the retired ones.
  std::vector<std::string> key_ids() const;
  bool HasKey(std::string_view key_id) const { return Find(key_id) != nullptr; }
  // The key id a value names: nullopt without the "sm4:" prefix, "" for a
  // legacy value (no id), else the id. Says nothing of whether it decrypts.
  static std::optional<std::string> KeyIdOf(std::string_view value);

  // Encrypts the personal values in place. Fails with kInvalidArgument if a
  // value to encrypt already starts with "sm4:" (encrypting twice, or input
  // trying to pass for ciphertext), kInternal if OpenSSL fails; on failure
  // the event is unchanged.
  Status EncryptPersonal(v1::EnterpriseEvent* event) const;
  // Reverses EncryptPersonal, with whichever key of the ring wrote each
  // value. Values without the "sm4:" prefix are left as they are (stores
  // written before encryption was enabled). On failure the event is
  // unchanged.
  Status DecryptPersonal(v1::EnterpriseEvent* event) const;
  // Encrypts again under the current key every encrypted value that is not
  // under it (legacy values, retired keys). Returns whether anything
  // changed; plain values are left as they are. On failure (a value that
  // does not decrypt) the event is unchanged.
  Result<bool> RekeyPersonal(v1::EnterpriseEvent* event) const;
  // The id of the key of each encrypted value of `event` (for a legacy
  // value, the ring's key that verifies it), added to *ids. Fails like
  // DecryptValue.
  Status KeyIdsOf(const v1::EnterpriseEvent& event, std::set<std::string>* ids) const;

  // Lower-case hex HMAC-SM3 (64 characters) of `plaintext_bytes` under the
  // current key's content-hash key: equal plaintext encodings give equal
  // hashes, so it detects duplicates although ciphertexts differ on every
  // write, and being keyed it does not let anyone without the key test
  // guessed ID numbers. Nothing stored depends on it (a rotation changes
  // it). Empty only if OpenSSL fails.
  std::string ContentHash(const std::string& plaintext_bytes) const;

  // Single-value primitives, for callers with personal data outside an
  // event. `path` is bound into the MAC and must be the same on both sides.
  Result<std::string> EncryptValue(std::string_view path, std::string_view plaintext) const;
  Result<std::string> DecryptValue(std::string_view path, std::string_view value) const;
  // The value encrypted again under the current key, or nullopt if it is
  // under it already. Fails like DecryptValue.
  Result<std::optional<std::string>> RekeyValue(std::string_view path, std::string_view value) const;

 private:
  using Key16 = std::array<std::uint8_t, 16>;
  using Key32 = std::array<std::uint8_t, 32>;
  struct Key {
    std::string id;
    Key16 enc{};
    Key32 mac{};
    Key32 hash{};
  };
  FieldCipher() = default;
  const Key* Find(std::string_view key_id) const;
  // The plaintext of `value` and the id of the key that wrote it.
  Result<std::pair<std::string, std::string>> Open(std::string_view path, std::string_view value) const;

  std::vector<Key> keys_;  // never empty: keys_[0] is the current key
};

}  // namespace yilian::security
