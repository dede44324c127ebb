// JSON form of yilian messages: protobuf's canonical proto3 JSON mapping, via
// google::protobuf::util (never parsed or printed by hand). UTF-8 text
// (Chinese names, addresses) round-trips unchanged.
// Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "common/status.h"

namespace yilian::json {

// Parses one JSON object into `message` (cleared first). Unknown fields are
// an error. On failure the Status message says what and where.
Status Parse(std::string_view text, google::protobuf::Message* message);

// One-line JSON with proto field names (snake_case), enum names as strings,
// and fields at their default value omitted.
std::string Print(const google::protobuf::Message& message);

}  // namespace yilian::json
