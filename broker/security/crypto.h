// Thin wrappers over OpenSSL 3 (HMAC-SM3, SM4-CBC, CSPRNG) and a strict
// base64 codec, for the security module (field_cipher.cc) and the audit
// anchors (audit/anchor.cc).
// Byte strings are std::string. Pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace yilian::security::crypto {

inline constexpr std::size_t kSm4KeyBytes = 16;
inline constexpr std::size_t kSm4BlockBytes = 16;
inline constexpr std::size_t kSm3Bytes = 32;

// HMAC-SM3 of the concatenation of `parts` under `key`; nullopt if OpenSSL
// fails.
std::optional<std::string> HmacSm3(std::string_view key, std::initializer_list<std::string_view> parts);

// SM4-CBC with PKCS#7 padding; key and iv are 16 bytes. nullopt on failure
// (for decryption: also a bad padding or a length that is not whole blocks).
std::optional<std::string> Sm4CbcEncrypt(std::string_view key, std::string_view iv, std::string_view plaintext);
std::optional<std::string> Sm4CbcDecrypt(std::string_view key, std::string_view iv, std::string_view ciphertext);

// `n` bytes from OpenSSL's CSPRNG; nullopt if it fails.
std::optional<std::string> RandomBytes(std::size_t n);

// Constant-time equality of two byte strings of the same length (false if
// the lengths differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// RFC 4648 base64 with padding. Decode refuses anything that Encode would
// not have produced (other characters, missing or misplaced padding, non-zero
// trailing bits), so one value has exactly one encoding.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

std::string HexEncode(std::string_view bytes);
// Either case; nullopt on odd length or a non-hex character.
std::optional<std::string> HexDecode(std::string_view hex);

// Overwrites the buffer (OPENSSL_cleanse), for key material.
void Wipe(void* data, std::size_t size);

}  // namespace yilian::security::crypto
