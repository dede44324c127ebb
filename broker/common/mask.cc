#include "common/mask.h"

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

std::string ScrubPersonalData(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!IsDigit(text[i])) {
      out.push_back(text[i]);
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && IsDigit(text[j])) ++j;
    size_t run = j - i;
    // A trailing X/x completes an 18-character resident ID.
    bool x_tail = run == 17 && j < text.size() && (text[j] == 'X' || text[j] == 'x');
    if (x_tail) ++j, ++run;
    std::string_view token = text.substr(i, j - i);
    // Letters next to the number do not make it safe to print: "ID" or
    // "tel" glued to a number is common in free text, and a false positive
    // only hides a few digits of some other code.
    if (run == 18 || run == 15) {
      out += MaskIdNumber(token);
    } else if (run == 11 && token[0] == '1') {
      out += MaskPhone(token);
    } else if (run == 13 && token.substr(0, 3) == "861") {
      // A mobile number with the country code, "+86138..." or "86138...".
      out += MaskPhone(token);
    } else {
      out.append(token);
    }
    i = j;
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
