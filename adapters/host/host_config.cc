#include "host/host_config.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <sstream>

namespace yilian::host {
namespace {

struct IntKey {
  const char* name;
  int HostConfig::*field;
  int default_value;
  int min;
  int max;
  const char* description;
};

const std::vector<IntKey>& IntKeys() {
  static const std::vector<IntKey> keys = {
      {"credit", &HostConfig::credit, 64, 1, 10000, "deliveries the broker may hand this adapter unanswered"},
      {"check_interval_ms", &HostConfig::check_interval_ms, 1000, 10, 3600000,
       "wait before first asking the plugin for a late answer; doubles each time"},
      {"check_max_interval_ms", &HostConfig::check_max_interval_ms, 30000, 10, 86400000,
       "longest wait between two questions about one event"},
      {"retain_hours", &HostConfig::retain_hours, 168, 1, 87600,
       "how long answered event ids are remembered to dedupe redeliveries"},
      {"result_timeout_ms", &HostConfig::result_timeout_ms, 5000, 100, 600000,
       "resend a result the broker has not acknowledged after this long"},
  };
  return keys;
}

Status Fail(const std::string& origin, const std::string& key, const std::string& why) {
  return Status::InvalidArgument(origin + ": " + key + ": " + why);
}

Status Flatten(const YAML::Node& node, const std::string& prefix, const std::string& origin,
               std::vector<std::pair<std::string, std::string>>* out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>();
      Status s = Flatten(kv.second, prefix.empty() ? key : prefix + "." + key, origin, out);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }
  if (node.IsScalar()) {
    out->emplace_back(prefix, node.Scalar());
    return Status::Ok();
  }
  if (node.IsNull()) {
    out->emplace_back(prefix, "");
    return Status::Ok();
  }
  return Fail(origin, "plugin." + prefix, "lists are not supported in plugin configuration");
}

}  // namespace

Result<HostConfig> ParseHostConfig(const std::string& yaml_text, const std::string& origin) {
  HostConfig c;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(origin + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return c;
  if (!root.IsMap()) return Status::InvalidArgument(origin + ": expected a map with 'adapter' and 'plugin'");
  try {
    for (const auto& top : root) {
      std::string section = top.first.as<std::string>();
      if (section == "plugin") {
        if (!top.second.IsMap() && !top.second.IsNull()) return Fail(origin, "plugin", "expected a map");
        Status s = Flatten(top.second, "", origin, &c.plugin);
        if (!s.ok()) return s;
        continue;
      }
      if (section != "adapter") return Fail(origin, section, "unknown section (adapter|plugin)");
      if (top.second.IsNull()) continue;
      if (!top.second.IsMap()) return Fail(origin, "adapter", "expected a map");
      for (const auto& kv : top.second) {
        std::string key = kv.first.as<std::string>();
        std::string path = "adapter." + key;
        std::string HostConfig::*text_field = key == "state_dir"    ? &HostConfig::state_dir
                                              : key == "server_key" ? &HostConfig::server_key
                                              : key == "key_file"   ? &HostConfig::key_file
                                                                    : nullptr;
        if (text_field) {
          if (!kv.second.IsScalar()) return Fail(origin, path, "expected text");
          c.*text_field = kv.second.Scalar();
          continue;
        }
        const IntKey* known = nullptr;
        for (const auto& k : IntKeys())
          if (key == k.name) known = &k;
        if (!known) return Fail(origin, path, "unknown key (see yilian-adapter --help-config)");
        long long v = 0;
        try {
          v = kv.second.as<long long>();
        } catch (const YAML::Exception&) {
          return Fail(origin, path, "expected an integer");
        }
        if (v < known->min || v > known->max)
          return Fail(origin, path,
                      std::to_string(v) + " is out of bounds " + std::to_string(known->min) + ".." +
                          std::to_string(known->max));
        c.*(known->field) = static_cast<int>(v);
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(origin + ": " + e.what());
  }
  if (c.server_key.empty() != c.key_file.empty())
    return Fail(origin, c.server_key.empty() ? "adapter.server_key" : "adapter.key_file",
                "CURVE needs both adapter.server_key and adapter.key_file");
  if (c.check_max_interval_ms < c.check_interval_ms)
    return Fail(origin, "adapter.check_max_interval_ms", "must be at least adapter.check_interval_ms");
  return c;
}

std::string DescribeHostConfig() {
  std::ostringstream out;
  out << "adapter.state_dir\n    default \"\" (then --state-dir is required), path\n"
      << "    where answers not yet reported to the broker are kept (results.db); one directory per adapter\n"
      << "adapter.server_key\n    default \"\" (plain TCP), Z85 text or a .pub file\n"
      << "    the broker's CURVE public key (or --server-key); needs adapter.key_file\n"
      << "adapter.key_file\n    default \"\", path (mode 0600)\n"
      << "    this adapter's CURVE key pair from yilian keygen (or --key); its public key is listed in the\n"
      << "    broker's keys file with role agency:<id>\n";
  for (const auto& k : IntKeys())
    out << "adapter." << k.name << "\n    default " << k.default_value << ", bounds " << k.min << ".." << k.max
        << "\n    " << k.description << "\n";
  out << "plugin.*\n    passed to the plugin as flattened keys (plugin: {sink: {type: x}} -> sink.type=x);\n"
      << "    the plugin refuses keys it does not know. Keys of the built-in plugins: docs/plugins.md\n";
  return out.str();
}

}  // namespace yilian::host
