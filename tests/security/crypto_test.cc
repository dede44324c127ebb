// Known-answer tests for the OpenSSL wrappers (SM4 from GB/T 32907-2016,
// SM3 from GB/T 32905-2016, HMAC-SM3 as computed by other implementations)
// and the strict base64 codec (RFC 4648 section 10 vectors).
#include "security/crypto.h"

#include <gtest/gtest.h>

#include <string>

namespace yilian::security::crypto {
namespace {

std::string Hex(const std::string& hex) { return HexDecode(hex).value(); }

TEST(Sm4, StandardVector) {
  // GB/T 32907-2016 appendix A: key = plaintext = 0123...3210. With a zero
  // IV the first CBC block is the ECB block.
  const std::string key = Hex("0123456789abcdeffedcba9876543210");
  auto ct = Sm4CbcEncrypt(key, std::string(16, '\0'), key);
  ASSERT_TRUE(ct.has_value());
  ASSERT_EQ(ct->size(), 32u);  // one block of data + one of PKCS#7 padding
  EXPECT_EQ(HexEncode(ct->substr(0, 16)), "681edf34d206965e86b3e94f536e4246");
  auto pt = Sm4CbcDecrypt(key, std::string(16, '\0'), *ct);
  ASSERT_TRUE(pt.has_value());
  EXPECT_EQ(*pt, key);
}

TEST(Sm4, RefusesBadSizesAndPadding) {
  const std::string key(16, 'k');
  const std::string iv(16, 'i');
  EXPECT_FALSE(Sm4CbcEncrypt(key.substr(1), iv, "x").has_value());
  EXPECT_FALSE(Sm4CbcEncrypt(key, iv.substr(1), "x").has_value());
  EXPECT_FALSE(Sm4CbcDecrypt(key, iv, "").has_value());
  EXPECT_FALSE(Sm4CbcDecrypt(key, iv, std::string(15, 'x')).has_value());
  auto ct = Sm4CbcEncrypt(key, iv, "");
  ASSERT_TRUE(ct.has_value());
  EXPECT_EQ(ct->size(), 16u);
  EXPECT_EQ(Sm4CbcDecrypt(key, iv, *ct).value(), "");
}

TEST(HmacSm3, KnownAnswers) {
  EXPECT_EQ(HexEncode(HmacSm3("key", {"The quick brown fox jumps over the lazy dog"}).value()),
            "bd4a34077888162b210645b8ebf74b9af357303789357a27c7fc457244ebd398");
  // Parts are concatenated.
  EXPECT_EQ(HmacSm3("key", {"The quick brown fox ", "jumps over the lazy dog"}),
            HmacSm3("key", {"The quick brown fox jumps over the lazy dog"}));
  std::string key32;
  for (int i = 0; i < 32; ++i) key32.push_back(static_cast<char>(i));
  EXPECT_EQ(HexEncode(HmacSm3(key32, {"abc"}).value()),
            "a8f95cf26f204957e7ca73c9602a25dda35f168b28103b51dfc968c810416b63");
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"},
                                                         {std::string("\xff\xfe\x00", 3), "//4A"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64, RefusesNonCanonicalInput) {
  for (const char* bad :
       {"Zg=", "Zg", "Z===", "====", "Zh==", "Zm9=", "Zm8=Zm8=", "Zm9v\n", " Zm9v", "Zm-v", "Zm_v", "Zm9vY", "=Zm9"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

TEST(Hex, RoundTripAndErrors) {
  EXPECT_EQ(HexEncode(std::string("\x00\x7f\x80\xff", 4)), "007f80ff");
  EXPECT_EQ(HexDecode("007F80ff").value(), std::string("\x00\x7f\x80\xff", 4));
  EXPECT_FALSE(HexDecode("0").has_value());
  EXPECT_FALSE(HexDecode("0g").has_value());
}

TEST(ConstantTimeEquals, Basics) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace yilian::security::crypto
