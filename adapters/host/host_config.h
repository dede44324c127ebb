// The adapter host's configuration file (YAML), declared in one place:
//   adapter:   the host's own keys (below), each with default, bounds and
//              a description; unknown keys and bad values are refused;
//   plugin:    handed to the plugin as flattened dotted keys
//              (plugin: {sink: {type: http}} -> "sink.type" = "http"),
//              checked by the plugin itself.
// Pure functions; plain values.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace yilian::host {

struct HostConfig {
  int credit = 64;
  std::string state_dir;
  int check_interval_ms = 1000;
  int check_max_interval_ms = 30000;
  int retain_hours = 168;
  int result_timeout_ms = 5000;
  // CURVE (both or neither): the broker's public key (Z85 or a .pub file)
  // and this adapter's key pair file (yilian keygen).
  std::string server_key;
  std::string key_file;
  std::vector<std::pair<std::string, std::string>> plugin;
};

// Parses the file's text; `origin` (the file name) prefixes errors.
Result<HostConfig> ParseHostConfig(const std::string& yaml_text, const std::string& origin);

// Every adapter.* key with its default, bounds and description.
std::string DescribeHostConfig();

}  // namespace yilian::host
