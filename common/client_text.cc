#include "common/client_text.h"

#include <algorithm>

#include "common/mask.h"

namespace yilian {
namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026
constexpr char kHex[] = "0123456789abcdef";

// The length of the well-formed UTF-8 sequence at text[i] (Unicode table
// 3-7) and its code point; 0 if the byte there does not start one.
std::size_t DecodeUtf8(std::string_view text, std::size_t i, char32_t* cp) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  std::size_t n = 0;
  unsigned char low = 0x80, high = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) low = 0xA0;   // overlong
    if (c == 0xED) high = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) low = 0x90;   // overlong
    if (c == 0xF4) high = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  char32_t value = c & (0xFF >> (n + 1));
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    value = (value << 6) | (byte(i + k) & 0x3F);
  }
  *cp = value;
  return n;
}

// Code points that are valid but must not reach a reader as they are.
bool MustEscape(char32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void AppendByteEscape(unsigned char b, std::string* out) {
  switch (b) {
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    default:
      *out += "\\x";
      *out += kHex[b >> 4];
      *out += kHex[b & 0xF];
  }
}

void AppendCodePointEscape(char32_t cp, std::string* out) {
  *out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) *out += kHex[(cp >> shift) & 0xF];
}

}  // namespace

std::string ClientText(std::string_view text, std::size_t max_bytes) {
  // Most client text (references, agency ids, reasons) is short printable
  // ASCII: nothing to escape or cut, only numbers to mask (which never
  // makes a text longer).
  if (text.size() <= max_bytes &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7F && c != '\\'; }))
    return ScrubPersonalData(text);
  // Masked first, on the text as sent: an escape ending in digits (\x01)
  // must not join a phone number's digits into a run the masking skips.
  const std::string scrubbed = ScrubPersonalData(text);
  const std::string_view in = scrubbed;
  const std::size_t room = max_bytes >= kEllipsis.size() ? max_bytes - kEllipsis.size() : max_bytes;
  std::string out;
  out.reserve(std::min(in.size(), max_bytes) + 8);
  std::size_t fits = 0;  // output size at the last boundary within `room`
  for (std::size_t i = 0; i < in.size();) {
    char32_t cp = 0;
    const std::size_t n = DecodeUtf8(in, i, &cp);
    if (n == 0) {
      AppendByteEscape(static_cast<unsigned char>(in[i]), &out);
      i += 1;
    } else if (cp < 0x80 && MustEscape(cp)) {
      AppendByteEscape(static_cast<unsigned char>(cp), &out);
      i += 1;
    } else if (MustEscape(cp)) {
      AppendCodePointEscape(cp, &out);
      i += n;
    } else if (cp == '\\') {
      out += "\\\\";
      i += 1;
    } else {
      out.append(in.substr(i, n));
      i += n;
    }
    if (out.size() <= room) {
      fits = out.size();
    } else if (out.size() > max_bytes) {
      // Too long whatever follows: cut at the last boundary that leaves
      // room for the marker.
      out.resize(fits);
      if (max_bytes >= kEllipsis.size()) out += kEllipsis;
      return out;
    }
  }
  return out;
}

}  // namespace yilian
