// docs/configuration.md tells operators and client authors what the broker's
// configuration file looks like: its YAML shape, every key with its default
// and bounds, the schema of an `agencies` entry and the default agencies.
// These tests read the document and hold the configuration module to it:
// the keys are those `yilian-broker --help-config` prints (DescribeKeys),
// with the same defaults and bounds, also in protocol.md section 12; the
// complete example loads and holds every key at its documented default; the
// nested and dotted forms load alike; the agency fields, their defaults and
// bounds are what the loader takes; the default agencies are DefaultConfig's.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "testing/doc_tables.h"

namespace yilian::config {
namespace {

namespace doc = yilian::testing;

const std::string& ConfigDoc() {
  static const std::string text = doc::ReadTextFile(YILIAN_SOURCE_DIR "/docs/configuration.md");
  return text;
}

// The first table of `section` with every column of `columns`, or an empty one.
doc::Table FindTable(const std::string& section, const std::vector<std::string>& columns) {
  for (doc::Table& t : doc::Tables(section)) {
    bool all = true;
    for (const auto& c : columns) all = all && t.Column(c) >= 0;
    if (all) return t;
  }
  return {};
}

// The only code span of a cell, or the cell's text when it has none.
std::string CellValue(const std::string& cell) {
  std::vector<std::string> spans = doc::CodeSpans(cell);
  return spans.size() == 1 ? spans[0] : cell;
}

struct KeyInfo {
  std::string default_text;
  std::string bounds;
};

// What `yilian-broker --help-config` prints: "name" on its own line, then
// "    default D, bounds B" and "    description".
std::map<std::string, KeyInfo> DescribedKeys() {
  std::map<std::string, KeyInfo> keys;
  std::istringstream lines(DescribeKeys());
  std::string line, current;
  const std::regex detail(R"(    default (.*), bounds (.*))");
  for (std::smatch m; std::getline(lines, line);) {
    if (!line.empty() && line[0] != ' ') {
      current = line;
      keys[current];
    } else if (std::regex_match(line, m, detail)) {
      keys[current] = {m[1], m[2]};
    }
  }
  return keys;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string Describe(const AgencyConfig& a) {
  std::vector<std::string> events;
  for (auto e : a.events) events.push_back(v1::EventType_Name(e));
  return a.id + " events [" + Join(events) + "] changed_fields [" + Join(a.changed_fields) + "] deadline_ms " +
         std::to_string(a.deadline_ms) + " fields [" + Join(a.fields) + "]";
}

std::vector<std::string> Describe(const std::vector<AgencyConfig>& agencies) {
  std::vector<std::string> out;
  for (const auto& a : agencies) out.push_back(Describe(a));
  return out;
}

// Every scalar of a configuration file under its dotted key, as the document
// says the file maps to keys ("agencies" left out).
// A value as --help-config writes its default: a scalar as it is, a list
// in flow form ("[]", "[a, b]").
std::string ValueText(const YAML::Node& n) {
  if (!n.IsSequence()) return n.Scalar();
  std::string text = "[";
  for (std::size_t i = 0; i < n.size(); ++i) text += (i ? ", " : "") + n[i].Scalar();
  return text + "]";
}

// "a: {b: {c: 1}}" as {"a.b.c": "1"}, at any depth.
void FlattenInto(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>* out) {
  for (const auto& kv : node) {
    const std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    if (key == "agencies") continue;
    if (kv.second.IsMap()) {
      FlattenInto(kv.second, key, out);
    } else {
      (*out)[key] = ValueText(kv.second);
    }
  }
}

std::map<std::string, std::string> Flatten(const YAML::Node& root) {
  std::map<std::string, std::string> out;
  FlattenInto(root, "", &out);
  return out;
}

class ConfigDocTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(ConfigDoc().empty()) << "cannot read docs/configuration.md"; }
};

TEST_F(ConfigDocTest, KeysTableIsWhatHelpConfigPrints) {
  const std::map<std::string, KeyInfo> described = DescribedKeys();
  ASSERT_GT(described.size(), 20u);
  doc::Table t = FindTable(doc::Section(ConfigDoc(), "2. Keys"), {"Key", "Default", "Bounds", "Description"});
  ASSERT_FALSE(t.rows.empty()) << "no keys table in section 2";

  std::set<std::string> in_doc;
  for (const auto& row : t.rows) {
    const std::string key = CellValue(row[t.Column("Key")]);
    EXPECT_TRUE(in_doc.insert(key).second) << key << " twice";
    auto it = described.find(key);
    if (it == described.end()) {
      ADD_FAILURE() << key << " is in the document but not a configuration key";
      continue;
    }
    if (key == "agencies") continue;  // a list, section 3; its default is checked there
    EXPECT_EQ(CellValue(row[t.Column("Default")]), it->second.default_text) << key;
    EXPECT_EQ(CellValue(row[t.Column("Bounds")]), it->second.bounds) << key;
  }
  for (const auto& [key, info] : described) EXPECT_TRUE(in_doc.count(key)) << key << " is missing from section 2";
}

TEST_F(ConfigDocTest, ProtocolSection12AgreesOnDefaults) {
  const std::map<std::string, KeyInfo> described = DescribedKeys();
  const std::string protocol = doc::ReadTextFile(YILIAN_SOURCE_DIR "/docs/protocol.md");
  doc::Table t = FindTable(doc::Section(protocol, "12. "), {"Key", "Default"});
  ASSERT_FALSE(t.rows.empty()) << "no table in protocol.md section 12";
  for (const auto& row : t.rows) {
    const std::string key = CellValue(row[t.Column("Key")]);
    ASSERT_TRUE(described.count(key)) << key << " in protocol.md is not a configuration key";
    if (key == "agencies") continue;
    // protocol.md writes "—" for no value and may explain a value in brackets.
    std::string value = CellValue(row[t.Column("Default")]);
    value = std::regex_replace(value, std::regex(R"( \(.*\)$)"), "");
    if (value == "—") value = "\"\"";
    EXPECT_EQ(value, described.at(key).default_text) << key << " in protocol.md section 12";
  }
}

TEST_F(ConfigDocTest, CompleteExampleLoadsWithEveryKeyAtItsDefault) {
  std::vector<std::string> blocks = doc::CodeBlocks(doc::Section(ConfigDoc(), "1.1 "), "yaml");
  ASSERT_EQ(blocks.size(), 1u) << "section 1.1 has one yaml block";
  auto loaded = ParseConfig(blocks[0], "configuration.md 1.1");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();

  const std::map<std::string, std::string> example = Flatten(YAML::Load(blocks[0]));
  for (const auto& [key, info] : DescribedKeys()) {
    if (key == "agencies") continue;
    auto it = example.find(key);
    if (it == example.end()) {
      ADD_FAILURE() << key << " is missing from the complete example";
      continue;
    }
    // Paths whose default is "none" are the ones a deployment sets.
    if (info.default_text != "\"\"") {
      EXPECT_EQ(it->second, info.default_text) << key;
    }
  }
  for (const auto& [key, value] : example) EXPECT_TRUE(DescribedKeys().count(key)) << key << " is not a key";
  // "the default agencies written out"
  EXPECT_EQ(Describe(loaded->agencies), Describe(DefaultConfig().agencies));
}

TEST_F(ConfigDocTest, NestedAndDottedFormsAreTheSameConfiguration) {
  std::vector<std::string> blocks = doc::CodeBlocks(doc::Section(ConfigDoc(), "1. The file"), "yaml");
  ASSERT_GE(blocks.size(), 2u);
  const std::string& nested = blocks[0];
  const std::string& dotted = blocks[1];
  auto a = ParseConfig(nested, "nested");
  auto b = ParseConfig(dotted, "dotted");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(Flatten(YAML::Load(nested)), Flatten(YAML::Load(dotted)));
  EXPECT_NE(dotted.find("heartbeat.interval_ms:"), std::string::npos) << "the second form uses dotted keys";
  EXPECT_EQ(a->heartbeat_interval_ms, b->heartbeat_interval_ms);
  EXPECT_EQ(a->heartbeat_liveness, b->heartbeat_liveness);
  EXPECT_EQ(a->strict_uscc_checksum, b->strict_uscc_checksum);
  EXPECT_EQ(a->listen, b->listen);
  // Neither is the default: the example shows keys actually set.
  EXPECT_NE(a->heartbeat_interval_ms, DefaultConfig().heartbeat_interval_ms);
}

// One `agencies` entry as YAML: `id: x` and the given extra line.
std::string AgencyYaml(const std::string& id, const std::string& extra = "") {
  return "agencies:\n  - id: \"" + id + "\"\n" + (extra.empty() ? "" : "    " + extra + "\n");
}

TEST_F(ConfigDocTest, AgencyEntryFieldsDefaultsAndBoundsAreTheLoaders) {
  doc::Table t = FindTable(doc::Section(ConfigDoc(), "3.1 "), {"Field", "Type", "Default", "Bounds", "Meaning"});
  ASSERT_FALSE(t.rows.empty()) << "no table in section 3.1";

  // The loader names the fields it takes when it refuses another one.
  auto refused = ParseConfig(AgencyYaml("x", "colour: red"));
  ASSERT_FALSE(refused.ok());
  std::smatch m;
  const std::string message = refused.status().message();
  ASSERT_TRUE(std::regex_search(message, m, std::regex(R"(\(([a-z_|]+)\))"))) << message;
  std::set<std::string> taken;
  std::istringstream names(m[1].str());
  for (std::string name; std::getline(names, name, '|');) taken.insert(name);

  auto bare = ParseConfig(AgencyYaml("x"));
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  const AgencyConfig& a = bare->agencies.at(0);
  const std::map<std::string, std::string> defaults = {
      {"events", a.events.empty() ? "[]" : "not empty"},
      {"changed_fields", a.changed_fields.empty() ? "[]" : "not empty"},
      {"deadline_ms", std::to_string(a.deadline_ms)},
      {"fields", a.fields.empty() ? "[]" : "not empty"}};

  std::set<std::string> in_doc;
  for (const auto& row : t.rows) {
    const std::string field = CellValue(row[t.Column("Field")]);
    in_doc.insert(field);
    SCOPED_TRACE(field);
    const std::string def = CellValue(row[t.Column("Default")]);
    if (field == "id") {
      EXPECT_EQ(def, "—") << "id has no default: it is required";
      EXPECT_FALSE(ParseConfig("agencies:\n  - events: [ESTABLISHED]\n").ok());
    } else {
      ASSERT_TRUE(defaults.count(field));
      EXPECT_EQ(def, defaults.at(field));
    }
  }
  EXPECT_EQ(in_doc, taken);

  // Bounds written as numbers are the loader's.
  for (const auto& row : t.rows) {
    const std::string field = CellValue(row[t.Column("Field")]);
    const std::string bounds = row[t.Column("Bounds")];
    if (std::regex_search(bounds, m, std::regex(R"(`\[(\d+), (\d+)\]`)"))) {
      EXPECT_TRUE(ParseConfig(AgencyYaml("x", field + ": " + m[1].str())).ok()) << field;
      EXPECT_TRUE(ParseConfig(AgencyYaml("x", field + ": " + m[2].str())).ok()) << field;
      EXPECT_FALSE(ParseConfig(AgencyYaml("x", field + ": " + std::to_string(std::stoull(m[2]) + 1))).ok()) << field;
    }
    if (std::regex_search(bounds, m, std::regex(R"(at most (\d+) characters)"))) {
      const size_t n = std::stoul(m[1]);
      EXPECT_TRUE(ParseConfig(AgencyYaml(std::string(n, 'a'))).ok()) << field;
      EXPECT_FALSE(ParseConfig(AgencyYaml(std::string(n + 1, 'a'))).ok()) << field;
    }
    if (field == "events") {
      std::vector<std::string> types = doc::CodeSpans(bounds);
      EXPECT_EQ(types.size(), 4u);
      for (const auto& type : types) EXPECT_TRUE(ParseConfig(AgencyYaml("x", "events: [" + type + "]")).ok()) << type;
      EXPECT_FALSE(ParseConfig(AgencyYaml("x", "events: [EVENT_TYPE_UNSPECIFIED]")).ok());
    }
  }
}

TEST_F(ConfigDocTest, ChangedFieldsAreTheRegisteredItemsOfValidationMd) {
  const std::string validation = doc::ReadTextFile(YILIAN_SOURCE_DIR "/docs/validation.md");
  doc::Table t = FindTable(doc::Section(validation, "5. Registered items"), {"Item"});
  ASSERT_FALSE(t.rows.empty());
  std::set<std::string> items;
  for (const auto& row : t.rows) items.insert(CellValue(row[t.Column("Item")]));
  // Every item is taken; every other field of the enterprise is refused.
  std::set<std::string> candidates = items;
  const auto* enterprise = v1::Enterprise::descriptor();
  for (int i = 0; i < enterprise->field_count(); ++i) candidates.insert(enterprise->field(i)->name());
  candidates.insert("shareholder");
  for (const auto& item : candidates) {
    auto r = ParseConfig(AgencyYaml("x", "changed_fields: [" + item + "]"));
    EXPECT_EQ(r.ok(), items.count(item) > 0) << item << ": " << (r.ok() ? "taken" : r.status().message());
  }
}

TEST_F(ConfigDocTest, DefaultAgenciesTableIsDefaultConfig) {
  doc::Table t = FindTable(doc::Section(ConfigDoc(), "3.2 "),
                           {"`id`", "`events`", "`changed_fields`", "`deadline_ms`", "`fields`"});
  ASSERT_FALSE(t.rows.empty()) << "no table in section 3.2";
  std::vector<AgencyConfig> documented;
  for (const auto& row : t.rows) {
    AgencyConfig a;
    a.id = CellValue(row[t.Column("`id`")]);
    for (const auto& name : doc::CodeSpans(row[t.Column("`events`")])) {
      v1::EventType type;
      ASSERT_TRUE(v1::EventType_Parse(name, &type)) << name;
      a.events.push_back(type);
    }
    a.changed_fields = doc::CodeSpans(row[t.Column("`changed_fields`")]);
    a.deadline_ms = static_cast<std::uint32_t>(std::stoul(CellValue(row[t.Column("`deadline_ms`")])));
    // "`[]` (the list for ...)": no list of its own.
    std::vector<std::string> fields = doc::CodeSpans(row[t.Column("`fields`")]);
    ASSERT_FALSE(fields.empty());
    if (fields[0] != "[]") a.fields = fields;
    documented.push_back(a);
  }
  EXPECT_EQ(Describe(documented), Describe(DefaultConfig().agencies));
}

}  // namespace
}  // namespace yilian::config
