// Plugin configuration, declared once: every key a plugin understands with
// its default, its bounds and a one-line description. Parse refuses unknown
// keys, missing required keys and values out of bounds with a message that
// names the key, so a wrong config stops the adapter at start-up.
//
// The host passes the `plugin:` section of its config file flattened to
// dotted keys ("sink.type"). Plain values; ConfigSchema is immutable once
// built and safe to share between threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace yilian::plugin {

struct ConfigKey {
  std::string name;
  // Used when the key is absent; ignored for required keys.
  std::string default_value;
  bool required = false;
  // Shown in errors and in Describe, e.g. "1..60000" or "exchange-db|http".
  std::string bounds;
  std::string description;
  // Returns "" when `value` is acceptable, otherwise why not.
  std::function<std::string(const std::string& value)> check;
};

// Checks for ConfigKey::check.
std::function<std::string(const std::string&)> IntegerIn(std::int64_t min, std::int64_t max);
std::function<std::string(const std::string&)> OneOf(std::vector<std::string> allowed);
std::function<std::string(const std::string&)> NotEmpty();
// An SQL identifier: a letter or '_' then letters, digits, '_' (at most 63).
std::function<std::string(const std::string&)> SqlIdentifier();

class ConfigValues {
 public:
  // The value, or the default; "" for an undeclared key.
  const std::string& Get(const std::string& name) const;
  // Get parsed as an integer (the schema's check guarantees it parses).
  std::int64_t GetInt(const std::string& name) const;
  // True when the configuration set the key (not only its default).
  bool IsSet(const std::string& name) const;

 private:
  friend class ConfigSchema;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> set_;
};

class ConfigSchema {
 public:
  ConfigSchema& Add(ConfigKey key);

  // Fails with kInvalidArgument naming the first bad key.
  Result<ConfigValues> Parse(const std::vector<std::pair<std::string, std::string>>& entries) const;

  // One block per key: name, default, bounds, description.
  std::string Describe() const;

 private:
  std::vector<ConfigKey> keys_;
};

}  // namespace yilian::plugin
