#include "cli/io.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include <google/protobuf/util/json_util.h>

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

std::string NowRfc3339() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace yilian::cli
