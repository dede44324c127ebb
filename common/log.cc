#include "common/log.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <vector>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "common/file_modes.h"

namespace yilian {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::level::level_enum level = spdlog::level::info;
};

Registry& GetRegistry() {
  static Registry* registry = [] {
    auto* r = new Registry();
    r->sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    return r;
  }();
  return *registry;
}

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%n] %v";

}  // namespace

bool SetupLogging(const LogOptions& options, std::string* error) {
  auto level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    if (error) *error = "unknown log level '" + options.level + "' (trace|debug|info|warn|error|critical|off)";
    return false;
  }
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  std::string notice;
  if (!options.file.empty()) {
    // Log lines carry event ids, enterprise codes and identities: the file
    // is the process user's alone (0600) whatever the umask, created so
    // before spdlog opens it; one left open before is tightened.
    std::error_code ec;
    std::filesystem::path parent = std::filesystem::path(options.file).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (Status s = files::MakePrivateFile(options.file, &notice); !s.ok()) {
      if (error) *error = "log file: " + s.message();
      return false;
    }
    if (options.max_file_bytes == 0 || options.max_files == 0) {
      if (error) *error = "log file rotation needs a size and a number of files above 0";
      return false;
    }
    // Each file rotation opens a new FILE: made 0600 as soon as it is open,
    // before the first line is written to it.
    spdlog::file_event_handlers handlers;
    handlers.after_open = [](const spdlog::filename_t&, std::FILE* f) { ::fchmod(::fileno(f), 0600); };
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          options.file, options.max_file_bytes, options.max_files, /*rotate_on_open=*/false, handlers));
    } catch (const spdlog::spdlog_ex& e) {
      if (error) *error = "cannot open log file '" + options.file + "': " + e.what();
      return false;
    }
  }
  {
    Registry& r = GetRegistry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.sinks = sinks;
    r.level = level;
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& logger) {
      logger->sinks() = sinks;
      for (auto& s : logger->sinks()) s->set_pattern(kPattern);
      logger->set_level(level);
      logger->flush_on(spdlog::level::info);
    });
  }
  if (!notice.empty()) GetLogger("log")->warn("log file {}", notice);
  return true;
}

std::shared_ptr<spdlog::logger> GetLogger(std::string_view module) {
  std::string name(module);
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, r.sinks.begin(), r.sinks.end());
  logger->set_pattern(kPattern);
  logger->set_level(r.level);
  logger->flush_on(spdlog::level::info);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace yilian
