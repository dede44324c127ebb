// Encryption at rest of the personal fields of an EnterpriseEvent (GB/T
// 39786-2021: ID and phone numbers confidential at rest), with the national
// algorithms from OpenSSL 3: SM4-CBC for confidentiality, HMAC-SM3 for
// integrity (encrypt-then-MAC).
//
// What is encrypted: id_number and phone of enterprise.legal_representative
// and enterprise.contact, old_value/new_value of every FieldChange (free
// text: a shareholders change lists ID and phone numbers), and
// deregistration.reason. Each non-empty value becomes
//   "sm4:" + base64(iv[16] || SM4-CBC ciphertext (PKCS#7) || mac[32])
// with a fresh random IV per value and
//   mac = HMAC-SM3(mac_key, "yilian-field-v1" || 0x00 || path || 0x00 || iv || ciphertext)
// where path names the field without indexes ("enterprise.contact.phone",
// "changes.old_value"), so a value cannot be moved to another field. The
// result is ASCII, so it stays a valid proto3 string. Names, addresses and
// the rest of the event stay in clear (routing, validation and the operator
// views need them).
//
// Keys. One 32-byte master key, kept as 64 hex characters in a key file:
//   - generate one with GenerateKeyHex() (`yilian` exposes it as a command
//     where wired) and write it to a file of mode 0600 owned by the broker's
//     user; a trailing newline is allowed. LoadKeyFile refuses a file that
//     group or others may read or write, and anything but 64 hex characters.
//   - three keys are derived from it with HMAC-SM3(master, label): the SM4
//     key (first 16 bytes of label "yilian sm4 field key v1"), the MAC key
//     ("yilian hmac field key v1") and the content-hash key ("yilian content
//     hash key v1"), so no key is used for two purposes.
//   - losing the key loses every encrypted value for good; back it up apart
//     from the database.
//   - key rotation is NOT supported yet: values carry no key id, and a store
//     can only be read with the key that wrote it. A rotation would add a key
//     id to the format ("sm4:<id>:...") and re-encrypt.
//
// Errors: a value that has the "sm4:" prefix but does not decode, or whose
// MAC does not verify (tampered, or another key), fails with kCorruption
// naming the field path only; the event is left unchanged. Error texts never
// contain plaintext or key material.
//
// Thread safety: a FieldCipher is immutable after construction; all const
// methods may be called from any number of threads at once. Copies share
// nothing mutable. Key bytes are wiped when an instance is destroyed.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "yilian/v1/event.pb.h"

namespace yilian::security {

class FieldCipher {
 public:
  // The prefix marking an encrypted value.
  static constexpr std::string_view kPrefix = "sm4:";

  // Reads a key file (see above). Errors name the path, never the content.
  static Result<FieldCipher> LoadKeyFile(const std::string& path);
  // 64 hex characters (either case), nothing else.
  static Result<FieldCipher> FromKeyHex(std::string_view hex64);
  // A new random master key as 64 lower-case hex characters, from OpenSSL's
  // CSPRNG. Empty if the CSPRNG fails (it does not on a working system).
  static std::string GenerateKeyHex();

  FieldCipher(const FieldCipher&) = default;
  FieldCipher& operator=(const FieldCipher&) = default;
  ~FieldCipher();

  // Encrypts the personal values in place. Fails with kInvalidArgument if a
  // value to encrypt already starts with "sm4:" (encrypting twice, or input
  // trying to pass for ciphertext), kInternal if OpenSSL fails; on failure
  // the event is unchanged.
  Status EncryptPersonal(v1::EnterpriseEvent* event) const;
  // Reverses EncryptPersonal. Values without the "sm4:" prefix are left as
  // they are (stores written before encryption was enabled). On failure the
  // event is unchanged.
  Status DecryptPersonal(v1::EnterpriseEvent* event) const;

  // Lower-case hex HMAC-SM3 (64 characters) of `plaintext_bytes` under the
  // content-hash key: equal plaintext encodings give equal hashes, so it
  // detects duplicates although ciphertexts differ on every write, and being
  // keyed it does not let anyone without the key test guessed ID numbers.
  // Empty only if OpenSSL fails.
  std::string ContentHash(const std::string& plaintext_bytes) const;

  // Single-value primitives, for callers with personal data outside an
  // event. `path` is bound into the MAC and must be the same on both sides.
  Result<std::string> EncryptValue(std::string_view path, std::string_view plaintext) const;
  Result<std::string> DecryptValue(std::string_view path, std::string_view value) const;

 private:
  using Key16 = std::array<std::uint8_t, 16>;
  using Key32 = std::array<std::uint8_t, 32>;
  FieldCipher() = default;

  Key16 enc_key_{};
  Key32 mac_key_{};
  Key32 hash_key_{};
};

}  // namespace yilian::security
