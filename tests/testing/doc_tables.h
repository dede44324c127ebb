// Reading the contract documents in docs/ as data: sections, pipe tables,
// fenced code blocks and `code spans`. The doc tests use it to check the code
// against what the documents promise, so that a document and the code cannot
// drift apart silently. Only the subset of Markdown the documents use is
// understood (ATX headings, GitHub pipe tables with `\|` for a literal pipe,
// fenced blocks opened with ```).
// Pure functions over strings; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace yilian::testing {

// The whole file, or "" if it cannot be read (the caller asserts on that).
std::string ReadTextFile(const std::string& path);

// The text under the first heading whose title (without the leading #s and
// blank) starts with `title_prefix`, e.g. "4.2" or "4. Rules", up to the next
// heading of the same or a higher level. "" if there is no such heading.
std::string Section(std::string_view markdown, std::string_view title_prefix);

struct Table {
  std::vector<std::string> header;             // cell texts, trimmed
  std::vector<std::vector<std::string>> rows;  // same width as header
  // Index of the column whose header is `name`, or -1.
  int Column(std::string_view name) const;
};

// Every pipe table in `markdown`, in document order. Cells are trimmed and
// `\|` is turned into `|`.
std::vector<Table> Tables(std::string_view markdown);

// The contents of every fenced block opened with ```<language>.
std::vector<std::string> CodeBlocks(std::string_view markdown, std::string_view language);

// The contents of every `code span` in `text`, in order.
std::vector<std::string> CodeSpans(std::string_view text);

// `text` with its code spans removed and trimmed: "× 513" from "`a` × 513".
std::string TextOutsideCodeSpans(std::string_view text);

}  // namespace yilian::testing
