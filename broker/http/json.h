// The HTTP API's JSON: protobuf's canonical proto3 mapping with the proto
// field names and every primitive field printed (docs/http-api.md, 1).
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <string>

#include "yilian/v1/tracking.pb.h"

namespace yilian::http {

inline std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

inline std::string ApiErrorJson(const std::string& code, const std::string& message) {
  v1::ApiError e;
  e.set_code(code);
  e.set_message(message);
  return ToJson(e);
}

}  // namespace yilian::http
