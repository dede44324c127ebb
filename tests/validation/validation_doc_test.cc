// docs/validation.md promises publishers every rule of Validate(): path,
// event types, code, and an invalid and a valid example. These tests read the
// rules from the document and hold the validator to them, in both
// directions:
//  - each rule is enforced: its invalid example, applied to the document's
//    example event of every type the rule names, is reported with the rule's
//    code at the rule's paths, and not for the types it does not name; its
//    valid example passes;
//  - nothing else is enforced: every error the validator reports, for the
//    examples and for single-field mutations of every field of the schema,
//    is explained by a row for that code, path and event type, and every
//    kind of failure met is shown by some row's invalid example;
//  - the codes of the document are the codes the validator defines.
// The validator runs with the broker's default configuration (size limit,
// strict USCC check), but with its own UTF-8 scan on, as for events built in
// memory: on the wire that check is the Protobuf parser's (document, row 2).
#include "validation/validation_doc.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "testing/doc_tables.h"
#include "validation/event_paths.h"
#include "validation/validation.h"

namespace yilian::validation {
namespace {

namespace doc = yilian::testing;
namespace vt = yilian::validation::testing;
using vt::DocRule;

// Field number of the unknown field that pads an event to a size.
constexpr int kPaddingField = 10000;

Options BrokerOptions() {
  const config::BrokerConfig c = config::DefaultConfig();
  Options options;
  options.max_event_bytes = c.max_event_bytes;
  options.strict_uscc_checksum = c.strict_uscc_checksum;
  return options;
}

std::string Show(const std::vector<FieldError>& errors) {
  std::ostringstream out;
  for (const auto& e : errors) out << "\n    " << (e.path.empty() ? "(event)" : e.path) << " " << e.code;
  return errors.empty() ? std::string(" none") : out.str();
}

bool Reports(const std::vector<FieldError>& errors, const std::string& path, const std::string& code) {
  return std::any_of(errors.begin(), errors.end(), [&](const auto& e) { return e.path == path && e.code == code; });
}

// The document's example events, and each again with no type and with an
// unknown type, for the rules that speak of those.
struct Variant {
  std::string name;
  v1::EnterpriseEvent event;
};

std::vector<Variant> Variants() {
  std::vector<Variant> out;
  for (const auto& e : vt::TheValidationDoc().examples) {
    const std::string name = v1::EventType_Name(e.type()) + " example";
    out.push_back({name, e});
    out.push_back({name + " without a type", e});
    out.back().event.set_type(v1::EVENT_TYPE_UNSPECIFIED);
    out.push_back({name + " with type 7", e});
    out.back().event.set_type(static_cast<v1::EventType>(7));
  }
  return out;
}

// True if some row of the document accounts for `error` in an event of `type`.
bool Explained(const FieldError& error, int type) {
  for (const DocRule& r : vt::TheValidationDoc().rules) {
    if (r.code != error.code || !r.AppliesTo(type)) continue;
    if (r.Wildcard()) {
      if (vt::IsStringField(error.path)) return true;
      continue;
    }
    for (const auto& p : r.paths) {
      if (vt::WithoutIndexes(p) == vt::WithoutIndexes(error.path)) return true;
    }
  }
  return false;
}

std::string PadTo(size_t size, v1::EnterpriseEvent* event) {
  const size_t base = event->ByteSizeLong();
  const size_t tag = google::protobuf::io::CodedOutputStream::VarintSize32(kPaddingField << 3);
  for (size_t length_bytes = 1; length_bytes <= 5; ++length_bytes) {
    if (size < base + tag + length_bytes) break;
    size_t data = size - base - tag - length_bytes;
    if (google::protobuf::io::CodedOutputStream::VarintSize64(data) != length_bytes) continue;
    event->GetReflection()->MutableUnknownFields(event)->AddLengthDelimited(kPaddingField, std::string(data, 'x'));
    break;
  }
  return event->ByteSizeLong() == size ? "" : "cannot pad the event to " + std::to_string(size) + " bytes";
}

void SetEntries(size_t count, v1::EnterpriseEvent* event) {
  const auto& items = vt::TheValidationDoc().items;
  event->clear_changes();
  for (size_t i = 0; i < count; ++i) {
    v1::FieldChange* c = event->add_changes();
    c->set_field(items[i % items.size()]);
    c->set_old_value("旧值" + std::to_string(i));
    c->set_new_value("新值" + std::to_string(i));
  }
}

// Applies one example cell of the rules table (notation in the document,
// section 4) to `paths` of `event`. Returns an error text, or "".
std::string ApplyExample(const std::string& cell, const std::vector<std::string>& paths, v1::EnterpriseEvent* event) {
  if (cell == "—") return "";
  const std::vector<std::string> spans = doc::CodeSpans(cell);
  const std::string words = doc::TextOutsideCodeSpans(cell);
  std::smatch m;
  if (spans.empty()) {
    if (words == "absent") {
      for (const auto& p : paths) {
        if (std::string error = vt::ClearPath(p, event); !error.empty()) return error;
      }
      return "";
    }
    if (std::regex_match(words, m, std::regex(R"((\d+) bytes)"))) return PadTo(std::stoul(m[1]), event);
    if (std::regex_match(words, m, std::regex(R"((\d+) entr(y|ies))"))) {
      SetEntries(std::stoul(m[1]), event);
      return "";
    }
    return "unknown example '" + cell + "'";
  }
  size_t times = 1;
  if (std::regex_match(words, m, std::regex(R"(× (\d+))"))) {
    times = std::stoul(m[1]);
  } else if (words.find_first_not_of(", ") != std::string::npos) {
    return "unknown example '" + cell + "'";
  }
  if (spans.size() != 1 && spans.size() != paths.size()) return "example '" + cell + "' does not fit the paths";
  for (size_t i = 0; i < paths.size(); ++i) {
    std::string value;
    const std::string& span = spans.size() == 1 ? spans[0] : spans[i];
    for (size_t k = 0; k < times && span != "\"\""; ++k) value += span;  // `""`: the empty text
    if (std::string error = vt::SetPath(paths[i], value, event); !error.empty()) return error;
  }
  return "";
}

// The path lists a row's examples are applied to in `event`: the row's
// paths, or for a `*` row each text field of the event on its own. A field
// that another row of the same code gives a limit that replaces the `*` one
// (its invalid example passes there) is left out.
std::vector<std::vector<std::string>> Targets(const DocRule& rule, const v1::EnterpriseEvent& event) {
  if (!rule.Wildcard()) return {rule.paths};
  std::set<std::string> own;
  for (const DocRule& r : vt::TheValidationDoc().rules) {
    if (r.code == rule.code && !r.Wildcard()) own.insert(r.paths.begin(), r.paths.end());
  }
  std::vector<std::vector<std::string>> out;
  for (const std::string& p : vt::StringFieldPaths(event)) {
    if (own.count(p)) {
      v1::EnterpriseEvent e = event;
      if (!ApplyExample(rule.invalid_example, {p}, &e).empty() || !Reports(Validate(e, BrokerOptions()), p, rule.code))
        continue;
    }
    out.push_back({p});
  }
  return out;
}

// A field with no rule on its form (only REQUIRED), where the valid
// examples of the `*` rows fit.
bool IsFreeText(const std::string& path) {
  for (const DocRule& r : vt::TheValidationDoc().rules) {
    if (r.Wildcard() || r.code == "REQUIRED") continue;
    for (const auto& p : r.paths) {
      if (vt::WithoutIndexes(p) == vt::WithoutIndexes(path)) return false;
    }
  }
  return true;
}

class ValidationDocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(vt::TheValidationDoc().problem, "");
    ASSERT_FALSE(vt::TheValidationDoc().rules.empty());
  }
};

