// Client text made safe to print: the one function for any string a peer
// sent (Hello.client_name, an agency id not yet checked, a Result's reason or
// reference, an operator's reason, an HTTP path, a plugin's log message, an
// enterprise name) before it reaches a log line, an audit record, a stored
// reason or an HTTP API answer.
//
// A client must not be able to write a log line of its own (a newline and a
// forged timestamp), drive the terminal of whoever reads the log (ANSI
// escapes), or reorder what a reader sees (Unicode bidi overrides). The
// output is one line of valid UTF-8 with nothing invisible that changes how
// the rest of the line reads.
//
// Pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace yilian {

// The default bound of ClientText's output, in bytes.
inline constexpr std::size_t kClientTextMaxBytes = 256;

// `text` with ID and phone numbers masked (ScrubPersonalData, applied to the
// text as sent, before escaping), then escaped:
//   - C0 controls and DEL: \n, \r, \t, others as \xNN (\x00, \x1b, \x7f);
//   - C1 controls (U+0080..U+009F), bidi marks, embeddings, overrides and
//     isolates (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), and
//     the line and paragraph separators (U+2028, U+2029): \uNNNN (\u202e);
//   - bytes that are not part of valid UTF-8 (stray continuation bytes,
//     overlong forms, surrogates, beyond U+10FFFF): \xNN each;
//   - the backslash itself: \\, so every escape reads back unambiguously.
// Hex digits are lower case. Everything else, Chinese text included, is kept.
// At most `max_bytes` bytes: a longer result is cut at a character or escape
// boundary and ends in "…" (U+2026, 3 bytes; dropped when max_bytes < 3).
// Apply it once per string: a second pass doubles the backslashes.
std::string ClientText(std::string_view text, std::size_t max_bytes = kClientTextMaxBytes);

}  // namespace yilian
