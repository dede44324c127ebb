// The one place that masks personal data for logs, error messages and metric
// labels. Every log line or error text that prints enterprise data uses these
// helpers; nothing masks by hand.
// Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace yilian {

// Resident ID and other document numbers of 15 characters or more: keeps
// the first 4 and last 4, e.g. "11010519491231002X" -> "1101**********002X".
// Of 9 to 14 characters (passports, permits): keeps the first 1 and last 2,
// "E12345678" -> "E******78". Of 8 or fewer: fully masked, same length.
std::string MaskIdNumber(std::string_view id_number);

// Phone numbers of 11 characters or more: keeps the first 3 and last 4,
// e.g. "13812345678" -> "138****5678". Of 8 to 10 (landlines): keeps the
// last 2, "12345678" -> "******78". Of 7 or fewer: fully masked.
std::string MaskPhone(std::string_view phone);

// Scrubs free text (an error message, a JSON snippet, an agency's reason) by
// masking every number that looks like a resident ID (17 digits + digit/X,
// or 15 digits) or a mainland mobile number (11 digits starting with 1, or
// 13 starting with 861), as people write them: ASCII or full-width digits,
// grouped by single spaces, hyphens, dots, ideographic spaces or full-width
// hyphens ("+86 138-1234-5678"). A number of several groups is masked as a
// whole and written without its separators.
std::string ScrubPersonalData(std::string_view text);

// At most `max_bytes` of `text`, cut at a UTF-8 character boundary so the
// result stays valid UTF-8 (proto3 string fields must be).
std::string TruncateUtf8(std::string_view text, std::size_t max_bytes);

}  // namespace yilian
