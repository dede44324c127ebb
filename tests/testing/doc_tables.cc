#include "testing/doc_tables.h"

#include <fstream>
#include <sstream>

namespace yilian::testing {
namespace {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// Heading level (number of leading #s followed by a blank), or 0.
int HeadingLevel(std::string_view line) {
  size_t n = line.find_first_not_of('#');
  if (n == 0 || n == std::string_view::npos || line[n] != ' ') return 0;
  return static_cast<int>(n);
}

bool IsFence(std::string_view line) { return line.substr(0, 3) == "```"; }

// Cells of one table line: split on pipes not escaped with a backslash.
std::vector<std::string> SplitRow(std::string_view line) {
  std::string body = Trim(line);
  if (!body.empty() && body.front() == '|') body.erase(0, 1);
  if (!body.empty() && body.back() == '|' && (body.size() < 2 || body[body.size() - 2] != '\\')) body.pop_back();
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\' && i + 1 < body.size() && body[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (body[i] == '|') {
      cells.push_back(Trim(cell));
      cell.clear();
    } else {
      cell += body[i];
    }
  }
  cells.push_back(Trim(cell));
  return cells;
}

bool IsDelimiterRow(const std::vector<std::string>& cells) {
  for (const auto& c : cells) {
    if (c.empty() || c.find_first_not_of("-: ") != std::string::npos) return false;
  }
  return !cells.empty();
}

}  // namespace

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Section(std::string_view markdown, std::string_view title_prefix) {
  std::vector<std::string_view> lines = Lines(markdown);
  bool in_fence = false;
  int level = 0;
  std::string out;
  for (std::string_view line : lines) {
    if (IsFence(line)) in_fence = !in_fence;
    int h = in_fence || IsFence(line) ? 0 : HeadingLevel(line);
    if (level == 0) {
      if (h > 0 && line.substr(h + 1).substr(0, title_prefix.size()) == title_prefix) level = h;
      continue;
    }
    if (h > 0 && h <= level) break;
    out.append(line).append("\n");
  }
  return out;
}

int Table::Column(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<Table> Tables(std::string_view markdown) {
  std::vector<Table> tables;
  std::vector<std::string_view> lines = Lines(markdown);
  bool in_fence = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (IsFence(lines[i])) in_fence = !in_fence;
    if (in_fence || Trim(lines[i]).substr(0, 1) != "|" || i + 1 >= lines.size()) continue;
    std::vector<std::string> header = SplitRow(lines[i]);
    if (!IsDelimiterRow(SplitRow(lines[i + 1]))) continue;
    Table t;
    t.header = header;
    size_t j = i + 2;
    for (; j < lines.size() && Trim(lines[j]).substr(0, 1) == "|"; ++j) {
      std::vector<std::string> row = SplitRow(lines[j]);
      row.resize(header.size());
      t.rows.push_back(std::move(row));
    }
    tables.push_back(std::move(t));
    i = j - 1;
  }
  return tables;
}

std::vector<std::string> CodeBlocks(std::string_view markdown, std::string_view language) {
  std::vector<std::string> blocks;
  std::string current;
  bool in_block = false;
  bool wanted = false;
  for (std::string_view line : Lines(markdown)) {
    if (IsFence(line)) {
      if (!in_block) {
        wanted = Trim(line.substr(3)) == language;
        current.clear();
      } else if (wanted) {
        blocks.push_back(current);
      }
      in_block = !in_block;
      continue;
    }
    if (in_block) current.append(line).append("\n");
  }
  return blocks;
}

std::vector<std::string> CodeSpans(std::string_view text) {
  std::vector<std::string> spans;
  size_t pos = 0;
  while (true) {
    size_t open = text.find('`', pos);
    if (open == std::string_view::npos) break;
    size_t close = text.find('`', open + 1);
    if (close == std::string_view::npos) break;
    spans.emplace_back(text.substr(open + 1, close - open - 1));
    pos = close + 1;
  }
  return spans;
}

std::string TextOutsideCodeSpans(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = text.find('`', pos);
    size_t close = open == std::string_view::npos ? open : text.find('`', open + 1);
    if (close == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    pos = close + 1;
  }
  return Trim(out);
}

}  // namespace yilian::testing
