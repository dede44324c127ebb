// The allow-list table of docs/agencies.md (section 6, "Allow-lists"), read
// from the document itself, so that tests hold the code to what the
// documentation promises rather than to the code's own copy of the lists.
//
// Each row's first cell names fields of yilian.v1.EnterpriseEvent as
// backquoted dotted paths; a path that starts with a dot continues the
// previous one ("`enterprise.legal_representative.name`, `.id_type`" is two
// paths). Each further column is an agency (its header is the agency id,
// "bank:*" for every bank); a cell holding a check mark allows the row's
// paths to that agency. Header-only; used from the test thread.
#pragma once

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace yilian::testing {

struct AllowListTable {
  // The paths of every row, in the document's order.
  std::vector<std::vector<std::string>> rows;
  // Agency column header ("tax", "bank:*", ...) -> the paths it may see.
  std::map<std::string, std::vector<std::string>> allowed;
  std::string error;  // non-empty when the table could not be read
};

inline std::vector<std::string> SplitTableRow(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  for (std::size_t i = 1; i < line.size(); ++i) {  // line[0] is the leading '|'
    if (line[i] == '|') {
      std::size_t b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return cells;
}

// The backquoted paths of a first cell, with ".x" continuations expanded.
inline std::vector<std::string> RowPaths(const std::string& cell) {
  std::vector<std::string> paths;
  std::string previous;
  std::size_t at = 0;
  while ((at = cell.find('`', at)) != std::string::npos) {
    std::size_t end = cell.find('`', at + 1);
    if (end == std::string::npos) break;
    std::string path = cell.substr(at + 1, end - at - 1);
    if (!path.empty() && path[0] == '.') {
      std::size_t dot = previous.rfind('.');
      path = (dot == std::string::npos ? std::string() : previous.substr(0, dot)) + path;
    }
    paths.push_back(path);
    previous = path;
    at = end + 1;
  }
  return paths;
}

inline AllowListTable ReadAllowListTable(const std::string& doc_path) {
  AllowListTable table;
  std::ifstream in(doc_path);
  if (!in) {
    table.error = "cannot open " + doc_path;
    return table;
  }
  std::string line;
  bool in_section = false;
  std::vector<std::string> agencies;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      if (in_section && !agencies.empty()) break;
      in_section = line.find("Allow-lists") != std::string::npos;
      continue;
    }
    if (!in_section || line.empty() || line[0] != '|') {
      if (in_section && !agencies.empty() && !table.rows.empty()) break;  // the table ended
      continue;
    }
    std::vector<std::string> cells = SplitTableRow(line);
    if (agencies.empty()) {
      agencies.assign(cells.begin() + 1, cells.end());
      continue;
    }
    if (cells.size() > 0 && cells[0].find_first_not_of("-: ") == std::string::npos) continue;  // | --- |
    if (cells.size() != agencies.size() + 1) {
      table.error = "row with " + std::to_string(cells.size()) + " cells, expected " +
                    std::to_string(agencies.size() + 1) + ": " + line;
      return table;
    }
    std::vector<std::string> paths = RowPaths(cells[0]);
    if (paths.empty()) {
      table.error = "row names no field: " + line;
      return table;
    }
    table.rows.push_back(paths);
    for (std::size_t i = 0; i < agencies.size(); ++i) {
      if (cells[i + 1].find("\xE2\x9C\x93") == std::string::npos) continue;  // U+2713 CHECK MARK
      auto& list = table.allowed[agencies[i]];
      list.insert(list.end(), paths.begin(), paths.end());
    }
  }
  if (table.error.empty() && (agencies.empty() || table.rows.empty()))
    table.error = "no allow-list table in section \"Allow-lists\" of " + doc_path;
  for (const auto& a : agencies) table.allowed[a];  // an agency allowed nothing still has an entry
  return table;
}

inline std::string AgenciesDocPath() { return std::string(YILIAN_SOURCE_DIR) + "/docs/agencies.md"; }

}  // namespace yilian::testing
