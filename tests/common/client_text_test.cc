// ClientText stands between what a peer sends and the log, the audit trail
// and the dashboard: the table pins the exact output for each kind of
// character, and a property test holds it to one line of printable UTF-8
// for arbitrary bytes.
#include "common/client_text.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace yilian {
namespace {

using namespace std::string_literals;

struct Case {
  const char* what;
  std::string in;
  std::string out;
};

TEST(ClientText, EscapesWhatCouldForgeOrHideALine) {
  const Case cases[] = {
      {"plain ASCII", "tax-adapter-1", "tax-adapter-1"},
      {"Chinese", "税务局适配器 · 退回", "税务局适配器 · 退回"},
      {"empty", "", ""},
      {"line feed", "a\nb", "a\\nb"},
      {"carriage return", "a\rb", "a\\rb"},
      {"tab", "a\tb", "a\\tb"},
      {"NUL", "a\0b"s, "a\\x00b"},
      {"ESC (ANSI colour)", "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"},
      {"other C0", "\x01\x07\x08\x0b\x0c\x1f", "\\x01\\x07\\x08\\x0b\\x0c\\x1f"},
      {"DEL", "a\x7f", "a\\x7f"},
      {"C1 NEL", "a\u0085b", "a\\u0085b"},
      {"C1 CSI", "\u009b31m", "\\u009b31m"},
      {"no-break space is kept", "a\u00a0b", "a\u00a0b"},
      {"right-to-left override", "abc\u202efed", "abc\\u202efed"},
      {"embeddings and pop", "\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"},
      {"isolates", "\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"},
      {"marks", "\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"},
      {"line and paragraph separators", "a\u2028b\u2029", "a\\u2028b\\u2029"},
      {"neighbours are kept", "\u200d\u202f\u2065\u206a", "\u200d\u202f\u2065\u206a"},
      {"backslash", "C:\\dir", "C:\\\\dir"},
      {"a literal escape stays distinguishable", "\\n", "\\\\n"},
      {"stray continuation byte", "a\x80z", "a\\x80z"},
      {"invalid lead byte", "\xFF\xFE", "\\xff\\xfe"},
      {"truncated sequence", "\xE4\xB8", "\\xe4\\xb8"},
      {"truncated sequence before ASCII", "\xE4\xB8z", "\\xe4\\xb8z"},
      {"overlong slash", "\xC0\xAF", "\\xc0\\xaf"},
      {"overlong three-byte", "\xE0\x80\xAF", "\\xe0\\x80\\xaf"},
      {"surrogate", "\xED\xA0\x80", "\\xed\\xa0\\x80"},
      {"beyond U+10FFFF", "\xF4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},
      {"four-byte character is kept", "\U0001F600", "\U0001F600"},
      {"forged log line", "adapter\n2026-12-06T10:00:00.000+0800 info [broker] forged",
       "adapter\\n2026-12-06T10:00:00.000+0800 info [broker] forged"},
      {"phone and ID are masked", "tel 13812345678 id 11010519491231002X\n",
       "tel 138****5678 id 1101**********002X\\n"},
      {"masked before escaping", "\x01"s + "13812345678", "\\x01138****5678"},
  };
  for (const Case& c : cases) EXPECT_EQ(ClientText(c.in), c.out) << c.what;
}

TEST(ClientText, CutsLongTextAtABoundaryWithAnEllipsis) {
  const std::string ellipsis = "\xE2\x80\xA6";
  struct CutCase {
    const char* what;
    std::string in;
    std::size_t max;
    std::string out;
  };
  const CutCase cases[] = {
      {"fits exactly", std::string(10, 'a'), 10, std::string(10, 'a')},
      {"one byte over", std::string(11, 'a'), 10, std::string(7, 'a') + ellipsis},
      {"escape that fits exactly", "abcdef\n", 8, "abcdef\\n"},
      {"escape not split", "abcde\nxyz", 9, "abcde" + ellipsis},
      {"character not split", "一二三四", 10, "一二" + ellipsis},
      {"escaped bytes count", "\x1b\x1b\x1b", 10, "\\x1b" + ellipsis},
  };
  for (const CutCase& c : cases) EXPECT_EQ(ClientText(c.in, c.max), c.out) << c.what;
  EXPECT_EQ(ClientText(std::string(5000, 'x')).size(), kClientTextMaxBytes);
  EXPECT_EQ(ClientText("abcdef", 2), "ab");  // no room for the marker
  EXPECT_EQ(ClientText("abcdef", 0), "");
}

// Valid UTF-8 with none of the escaped code points, and no raw control byte.
bool Printable(const std::string& s, std::string* why) {
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return *why = "control byte at " + std::to_string(i), false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return *why = "bad lead byte at " + std::to_string(i), false;
    char32_t cp = c & (0xFF >> (n + 1));
    for (std::size_t k = 1; k < n; ++k) {
      unsigned char b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return *why = "bad continuation at " + std::to_string(i + k), false;
      cp = (cp << 6) | (b & 0x3F);
    }
    bool minimal = (n == 2 && cp >= 0x80) || (n == 3 && cp >= 0x800) || (n == 4 && cp >= 0x10000);
    if (!minimal || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return *why = "invalid sequence at " + std::to_string(i), false;
    if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
        (cp >= 0x2066 && cp <= 0x2069))
      return *why = "unescaped code point at " + std::to_string(i), false;
    i += n;
  }
  return true;
}

TEST(ClientText, ArbitraryBytesComeOutAsOnePrintableBoundedLine) {
  std::mt19937 rng(20261206);
  // Bytes weighted towards the interesting ones: controls, lead and
  // continuation bytes, and the pieces of the escaped code points.
  const std::string pieces[] = {
      "\n",   "\r",   "\x1b", "\\",   "a",    "1",  "\xC2",         "\x85",         "\xE2",          "\x80",    "\xAE",
      "\xD8", "\x9C", "\xED", "\xF4", "\xFF", "中", "\xE2\x80\xAE", "\xE2\x81\xA6", " 13812345678 ", "\xC2\x9B"};
  std::uniform_int_distribution<std::size_t> pick(0, std::size(pieces) - 1);
  std::uniform_int_distribution<std::size_t> length(0, 40);
  std::uniform_int_distribution<std::size_t> bound(0, 64);
  for (int round = 0; round < 20000; ++round) {
    std::string in;
    for (std::size_t k = length(rng); k > 0; --k) in += pieces[pick(rng)];
    const std::size_t max = bound(rng);
    const std::string out = ClientText(in, max);
    std::string why;
    ASSERT_TRUE(Printable(out, &why)) << why << " in output of round " << round;
    ASSERT_LE(out.size(), max) << "round " << round;
    ASSERT_EQ(out.find("13812345678"), std::string::npos) << "round " << round;
  }
}

}  // namespace
}  // namespace yilian
