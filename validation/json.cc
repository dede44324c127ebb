// JSON <-> protobuf through google::protobuf::util; this file only fixes the
// options and makes the parser's error text safe to log and to print.
#include "validation/json.h"

#include <string>
#include <string_view>

#include <google/protobuf/util/json_util.h>

#include "common/mask.h"
#include "validation/validation.h"

namespace yilian::json {
namespace {

namespace util = google::protobuf::util;

// Replaces every byte that is not part of well-formed UTF-8 with U+FFFD, so
// the text can itself be put into a JSON string or a proto3 string field.
std::string ToValidUtf8(std::string_view s) {
  if (validation::IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    // Longest valid sequence starting here (1..4 bytes), else one bad byte.
    size_t len = 0;
    for (size_t n = 1; n <= 4 && i + n <= s.size(); ++n) {
      if (validation::IsValidUtf8(s.substr(i, n))) {
        len = n;
        break;
      }
    }
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

// The parser's own diagnosis, made fit for logs and for `yilian validate`.
// protobuf appends a copy of the input around the error position and a caret
// line. That excerpt is dropped: it starts and ends at arbitrary bytes, so it
// can cut an ID number or a phone number in a place where masking no longer
// recognises it, and it may hold invalid UTF-8.
std::string DescribeParseError(std::string_view protobuf_message) {
  std::string_view first_line = protobuf_message.substr(0, protobuf_message.find('\n'));
  std::string text = ToValidUtf8(ScrubPersonalData(first_line));
  return text.empty() ? std::string("malformed JSON") : text;
}

}  // namespace

Status Parse(std::string_view text, google::protobuf::Message* message) {
  message->Clear();
  util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  options.case_insensitive_enum_parsing = false;
  util::Status status = util::JsonStringToMessage(text, message, options);
  if (!status.ok()) {
    // A failed parse may leave some fields set; callers get a clean message.
    message->Clear();
    return Status::InvalidArgument("invalid JSON for " + message->GetDescriptor()->full_name() + ": " +
                                   DescribeParseError(std::string_view(status.message().data(),
                                                                       status.message().size())));
  }
  return Status::Ok();
}

std::string Print(const google::protobuf::Message& message) {
  util::JsonPrintOptions options;
  options.add_whitespace = false;  // one line: JSON Lines output
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = false;
  options.always_print_enums_as_ints = false;
  std::string out;
  // The printer fails only on messages it cannot describe (a type URL it
  // cannot resolve inside an Any); yilian's messages hold no Any.
  util::Status status = util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{}";
  return out;
}

}  // namespace yilian::json
