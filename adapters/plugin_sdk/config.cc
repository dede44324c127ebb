#include "plugin_sdk/config.h"

#include <charconv>
#include <set>
#include <sstream>

namespace yilian::plugin {
namespace {

bool ParseInt(const std::string& text, std::int64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::function<std::string(const std::string&)> IntegerIn(std::int64_t min, std::int64_t max) {
  return [min, max](const std::string& v) -> std::string {
    std::int64_t n = 0;
    if (!ParseInt(v, &n)) return "'" + v + "' is not an integer";
    if (n < min || n > max) return v + " is out of bounds " + std::to_string(min) + ".." + std::to_string(max);
    return "";
  };
}

std::function<std::string(const std::string&)> OneOf(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const std::string& v) -> std::string {
    for (const auto& a : allowed)
      if (a == v) return "";
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : "|") + a;
    return "'" + v + "' is not one of " + list;
  };
}

std::function<std::string(const std::string&)> NotEmpty() {
  return [](const std::string& v) -> std::string { return v.empty() ? "must not be empty" : ""; };
}

std::function<std::string(const std::string&)> SqlIdentifier() {
  return [](const std::string& v) -> std::string {
    auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    bool ok = !v.empty() && v.size() <= 63 && letter(v[0]);
    for (char c : v) ok = ok && (letter(c) || (c >= '0' && c <= '9'));
    return ok ? "" : "'" + v + "' is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*)";
  };
}

const std::string& ConfigValues::Get(const std::string& name) const {
  static const std::string kEmpty;
  auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second;
}

std::int64_t ConfigValues::GetInt(const std::string& name) const {
  std::int64_t n = 0;
  ParseInt(Get(name), &n);
  return n;
}

bool ConfigValues::IsSet(const std::string& name) const {
  auto it = set_.find(name);
  return it != set_.end() && it->second;
}

ConfigSchema& ConfigSchema::Add(ConfigKey key) {
  keys_.push_back(std::move(key));
  return *this;
}

Result<ConfigValues> ConfigSchema::Parse(const std::vector<std::pair<std::string, std::string>>& entries) const {
  ConfigValues out;
  std::set<std::string> seen;
  for (const auto& [name, value] : entries) {
    const ConfigKey* key = nullptr;
    for (const auto& k : keys_)
      if (k.name == name) key = &k;
    if (!key) {
      std::string known;
      for (const auto& k : keys_) known += (known.empty() ? "" : ", ") + k.name;
      return Status::InvalidArgument("plugin." + name + ": unknown key (known: " + known + ")");
    }
    if (!seen.insert(name).second) return Status::InvalidArgument("plugin." + name + ": given twice");
    if (key->check) {
      std::string why = key->check(value);
      if (!why.empty()) return Status::InvalidArgument("plugin." + name + ": " + why);
    }
    out.values_[name] = value;
    out.set_[name] = true;
  }
  for (const auto& k : keys_) {
    if (seen.count(k.name)) continue;
    if (k.required) return Status::InvalidArgument("plugin." + k.name + ": required (" + k.description + ")");
    out.values_[k.name] = k.default_value;
    out.set_[k.name] = false;
  }
  return out;
}

std::string ConfigSchema::Describe() const {
  std::ostringstream out;
  for (const auto& k : keys_) {
    out << "plugin." << k.name << "\n    "
        << (k.required ? std::string("required") : "default " + (k.default_value.empty() ? "\"\"" : k.default_value))
        << (k.bounds.empty() ? "" : ", bounds " + k.bounds) << "\n    " << k.description << "\n";
  }
  return out.str();
}

}  // namespace yilian::plugin
