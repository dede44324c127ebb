// Properties every fuzz target checks on validation results: whatever the
// input, error texts are valid UTF-8 (they travel in proto3 strings of a
// PublishAck, which a client could not decode otherwise) and never quote a
// person's ID or phone number in full. A violated property aborts, which
// libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "validation/validation.h"
#include "yilian/v1/event.pb.h"

namespace yilian::fuzz {

[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

// A value that masking must never let through whole: 11 or more digits,
// optionally with a leading '+' or a trailing 'X'.
inline bool LooksLikePersonalNumber(std::string_view v) {
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  if (!v.empty() && v.back() == 'X') v.remove_suffix(1);
  if (v.size() < 11) return false;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

inline void CheckErrors(const v1::EnterpriseEvent& event, const std::vector<validation::FieldError>& errors) {
  std::vector<std::string> secrets;
  for (const v1::Person* p : {&event.enterprise().legal_representative(), &event.enterprise().contact()}) {
    if (LooksLikePersonalNumber(p->id_number())) secrets.push_back(p->id_number());
    if (LooksLikePersonalNumber(p->phone())) secrets.push_back(p->phone());
  }
  for (const validation::FieldError& e : errors) {
    if (!validation::IsValidUtf8(e.path) || !validation::IsValidUtf8(e.code) ||
        !validation::IsValidUtf8(e.message)) {
      Fail("validation error text is not valid UTF-8");
    }
    if (e.code.empty()) Fail("validation error without a code");
    for (const std::string& s : secrets) {
      if (e.message.find(s) != std::string::npos) Fail("validation error quotes a personal number unmasked");
    }
  }
}

}  // namespace yilian::fuzz