TEST_F(ValidationDocTest, ExampleEventsAreValidOneOfEachType) {
  std::set<int> types;
  for (const auto& e : vt::TheValidationDoc().examples) {
    EXPECT_TRUE(types.insert(e.type()).second) << "two examples of " << v1::EventType_Name(e.type());
    EXPECT_TRUE(Validate(e, BrokerOptions()).empty()) << e.event_id() << ":" << Show(Validate(e, BrokerOptions()));
  }
  EXPECT_EQ(types, (std::set<int>{v1::ESTABLISHED, v1::CHANGED, v1::FILED, v1::DEREGISTERED}));
}

TEST_F(ValidationDocTest, EachInvalidExampleIsReportedWithItsCodeAtItsPaths) {
  for (const DocRule& rule : vt::TheValidationDoc().rules) {
    int applied = 0;
    for (const Variant& v : Variants()) {
      if (!rule.AppliesTo(v.event.type())) continue;
      for (const auto& paths : Targets(rule, v.event)) {
        SCOPED_TRACE("rule " + rule.number + ", " + v.name);
        v1::EnterpriseEvent e = v.event;
        ASSERT_EQ(ApplyExample(rule.invalid_example, paths, &e), "");
        std::vector<FieldError> errors = Validate(e, BrokerOptions());
        for (const auto& p : paths) {
          EXPECT_TRUE(Reports(errors, p, rule.code)) << "expected " << rule.code << " at '" << p << "' for "
                                                     << rule.invalid_example << "; got" << Show(errors);
        }
        ++applied;
      }
    }
    EXPECT_GT(applied, 0) << "rule " << rule.number << " applies to no example";
  }
}

