// `yilian validate FILE`: checks a JSON Lines file of EnterpriseEvents the way
// the broker would on publish, and prints one ValidateReport (cli.proto) per
// non-blank input line. Runs on the main thread only.
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "cli/commands.h"
#include "validation/json.h"
#include "validation/validation.h"
#include "yilian/v1/cli.pb.h"
#include "yilian/v1/event.pb.h"

namespace yilian::cli {
namespace {

namespace v1 = yilian::v1;

constexpr int kExitValid = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 2;
// protobuf refuses to parse a binary message over 64 MiB by default, so a
// larger limit would promise something the broker cannot take.
constexpr std::size_t kMaxEventBytesLimit = std::size_t{64} << 20;

struct ValidateArgs {
  std::string file;
  std::size_t max_event_bytes = validation::Options{}.max_event_bytes;
  bool lenient_uscc = false;
};

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// After a failed strict parse, tries once more ignoring unknown fields and
// enum names, only to name the event in the report. Still protobuf's parser:
// the event is never picked out of the text by hand.
std::optional<std::string> RecoverEventId(std::string_view line) {
  v1::EnterpriseEvent event;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(line, &event, options).ok() || event.event_id().empty()) {
    return std::nullopt;
  }
  return event.event_id();
}

v1::ValidateReport CheckLine(std::string_view line, uint32_t line_number, const validation::Options& options) {
  v1::ValidateReport report;
  report.set_line(line_number);
  v1::EnterpriseEvent event;
  Status parsed = json::Parse(line, &event);
  if (!parsed.ok()) {
    if (auto id = RecoverEventId(line)) report.set_event_id(*id);
    report.set_valid(false);
    v1::ValidationError* error = report.add_errors();
    error->set_path("");
    error->set_code("PARSE_ERROR");
    error->set_message(parsed.message());
    return report;
  }
  report.set_event_id(event.event_id());
  std::vector<validation::FieldError> errors = validation::Validate(event, options);
  report.set_valid(errors.empty());
  for (const validation::FieldError& e : errors) {
    v1::ValidationError* error = report.add_errors();
    error->set_path(e.path);
    error->set_code(e.code);
    error->set_message(e.message);
  }
  // The override must never pass silently: say which events relied on it.
  if (!options.strict_uscc_checksum && errors.empty() && !validation::IsValidUscc(event.uscc())) {
    std::fprintf(stderr,
                 "yilian validate: warning: line %u: USCC check character is wrong; "
                 "accepted because of --lenient-uscc\n",
                 line_number);
  }
  return report;
}

// One report as one JSON line. proto3 JSON drops fields at their default
// value; that suits the report itself (no event_id when none could be read,
// no errors when valid) but not its errors, whose contract is that each
// carries path, code and message, path "" meaning the whole line. So the
// errors are printed with their default fields and appended to the rest.
std::string FormatReport(const v1::ValidateReport& report) {
  v1::ValidateReport head = report;
  head.clear_errors();
  std::string out = json::Print(head);
  if (report.errors().empty() || out.empty() || out.back() != '}') return out + "\n";
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  out.pop_back();
  out += R"(,"errors":[)";
  for (int i = 0; i < report.errors_size(); ++i) {
    std::string error;
    if (!google::protobuf::util::MessageToJsonString(report.errors(i), &error, options).ok()) error = "{}";
    if (i > 0) out += ',';
    out += error;
  }
  out += "]}\n";
  return out;
}

// Reads a file line by line, any line length. Owns the FILE unless it is stdin.
class LineReader {
 public:
  // Opens `path` ("-" is stdin); on failure ok() is false and errno is set.
  explicit LineReader(const std::string& path)
      : file_(path == "-" ? stdin : std::fopen(path.c_str(), "r")), owned_(path != "-") {}
  ~LineReader() {
    std::free(buffer_);
    if (owned_ && file_ != nullptr) std::fclose(file_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  bool ok() const { return file_ != nullptr; }
  // The next line without its line end; false at end of input or on a read
  // error (then error() is the errno).
  bool Next(std::string_view* line) {
    errno = 0;
    ssize_t n = ::getline(&buffer_, &capacity_, file_);
    if (n < 0) {
      if (std::ferror(file_)) error_ = errno != 0 ? errno : EIO;
      return false;
    }
    *line = std::string_view(buffer_, static_cast<std::size_t>(n));
    while (!line->empty() && (line->back() == '\n' || line->back() == '\r')) line->remove_suffix(1);
    return true;
  }
  int error() const { return error_; }

 private:
  std::FILE* file_;
  bool owned_;
  char* buffer_ = nullptr;
  std::size_t capacity_ = 0;
  int error_ = 0;
};

int RunValidate(const ValidateArgs& args) {
  validation::Options options;
  options.max_event_bytes = args.max_event_bytes;
  options.strict_uscc_checksum = !args.lenient_uscc;
  if (args.lenient_uscc) {
    std::fprintf(stderr, "yilian validate: warning: --lenient-uscc: USCC check characters are not verified\n");
  }

  const std::string name = args.file == "-" ? "<stdin>" : args.file;
  LineReader reader(args.file);
  if (!reader.ok()) {
    std::fprintf(stderr, "yilian validate: cannot open %s: %s\n", name.c_str(), std::strerror(errno));
    return kExitUsage;
  }
  uint32_t line_number = 0;
  bool any_invalid = false;
  std::string_view line;
  while (reader.Next(&line)) {
    ++line_number;
    if (IsBlank(line)) continue;
    v1::ValidateReport report = CheckLine(line, line_number, options);
    if (!report.valid()) any_invalid = true;
    std::string out = FormatReport(report);
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (reader.error() != 0) {
    std::fflush(stdout);
    std::fprintf(stderr, "yilian validate: error reading %s: %s\n", name.c_str(), std::strerror(reader.error()));
    return kExitUsage;
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "yilian validate: cannot write the report: %s\n", std::strerror(errno));
    return kExitUsage;
  }
  return any_invalid ? kExitInvalid : kExitValid;
}

}  // namespace

void AddValidateCommand(CLI::App& app, int* exit_code) {
  // Shared with the callback, which CLI::App owns and keeps until it dies.
  auto args = std::make_shared<ValidateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check EnterpriseEvents in JSON Lines form as the broker would on publish.\n"
      "Prints one JSON line per event. Exit 0: all valid, 1: some invalid, 2: usage or I/O error.");
  cmd->add_option("file", args->file, "JSON Lines file, one event per line; - reads standard input")->required();
  cmd->add_option("--max-event-bytes", args->max_event_bytes, "Largest event accepted, in bytes of binary protobuf")
      ->check(CLI::Range(std::size_t{1}, kMaxEventBytesLimit))
      ->capture_default_str();
  cmd->add_flag("--lenient-uscc", args->lenient_uscc,
                "Accept a USCC whose check character is wrong (historic codes); charset and length are still checked");
  cmd->callback([args, exit_code] {
    try {
      *exit_code = RunValidate(*args);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "yilian validate: %s\n", e.what());
      *exit_code = kExitUsage;
    }
  });
}

}  // namespace yilian::cli
