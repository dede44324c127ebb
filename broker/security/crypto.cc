#include "security/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>
#include <memory>

namespace yilian::security::crypto {
namespace {

// Fetched once (thread-safe static initialisation) and shared: fetched
// algorithm objects are immutable and usable from any thread.
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

const EVP_CIPHER* Sm4CbcAlgorithm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "SM4-CBC", nullptr);
  return cipher;
}

using MacCtx = std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::optional<std::string> RunSm4Cbc(bool encrypt, std::string_view key, std::string_view iv, std::string_view in) {
  if (Sm4CbcAlgorithm() == nullptr || key.size() != kSm4KeyBytes || iv.size() != kSm4BlockBytes) return std::nullopt;
  if (!encrypt && (in.empty() || in.size() % kSm4BlockBytes != 0)) return std::nullopt;
  if (in.size() > static_cast<std::size_t>(INT32_MAX) - kSm4BlockBytes) return std::nullopt;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx || EVP_CipherInit_ex2(ctx.get(), Sm4CbcAlgorithm(), Bytes(key), Bytes(iv), encrypt ? 1 : 0, nullptr) != 1) {
    return std::nullopt;
  }
  std::string out(in.size() + kSm4BlockBytes, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int n1 = 0;
  int n2 = 0;
  if (EVP_CipherUpdate(ctx.get(), dst, &n1, Bytes(in), static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), dst + n1, &n2) != 1) {
    Wipe(out.data(), out.size());
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(n1) + static_cast<std::size_t>(n2));
  return out;
}

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> HmacSm3(std::string_view key, std::initializer_list<std::string_view> parts) {
  if (HmacAlgorithm() == nullptr) return std::nullopt;
  MacCtx ctx(EVP_MAC_CTX_new(HmacAlgorithm()), EVP_MAC_CTX_free);
  char digest[] = "SM3";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), Bytes(key), key.size(), params) != 1) return std::nullopt;
  for (std::string_view part : parts) {
    if (EVP_MAC_update(ctx.get(), Bytes(part), part.size()) != 1) return std::nullopt;
  }
  std::string out(kSm3Bytes, '\0');
  std::size_t len = 0;
  if (EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) != 1 ||
      len != kSm3Bytes) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> Sm4CbcEncrypt(std::string_view key, std::string_view iv, std::string_view plaintext) {
  return RunSm4Cbc(true, key, iv, plaintext);
}

std::optional<std::string> Sm4CbcDecrypt(std::string_view key, std::string_view iv, std::string_view ciphertext) {
  return RunSm4Cbc(false, key, iv, ciphertext);
}

std::optional<std::string> RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > static_cast<std::size_t>(INT32_MAX) ||
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return std::nullopt;
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int v[4];
    for (int k = 0; k < 4; ++k) {
      bool is_pad = last && k >= 4 - static_cast<int>(pad);
      v[k] = is_pad ? 0 : Base64Value(text[i + k]);
      if (v[k] < 0) return std::nullopt;
    }
    unsigned bits = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
    out.push_back(static_cast<char>((bits >> 16) & 255));
    if (!(last && pad == 2)) out.push_back(static_cast<char>((bits >> 8) & 255));
    if (!(last && pad >= 1)) out.push_back(static_cast<char>(bits & 255));
    // Canonical form: the bits the padding leaves unused must be zero.
    if (last && pad == 2 && (bits & 0xFFFF) != 0) return std::nullopt;
    if (last && pad == 1 && (bits & 0xFF) != 0) return std::nullopt;
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      Wipe(out.data(), out.size());
      return std::nullopt;
    }
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

void Wipe(void* data, std::size_t size) {
  if (size > 0) OPENSSL_cleanse(data, size);
}

}  // namespace yilian::security::crypto
