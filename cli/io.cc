#include "cli/io.h"

#include <google/protobuf/util/json_util.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace yilian::cli {

std::unique_ptr<std::istream, void (*)(std::istream*)> OpenInput(const std::string& path, std::string* error) {
  if (path == "-") return {&std::cin, [](std::istream*) {}};
  auto* file = new std::ifstream(path);
  if (!*file) {
    *error = "cannot read '" + path + "': " + std::strerror(errno);
    delete file;
    return {nullptr, [](std::istream*) {}};
  }
  return {file, [](std::istream* s) { delete s; }};
}

std::string ToJsonLine(const google::protobuf::Message& message, bool all_fields) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = all_fields;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

}  // namespace yilian::cli
