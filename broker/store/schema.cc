#include "store/schema.h"

#include <cctype>

namespace yilian::store {

std::string DeliveryColumnList(std::string_view prefix) {
  const std::string_view table = YILIAN_DELIVERIES_V2_COLUMNS;
  std::string out;
  for (std::size_t at = 0; at < table.size();) {
    std::size_t end = table.find('\n', at);
    if (end == std::string_view::npos) end = table.size();
    std::string_view line = table.substr(at, end - at);
    at = end + 1;
    std::size_t first = 0;
    while (first < line.size() && line[first] == ' ') ++first;
    std::size_t last = first;
    while (last < line.size() && (std::isalnum(static_cast<unsigned char>(line[last])) || line[last] == '_')) ++last;
    const std::string_view name = line.substr(first, last - first);
    if (name.empty() || name == "id") continue;  // the key, and the closing ");"
    if (!out.empty()) out += ", ";
    out += prefix;
    out += name;
  }
  return out;
}

std::string MigrateV1ToV2Sql() {
  return R"sql(
CREATE TABLE agencies (
  id   INTEGER PRIMARY KEY,
  name TEXT    NOT NULL UNIQUE
);
INSERT INTO agencies (name) SELECT DISTINCT agency FROM deliveries ORDER BY agency;
CREATE TABLE deliveries_v2 (
)sql" YILIAN_DELIVERIES_V2_COLUMNS "INSERT INTO deliveries_v2 (id, " +
         DeliveryColumnList() + ")\n  SELECT d.seq * 65536 + a.id, " + DeliveryColumnList("d.") +
         R"sql(
  FROM deliveries d JOIN agencies a ON a.name = d.agency;
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
)sql";
}

std::string MigrateV2ToV3Sql() {
  return YILIAN_ARCHIVE_V3_TABLES "UPDATE meta SET value = '3' WHERE key = 'schema_version';\n";
}

}  // namespace yilian::store