TEST_F(ValidationDocTest, NoRuleReachesBeyondTheEventsItNames) {
  // For a type the row does not name, its invalid example must not give the
  // row's error, unless a `*` row (a limit on every text field) does.
  for (const DocRule& rule : vt::TheValidationDoc().rules) {
    if (rule.Wildcard()) continue;
    for (const Variant& v : Variants()) {
      if (rule.AppliesTo(v.event.type())) continue;
      v1::EnterpriseEvent e = v.event;
      ASSERT_EQ(ApplyExample(rule.invalid_example, rule.paths, &e), "") << "rule " << rule.number;
      std::vector<FieldError> errors = Validate(e, BrokerOptions());
      for (const auto& p : rule.paths) {
        if (!Reports(errors, p, rule.code)) continue;
        bool by_wildcard = false;
        for (const DocRule& r : vt::TheValidationDoc().rules)
          by_wildcard |= r.Wildcard() && r.code == rule.code && r.AppliesTo(e.type()) && vt::IsStringField(p);
        EXPECT_TRUE(by_wildcard) << "rule " << rule.number << " also applies to the " << v.name << ": " << rule.code
                                 << " at " << p;
      }
    }
  }
}

TEST_F(ValidationDocTest, EachValidExamplePasses) {
  for (const DocRule& rule : vt::TheValidationDoc().rules) {
    for (const Variant& v : Variants()) {
      if (!rule.AppliesTo(v.event.type())) continue;
      const std::vector<FieldError> before = Validate(v.event, BrokerOptions());
      for (const auto& paths : Targets(rule, v.event)) {
        if (rule.Wildcard() && !IsFreeText(paths[0])) continue;
        SCOPED_TRACE("rule " + rule.number + ", " + v.name + ", " + paths[0]);
        v1::EnterpriseEvent e = v.event;
        ASSERT_EQ(ApplyExample(rule.valid_example, paths, &e), "");
        // The variants without a known type keep their own error on `type`.
        EXPECT_EQ(Show(Validate(e, BrokerOptions())), Show(before)) << "valid example " << rule.valid_example;
      }
    }
  }
}

// Events to look for failures the document does not describe: every example
// of every row on every variant, and single-field mutations of every field
// of the schema with values of every kind (each tried where its type fits).
struct Probe {
  std::string where;
  v1::EnterpriseEvent event;
};

const std::vector<Probe>& Probes() {
  static const std::vector<Probe> probes = [] {
    const std::vector<std::string> values = {"absent",
                                             "",
                                             "\\xFF",
                                             "x",
                                             "X9",
                                             "0",
                                             "1",
                                             "99",
                                             "-1",
                                             "99999999999",
                                             std::string(600, 'a'),
                                             std::string(5000, 'a')};
    std::vector<Probe> out;
    for (const Variant& v : Variants()) {
      for (const DocRule& rule : vt::TheValidationDoc().rules) {
        for (const auto& paths : Targets(rule, v.event)) {
          for (const std::string* cell : {&rule.invalid_example, &rule.valid_example}) {
            Probe probe{"rule " + rule.number + " example " + *cell + " at " + paths[0] + ", " + v.name, v.event};
            if (ApplyExample(*cell, paths, &probe.event).empty()) out.push_back(std::move(probe));
          }
        }
      }
      for (const std::string& path : vt::SchemaPaths(3)) {
        for (const std::string& value : values) {
          Probe probe{path + " = '" + value.substr(0, 12) + "', " + v.name, v.event};
          std::string error =
              value == "absent" ? vt::ClearPath(path, &probe.event) : vt::SetPath(path, value, &probe.event);
          if (error.empty()) out.push_back(std::move(probe));
        }
      }
    }
    return out;
  }();
  return probes;
}

TEST_F(ValidationDocTest, EveryErrorMetIsInTheTable) {
  ASSERT_GT(Probes().size(), 1000u);
  for (const Probe& probe : Probes()) {
    for (const FieldError& e : Validate(probe.event, BrokerOptions())) {
      EXPECT_TRUE(Explained(e, probe.event.type()))
          << probe.where << ": " << (e.path.empty() ? "(event)" : e.path) << " " << e.code << " (" << e.message
          << ") is not in the rules table for type " << probe.event.type();
    }
  }
}

// The kind of a failure: the path without indexes, the code, and the shape of
// the message with the values taken out (numbers, quoted characters, masked
// personal data). Messages are not part of the contract; they are used only
// to tell apart rules that share a path and a code.
std::string Kind(const FieldError& e) {
  std::string message;
  std::istringstream words(e.message);
  for (std::string word; words >> word;) {
    if (word.find('*') != std::string::npos) continue;
    message += " " + word;
  }
  message = std::regex_replace(message, std::regex("'[^']*'"), "''");
  message = std::regex_replace(message, std::regex("-?[0-9]+"), "#");
  return vt::WithoutIndexes(e.path) + " " + e.code + message;
}

