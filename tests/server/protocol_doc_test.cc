// docs/protocol.md section 9 against the protocol: every ErrorCode of
// yilian.v1 has its row, with its number, and the table names no code the
// protocol lacks (NOT_LEADER included, the code a standby broker sends).
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>

#include "testing/doc_tables.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian {
namespace {

namespace doc = yilian::testing;

TEST(ProtocolDoc, TheErrorCodeTableListsEveryCodeWithItsNumber) {
  const std::string protocol = doc::ReadTextFile(YILIAN_SOURCE_DIR "/docs/protocol.md");
  const std::string section = doc::Section(protocol, "9. Error codes");
  ASSERT_FALSE(section.empty()) << "no section 9. Error codes in protocol.md";
  std::map<std::string, int> documented;
  const std::regex cell(R"(^`([A-Z_]+)` \((\d+)\)$)");
  for (const auto& table : doc::Tables(section)) {
    const int code = table.Column("Code");
    if (code < 0) continue;
    for (const auto& row : table.rows) {
      std::smatch m;
      ASSERT_TRUE(std::regex_match(row[code], m, cell)) << "unexpected Code cell: " << row[code];
      documented[m[1]] = std::stoi(m[2]);
    }
  }
  ASSERT_FALSE(documented.empty()) << "no table with a Code column in section 9";
  const auto* codes = v1::ErrorCode_descriptor();
  for (int i = 0; i < codes->value_count(); ++i) {
    const auto* value = codes->value(i);
    auto it = documented.find(value->name());
    ASSERT_NE(it, documented.end()) << value->name() << " is not in protocol.md section 9";
    EXPECT_EQ(it->second, value->number()) << value->name();
  }
  for (const auto& [name, number] : documented)
    EXPECT_NE(codes->FindValueByName(name), nullptr) << name << " in protocol.md is not a yilian.v1.ErrorCode";
}

}  // namespace
}  // namespace yilian
