// Named loggers, one per module ("broker", "store", "delivery", "transport",
// "config", "client", "cli", ...), all writing through one shared sink set.
//
// Enterprise data in a log line must go through common/mask.h first: an ID
// number or phone number never reaches a sink unmasked.
// Thread-safety: GetLogger and SetupLogging may be called from any thread;
// the returned loggers are spdlog's thread-safe (_mt) loggers.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace yilian {

struct LogOptions {
  // trace, debug, info, warn, error, critical, off.
  std::string level = "info";
  // Empty: stderr only. Otherwise also appended to this file, which is
  // created (or tightened to) mode 0600 (common/file_modes.h).
  std::string file;
  // Size-based rotation of `file` (spdlog's rotating sink): once a write
  // would take it past max_file_bytes it is renamed with index 1 before its
  // extension (broker.log: broker.1.log; a name without one: FILE.1), the
  // older ones move up (broker.2.log, ...), the one of index max_files is
  // deleted, and a new `file` is started: at most max_files + 1 files exist.
  // Every one of them is mode 0600, whatever the umask.
  std::size_t max_file_bytes = 64u << 20;
  std::size_t max_files = 10;
};

// Configures every existing and future logger. Returns false and leaves the
// configuration unchanged if the level is unknown or the file cannot be opened
// (error text in *error).
bool SetupLogging(const LogOptions& options, std::string* error);

// The logger for `module`, created on first use with the shared sinks.
std::shared_ptr<spdlog::logger> GetLogger(std::string_view module);

}  // namespace yilian
