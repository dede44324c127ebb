// SM3 digests: the GB/T 32905-2016 test vectors, piecewise hashing, and the
// background hasher the broker uses for its audit records.
#include "common/digest.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace yilian {
namespace {

constexpr const char* kAbc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";
constexpr const char* kAbcd16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732";

std::string Abcd16() {
  std::string s;
  for (int i = 0; i < 16; ++i) s += "abcd";
  return s;
}

std::string RandomText(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(Sm3, StandardTestVectors) {
  EXPECT_EQ(Sm3Hex("abc"), kAbc);
  EXPECT_EQ(Sm3Hex(Abcd16()), kAbcd16);
}

TEST(Sm3, PiecesGiveTheDigestOfTheWholeAndHexDigestStartsAgain) {
  Sm3 sm3;
  sm3.Update("a");
  sm3.Update("");
  sm3.Update("bc");
  EXPECT_EQ(sm3.HexDigest(), kAbc);
  const std::string text = Abcd16();
  for (std::size_t cut = 0; cut <= text.size(); cut += 7) {
    sm3.Update(std::string_view(text).substr(0, cut));
    sm3.Update(std::string_view(text).substr(cut));
    EXPECT_EQ(sm3.HexDigest(), kAbcd16) << "cut at " << cut;
  }
}

TEST(BackgroundSm3, DigestOfAllPiecesInOrder) {
  BackgroundSm3 hasher;
  const std::string text = RandomText(100000, 7);
  hasher.Start(text.substr(0, 10));
  for (std::size_t at = 10; at < text.size(); at += 4093) hasher.Add(text.substr(at, 4093));
  EXPECT_EQ(hasher.Finish(), Sm3Hex(text));
  // And again with the same hasher: each digest starts afresh.
  hasher.Start("a");
  hasher.Add("bc");
  EXPECT_EQ(hasher.Finish(), kAbc);
}

TEST(BackgroundSm3, AbandonedDigestLeavesNoTrace) {
  BackgroundSm3 hasher;
  hasher.Start(RandomText(50000, 1));
  hasher.Add(RandomText(50000, 2));
  hasher.Abandon();
  hasher.Add("ignored: no digest is in progress");
  EXPECT_EQ(hasher.Finish(), "");
  hasher.Start("ab");
  hasher.Add("c");
  EXPECT_EQ(hasher.Finish(), kAbc);
  // A Start() while a digest is in progress drops it, too.
  hasher.Start(RandomText(50000, 3));
  hasher.Start(Abcd16());
  EXPECT_EQ(hasher.Finish(), kAbcd16);
}

}  // namespace
}  // namespace yilian
