// The one place that masks personal data for logs, error messages and metric
// labels. Every log line or error text that prints enterprise data uses these
// helpers; nothing masks by hand.
// Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace yilian {

// Resident ID and other document numbers: keeps the first 4 and last 4
// characters, e.g. "11010519491231002X" -> "1101**********002X". Values of 8
// characters or fewer are fully masked with the same length.
std::string MaskIdNumber(std::string_view id_number);

// Phone numbers: keeps the first 3 and last 4 digits, e.g. "13812345678" ->
// "138****5678". Values of 7 characters or fewer are fully masked.
std::string MaskPhone(std::string_view phone);

// Scrubs free text (an error message, a JSON snippet) by masking every run of
// characters that looks like a resident ID number (17 digits + digit/X, or
// 15 digits) or a mainland mobile number (11 digits starting with 1).
std::string ScrubPersonalData(std::string_view text);

// At most `max_bytes` of `text`, cut at a UTF-8 character boundary so the
// result stays valid UTF-8 (proto3 string fields must be).
std::string TruncateUtf8(std::string_view text, std::size_t max_bytes);

}  // namespace yilian
