// Validation of EnterpriseEvent: every problem reported with the field path,
// a stable code and a message (personal data masked). Used by the broker on
// publish and by `yilian validate`.
// Pure functions over their arguments, safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "yilian/v1/event.pb.h"

namespace yilian::validation {

struct FieldError {
  std::string path;     // e.g. "enterprise.legal_representative.id_number"
  std::string code;     // e.g. "REQUIRED", "CHECK_DIGIT", "TOO_LONG"
  std::string message;  // human-readable, no unmasked personal data
};

struct Options {
  // Size of the whole event in its binary (Protobuf) encoding.
  std::size_t max_event_bytes = 64 * 1024;
  // Default upper bound on any string field, in bytes (UTF-8).
  std::size_t max_string_bytes = 512;
  // Upper bound for business_scope, which is long in practice.
  std::size_t max_scope_bytes = 4096;
  std::size_t max_changes = 64;
  // When false, a USCC with a wrong check character is accepted (historic
  // codes); the caller must log that the override is in effect.
  bool strict_uscc_checksum = true;
  // Set when the event was decoded from the Protobuf wire format, whose
  // parser already refuses invalid UTF-8 in proto3 string fields; the text
  // pass then skips its own UTF-8 scan. Leave false for events built in
  // memory.
  bool utf8_already_verified = false;
};

// All problems found, in field order; empty means valid.
std::vector<FieldError> Validate(const yilian::v1::EnterpriseEvent& event, const Options& options = {});

// GB 32100-2015: 18 characters from "0123456789ABCDEFGHJKLMNPQRTUWXY" with a
// correct check character.
bool IsValidUscc(std::string_view uscc);
// The check character for the first 17 characters, or '\0' if they contain a
// character outside the set or are not 17 long.
char UsccCheckCharacter(std::string_view first17);

// GB 11643-1999: 17 digits + check character (0-9 or X, ISO 7064 MOD 11-2),
// with a plausible birth date.
bool IsValidResidentId(std::string_view id);
char ResidentIdCheckCharacter(std::string_view first17);

bool IsValidUtf8(std::string_view s);

}  // namespace yilian::validation
