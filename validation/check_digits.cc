// Check characters of the two identifiers the broker verifies: the unified
// social credit code (GB 32100-2015) and the resident ID number (GB 11643-1999).
#include <array>
#include <chrono>
#include <string_view>

#include "validation/validation.h"

namespace yilian::validation {
namespace {

// GB 32100-2015 character set; a character's value is its index.
constexpr std::string_view kUsccCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY";
constexpr std::array<int, 17> kUsccWeights = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

// ISO 7064 MOD 11-2 weights (2^(18-i) mod 11) and the check character for
// each remainder.
constexpr std::array<int, 17> kIdWeights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
constexpr std::string_view kIdCheckChars = "10X98765432";

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int ParseDigits(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// Today's date in China (UTC+8), as YYYYMMDD. A birth date after it is not
// plausible; the broker runs in China but its hosts may keep UTC.
int TodayInChina() {
  using namespace std::chrono;
  auto now = system_clock::now() + hours(8);
  year_month_day ymd{floor<days>(now)};
  return static_cast<int>(ymd.year()) * 10000 + static_cast<int>(static_cast<unsigned>(ymd.month())) * 100 +
         static_cast<int>(static_cast<unsigned>(ymd.day()));
}

int UsccCharValue(char c) {
  size_t pos = kUsccCharset.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

bool IsPlausibleBirthDate(std::string_view yyyymmdd) {
  if (yyyymmdd.size() != 8 || !AllDigits(yyyymmdd)) return false;
  int year = ParseDigits(yyyymmdd.substr(0, 4));
  int month = ParseDigits(yyyymmdd.substr(4, 2));
  int day = ParseDigits(yyyymmdd.substr(6, 2));
  // Resident IDs were first issued in 1984 to people then living; 1800 keeps
  // historic records (e.g. the GB 11643 sample 440524188001010014) valid.
  if (year < 1800) return false;
  std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                  std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return false;
  return year * 10000 + month * 100 + day <= TodayInChina();
}

}  // namespace

char UsccCheckCharacter(std::string_view first17) {
  if (first17.size() != 17) return '\0';
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    int v = UsccCharValue(first17[i]);
    if (v < 0) return '\0';
    sum += v * kUsccWeights[i];
  }
  int check = 31 - sum % 31;
  return kUsccCharset[check == 31 ? 0 : check];
}

bool IsValidUscc(std::string_view uscc) {
  if (uscc.size() != 18) return false;
  char expected = UsccCheckCharacter(uscc.substr(0, 17));
  return expected != '\0' && uscc[17] == expected;
}

char ResidentIdCheckCharacter(std::string_view first17) {
  if (first17.size() != 17 || !AllDigits(first17)) return '\0';
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) sum += (first17[i] - '0') * kIdWeights[i];
  return kIdCheckChars[sum % 11];
}

bool IsValidResidentId(std::string_view id) {
  if (id.size() != 18) return false;
  char expected = ResidentIdCheckCharacter(id.substr(0, 17));
  return expected != '\0' && id[17] == expected && IsPlausibleBirthDate(id.substr(6, 8));
}

}  // namespace yilian::validation