TEST_F(ValidationDocTest, EveryKindOfFailureHasARowThatShowsIt) {
  // Kinds shown by the rows: each row's invalid example, for the types it
  // names, at its own paths.
  std::set<std::string> shown;
  for (const DocRule& rule : vt::TheValidationDoc().rules) {
    for (const Variant& v : Variants()) {
      if (!rule.AppliesTo(v.event.type())) continue;
      for (const auto& paths : Targets(rule, v.event)) {
        v1::EnterpriseEvent e = v.event;
        ASSERT_EQ(ApplyExample(rule.invalid_example, paths, &e), "");
        for (const FieldError& error : Validate(e, BrokerOptions())) {
          if (error.code == rule.code && std::count(paths.begin(), paths.end(), error.path)) shown.insert(Kind(error));
        }
      }
    }
  }
  std::map<std::string, std::string> met;  // kind -> where
  for (const Probe& probe : Probes()) {
    for (const FieldError& error : Validate(probe.event, BrokerOptions())) met.emplace(Kind(error), probe.where);
  }
  for (const auto& [kind, where] : met) {
    EXPECT_TRUE(shown.count(kind)) << "no row's invalid example shows this failure: " << kind << " (met with " << where
                                   << ")";
  }
}

TEST_F(ValidationDocTest, CodesTableListsExactlyTheCodesTheValidatorDefines) {
  const auto& d = vt::TheValidationDoc();
  std::set<std::string> in_rules;
  for (const DocRule& r : d.rules) in_rules.insert(r.code);
  EXPECT_EQ(in_rules, d.codes) << "every code of section 2 has a rule, and every rule's code is in section 2";

  // The codes the validator can report are its named constants.
  const std::string source = doc::ReadTextFile(YILIAN_SOURCE_DIR "/validation/validation.cc");
  ASSERT_FALSE(source.empty());
  std::set<std::string> defined;
  const std::regex constant(R"re(constexpr std::string_view k\w+ = "([A-Z][A-Z0-9_]*)";)re");
  for (auto it = std::sregex_iterator(source.begin(), source.end(), constant); it != std::sregex_iterator(); ++it)
    defined.insert((*it)[1]);
  EXPECT_FALSE(defined.empty());
  EXPECT_EQ(d.codes, defined);

  // protocol.md names them in step 4 of the publish checks.
  const std::string protocol = doc::ReadTextFile(YILIAN_SOURCE_DIR "/docs/protocol.md");
  std::string step4;
  for (const doc::Table& t : doc::Tables(doc::Section(protocol, "5.2 "))) {
    for (const auto& row : t.rows)
      if (!row.empty() && row[0] == "4") step4 = row.back();
  }
  ASSERT_FALSE(step4.empty()) << "no step 4 in protocol.md section 5.2";
  std::vector<std::string> named = doc::CodeSpans(step4);
  for (const std::string& code : d.codes)
    EXPECT_NE(std::find(named.begin(), named.end(), code), named.end()) << code << " is missing from protocol.md 5.2";
}

TEST_F(ValidationDocTest, RegisteredItemsAreExactlyThoseAChangeMayName) {
  const auto& d = vt::TheValidationDoc();
  const v1::EnterpriseEvent* changed = nullptr;
  for (const auto& e : d.examples)
    if (e.type() == v1::CHANGED) changed = &e;
  ASSERT_NE(changed, nullptr);

  std::set<std::string> candidates(d.items.begin(), d.items.end());
  const auto* enterprise = v1::Enterprise::descriptor();
  for (int i = 0; i < enterprise->field_count(); ++i) candidates.insert(enterprise->field(i)->name());
  candidates.insert({"shareholder", "Name", "uscc", "revision", ""});
  for (const std::string& item : candidates) {
    SCOPED_TRACE("item '" + item + "'");
    v1::EnterpriseEvent e = *changed;
    e.clear_changes();
    v1::FieldChange* c = e.add_changes();
    c->set_field(item);
    c->set_old_value("旧");
    c->set_new_value("新");
    const bool listed = std::find(d.items.begin(), d.items.end(), item) != d.items.end();
    std::vector<FieldError> errors = Validate(e, BrokerOptions());
    if (listed) {
      EXPECT_TRUE(errors.empty()) << Show(errors);
    } else {
      EXPECT_FALSE(errors.empty()) << "accepted, but not in section 5";
    }
  }
}

}  // namespace
}  // namespace yilian::validation
