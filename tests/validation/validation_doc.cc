#include "validation/validation_doc.h"

#include <cstdlib>
#include <string_view>

#include "testing/doc_tables.h"
#include "validation/json.h"

namespace yilian::validation::testing {
namespace {

namespace doc = yilian::testing;

// The first table of `section` whose header has every column of `columns`.
const doc::Table* FindTable(const std::vector<doc::Table>& tables, const std::vector<std::string>& columns) {
  for (const auto& t : tables) {
    bool all = true;
    for (const auto& c : columns) all = all && t.Column(c) >= 0;
    if (all) return &t;
  }
  return nullptr;
}

std::string Fail(const std::string& where, const std::string& why) {
  return "docs/validation.md, " + where + ": " + why;
}

std::string ReadExamples(const std::string& section, ValidationDoc* d) {
  for (const std::string& block : doc::CodeBlocks(section, "json")) {
    v1::EnterpriseEvent event;
    Status s = json::Parse(block, &event);
    if (!s.ok()) return Fail("section 3", "an example does not parse: " + s.message());
    d->examples.push_back(std::move(event));
  }
  return d->examples.empty() ? Fail("section 3", "no ```json examples") : "";
}

std::string ReadRule(const doc::Table& t, const std::vector<std::string>& row, DocRule* r) {
  auto cell = [&](const char* name) { return row[t.Column(name)]; };
  r->number = cell("#");
  std::string where = "rule " + r->number;
  r->paths = doc::CodeSpans(cell("Path"));
  if (r->paths.empty()) r->paths = {""};

  std::string events = cell("Events");
  if (events == "all") {
    r->all_types = true;
  } else {
    for (const std::string& name : doc::CodeSpans(events)) {
      v1::EventType type;
      if (!v1::EventType_Parse(name, &type)) return Fail(where, "unknown event type '" + name + "'");
      r->types.insert(type);
    }
    std::string words = doc::TextOutsideCodeSpans(events);
    r->unknown_type = words.find("missing or unknown type") != std::string::npos;
    if (r->types.empty()) return Fail(where, "Events names no event type: '" + events + "'");
  }

  std::vector<std::string> code = doc::CodeSpans(cell("Code"));
  if (code.size() != 1) return Fail(where, "Code is not one `CODE`");
  r->code = code[0];
  r->invalid_example = cell("Invalid example");
  r->valid_example = cell("Valid example");
  return "";
}

std::string ReadRules(const std::string& section, ValidationDoc* d) {
  std::vector<doc::Table> tables = doc::Tables(section);
  const doc::Table* t = FindTable(tables, {"#", "Path", "Events", "Rule", "Code", "Invalid example", "Valid example"});
  if (t == nullptr) return Fail("section 4", "no rules table");
  for (const auto& row : t->rows) {
    DocRule rule;
    if (std::string problem = ReadRule(*t, row, &rule); !problem.empty()) return problem;
    d->rules.push_back(std::move(rule));
  }
  return "";
}

std::string ReadCodes(const std::string& section, ValidationDoc* d) {
  const std::vector<doc::Table> tables = doc::Tables(section);
  const doc::Table* t = FindTable(tables, {"Code", "Meaning"});
  if (t == nullptr) return Fail("section 2", "no table of codes");
  for (const auto& row : t->rows) {
    std::vector<std::string> spans = doc::CodeSpans(row[t->Column("Code")]);
    if (spans.size() != 1) return Fail("section 2", "a row without one `CODE`");
    d->codes.insert(spans[0]);
  }
  return "";
}

std::string ReadItems(const std::string& section, ValidationDoc* d) {
  const std::vector<doc::Table> tables = doc::Tables(section);
  const doc::Table* t = FindTable(tables, {"Item", "What changed"});
  if (t == nullptr) return Fail("section 5", "no table of items");
  for (const auto& row : t->rows) {
    std::vector<std::string> spans = doc::CodeSpans(row[t->Column("Item")]);
    if (spans.size() != 1) return Fail("section 5", "a row without one `item`");
    d->items.push_back(spans[0]);
  }
  return "";
}

// The "Weight" row of the "Position" table in `section`.
std::string ReadWeights(const std::string& section, const std::string& where, std::vector<int>* weights) {
  const std::vector<doc::Table> tables = doc::Tables(section);
  const doc::Table* t = FindTable(tables, {"Position", "1", "17"});
  if (t == nullptr) return Fail(where, "no table of weights");
  for (const auto& row : t->rows) {
    if (row[0] != "Weight") continue;
    for (size_t i = 1; i < row.size(); ++i) weights->push_back(std::atoi(row[i].c_str()));
  }
  return weights->size() == 17 ? "" : Fail(where, "not 17 weights");
}

// The only code span of `section` that is `length` characters long.
std::string ReadSpanOfLength(const std::string& section, size_t length, const std::string& where, std::string* out) {
  for (const std::string& span : doc::CodeSpans(section)) {
    if (span.size() != length) continue;
    if (!out->empty() && *out != span) return Fail(where, "two candidate spans of length " + std::to_string(length));
    *out = span;
  }
  return out->empty() ? Fail(where, "no span of length " + std::to_string(length)) : "";
}

std::string ReadVectors(const std::string& section, ValidationDoc* d) {
  const std::vector<doc::Table> tables = doc::Tables(section);
  const doc::Table* t = FindTable(tables, {"Kind", "Value", "Valid"});
  if (t == nullptr) return Fail("section 6.3", "no table of vectors");
  for (const auto& row : t->rows) {
    std::vector<std::string> value = doc::CodeSpans(row[t->Column("Value")]);
    std::string valid = row[t->Column("Valid")];
    if (value.size() != 1 || (valid != "yes" && valid != "no")) return Fail("section 6.3", "a malformed row");
    d->vectors.push_back({row[t->Column("Kind")], value[0], valid == "yes"});
  }
  return "";
}

ValidationDoc Load() {
  ValidationDoc d;
  d.text = doc::ReadTextFile(YILIAN_SOURCE_DIR "/docs/validation.md");
  if (d.text.empty()) {
    d.problem = "cannot read docs/validation.md";
    return d;
  }
  const std::string s61 = doc::Section(d.text, "6.1 ");
  const std::string s62 = doc::Section(d.text, "6.2 ");
  for (std::string problem :
       {ReadExamples(doc::Section(d.text, "3. Example events"), &d), ReadRules(doc::Section(d.text, "4. Rules"), &d),
        ReadCodes(doc::Section(d.text, "2. Error codes"), &d),
        ReadItems(doc::Section(d.text, "5. Registered items"), &d), ReadWeights(s61, "section 6.1", &d.uscc.weights),
        ReadSpanOfLength(s61, 31, "section 6.1", &d.uscc.charset),
        ReadWeights(s62, "section 6.2", &d.resident_id.weights),
        ReadSpanOfLength(s62, 11, "section 6.2", &d.resident_id.check_characters),
        ReadVectors(doc::Section(d.text, "6.3 "), &d)}) {
    if (!problem.empty() && d.problem.empty()) d.problem = problem;
  }
  return d;
}

}  // namespace

bool DocRule::AppliesTo(int type) const {
  if (all_types) return true;
  if (type != v1::EVENT_TYPE_UNSPECIFIED && v1::EventType_IsValid(type)) return types.count(type) > 0;
  return unknown_type;
}

const ValidationDoc& TheValidationDoc() {
  static const ValidationDoc doc = Load();
  return doc;
}

}  // namespace yilian::validation::testing
