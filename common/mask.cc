#include "common/mask.h"

#include <optional>
#include <vector>

namespace yilian {
namespace {

std::string MaskKeeping(std::string_view v, size_t head, size_t tail) {
  if (v.size() <= head + tail) return std::string(v.size(), '*');
  std::string out(v.substr(0, head));
  out.append(v.size() - head - tail, '*');
  out.append(v.substr(v.size() - tail));
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string MaskIdNumber(std::string_view id_number) {
  if (id_number.size() <= 8) return std::string(id_number.size(), '*');
  // Shorter documents (passports, permits): 4 + 4 would show nearly all.
  if (id_number.size() < 15) return MaskKeeping(id_number, 1, 2);
  return MaskKeeping(id_number, 4, 4);
}

std::string MaskPhone(std::string_view phone) {
  if (phone.size() <= 7) return std::string(phone.size(), '*');
  // Landlines and other short numbers: 3 + 4 would show nearly all.
  if (phone.size() < 11) return MaskKeeping(phone, 0, 2);
  return MaskKeeping(phone, 3, 4);
}

namespace {

// A digit of free text at `at`: ASCII or full-width (U+FF10..U+FF19);
// its value in *digit and its length in bytes, or 0.
std::size_t DigitAt(std::string_view t, std::size_t at, char* digit) {
  if (at < t.size() && IsDigit(t[at])) {
    *digit = t[at];
    return 1;
  }
  if (at + 2 < t.size() && static_cast<unsigned char>(t[at]) == 0xEF && static_cast<unsigned char>(t[at + 1]) == 0xBC) {
    const unsigned char c = static_cast<unsigned char>(t[at + 2]);
    if (c >= 0x90 && c <= 0x99) {
      *digit = static_cast<char>('0' + (c - 0x90));
      return 3;
    }
  }
  return 0;
}

// The X that ends a resident ID: X, x, or full-width Ｘ (U+FF38), ｘ (U+FF58).
std::size_t CheckXAt(std::string_view t, std::size_t at) {
  if (at < t.size() && (t[at] == 'X' || t[at] == 'x')) return 1;
  if (at + 2 < t.size() && static_cast<unsigned char>(t[at]) == 0xEF) {
    const unsigned char b = static_cast<unsigned char>(t[at + 1]), c = static_cast<unsigned char>(t[at + 2]);
    if ((b == 0xBC && c == 0xB8) || (b == 0xBD && c == 0x98)) return 3;
  }
  return 0;
}

// One separator people write inside a number: space, hyphen, dot, tab, the
// ideographic space (U+3000), full-width hyphen (U+FF0D) or dot (U+FF0E).
std::size_t SeparatorAt(std::string_view t, std::size_t at) {
  if (at < t.size() && (t[at] == ' ' || t[at] == '-' || t[at] == '.' || t[at] == '\t')) return 1;
  if (at + 2 < t.size()) {
    const unsigned char a = static_cast<unsigned char>(t[at]), b = static_cast<unsigned char>(t[at + 1]),
                        c = static_cast<unsigned char>(t[at + 2]);
    if (a == 0xE3 && b == 0x80 && c == 0x80) return 3;
    if (a == 0xEF && b == 0xBC && (c == 0x8D || c == 0x8E)) return 3;
  }
  return 0;
}

// A run of digits in the text, and the ID's X right after it if any.
struct Group {
  std::size_t begin, end;  // bytes of the text, X included
  std::string digits;      // ASCII digits, then the X as written (full-width: 'X')
};

// The masked form of `digits` when they are an ID or mobile number.
std::optional<std::string> MaskNumber(const std::string& digits) {
  const std::size_t n = digits.size();
  const bool x_tail = n > 0 && (digits.back() == 'X' || digits.back() == 'x');
  if (x_tail) return n == 18 ? std::optional<std::string>(MaskIdNumber(digits)) : std::nullopt;
  if (n == 18 || n == 15) return MaskIdNumber(digits);
  if (n == 11 && digits[0] == '1') return MaskPhone(digits);
  if (n == 13 && digits.compare(0, 3, "861") == 0) return MaskPhone(digits);  // with the country code
  return std::nullopt;
}

}  // namespace

std::string ScrubPersonalData(std::string_view text) {
  // Every number masked has at least 11 digits (a mobile number): a text
  // with fewer digits in all (most reasons and references) stays as it is,
  // without the scan below.
  std::size_t digits = 0;
  char d = 0;
  for (std::size_t i = 0; i < text.size() && digits < 11;) {
    const std::size_t len = DigitAt(text, i, &d);
    digits += len != 0;
    i += len != 0 ? len : 1;
  }
  if (digits < 11) return std::string(text);
  // Groups of digits joined by single separators form a number as written
  // ("138-1234-5678", "+86 138 1234 5678", "110105 19491231 002X"). Of each
  // such chain, the longest stretch of whole groups that is an ID or mobile
  // number is masked (written without its separators); the rest stays.
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    char d = 0;
    if (DigitAt(text, i, &d) == 0) {
      out.push_back(text[i]);
      ++i;
      continue;
    }
    std::vector<Group> chain;
    std::size_t at = i, chain_digits = 0;
    for (;;) {
      Group g{at, at, {}};
      for (std::size_t len; (len = DigitAt(text, at, &d)) != 0; at += len) g.digits.push_back(d);
      chain_digits += g.digits.size();
      // The X of an ID ends its 17 digits, whether in one group or several.
      if (std::size_t x = CheckXAt(text, at); x != 0 && (g.digits.size() == 17 || chain_digits == 17)) {
        g.digits.push_back(x == 1 ? text[at] : 'X');  // a full-width X is written as X
        at += x;
      }
      g.end = at;
      chain.push_back(std::move(g));
      if (!IsDigit(chain.back().digits.back())) break;  // an ID's X ends the number
      const std::size_t sep = SeparatorAt(text, at);
      if (sep == 0 || DigitAt(text, at + sep, &d) == 0) break;
      at += sep;
    }
    std::size_t k = 0;
    while (k < chain.size()) {
      std::optional<std::string> masked;
      std::size_t last = k;
      std::string digits;
      for (std::size_t j = k; j < chain.size() && digits.size() <= 18; ++j) {
        digits += chain[j].digits;
        if (auto m = MaskNumber(digits)) {
          masked = std::move(m);
          last = j;
        }
      }
      const std::size_t next_begin = last + 1 < chain.size() ? chain[last + 1].begin : chain.back().end;
      if (masked) {
        out += *masked;
        out.append(text.substr(chain[last].end, next_begin - chain[last].end));  // the separator after it
        k = last + 1;
      } else {
        out.append(text.substr(chain[k].begin, next_begin - chain[k].begin));
        ++k;
      }
    }
    i = chain.back().end;
  }
  return out;
}

std::string TruncateUtf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t cut = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut));
}

}  // namespace yilian
