// docs/validation.md read as data, for the tests that hold the validator to
// it: the example events (section 3), the rules table (section 4), the error
// codes (section 2), the registered items (section 5) and the check-character
// algorithms with their test vectors (section 6). Loaded once per test binary;
// the result is immutable, so any thread may read it.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "yilian/v1/event.pb.h"

namespace yilian::validation::testing {

// One row of the rules table.
struct DocRule {
  std::string number;
  // Paths as written: "" for the whole event, "*" for every text field.
  std::vector<std::string> paths;
  bool all_types = false;     // "all"
  bool unknown_type = false;  // "missing or unknown type"
  std::set<int> types;        // the EventType values named
  std::string code;
  std::string invalid_example;  // the cell as written
  std::string valid_example;

  bool Wildcard() const { return paths.size() == 1 && paths[0] == "*"; }
  // Whether the rule applies to an event whose `type` holds `type`.
  bool AppliesTo(int type) const;
};

struct UsccAlgorithm {
  std::string charset;       // values are the indexes
  std::vector<int> weights;  // positions 1 to 17
};

struct ResidentIdAlgorithm {
  std::vector<int> weights;      // positions 1 to 17
  std::string check_characters;  // indexed by the weighted sum modulo 11
};

struct CheckVector {
  std::string kind;  // "USCC" or "Resident ID"
  std::string value;
  bool valid = false;
};

struct ValidationDoc {
  std::string problem;  // why reading the document failed; "" when it did not
  std::vector<v1::EnterpriseEvent> examples;
  std::vector<DocRule> rules;
  std::set<std::string> codes;
  std::vector<std::string> items;
  UsccAlgorithm uscc;
  ResidentIdAlgorithm resident_id;
  std::vector<CheckVector> vectors;
  std::string text;  // the whole document
};

const ValidationDoc& TheValidationDoc();

}  // namespace yilian::validation::testing
