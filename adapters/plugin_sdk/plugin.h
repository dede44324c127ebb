// The C++ side of the plugin ABI: write a class derived from Plugin, a
// factory, and one YILIAN_DEFINE_PLUGIN line, and the glue exports the two C
// symbols of adapters/include/yilian/adapter_plugin.h for you. The glue
// decodes the event, catches every exception (an exception becomes a RETRY
// result and an error log line, never an unwinding across the ABI), and cuts
// texts to the ABI's buffers at a UTF-8 boundary.
//
// Threads: Submit and Check are called from one host thread at a time.
// Host::Log and Host::Report may be called from any thread while the
// plugin exists.
// Ownership: the Host outlives the Plugin; a Delivery and its event are
// valid only during the call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "plugin_sdk/answer.h"
#include "yilian/adapter_plugin.h"
#include "yilian/agency/v1/event.pb.h"

namespace yilian::plugin {

enum class LogLevel {
  kDebug = YILIAN_LOG_DEBUG,
  kInfo = YILIAN_LOG_INFO,
  kWarn = YILIAN_LOG_WARN,
  kError = YILIAN_LOG_ERROR
};

// The host's services, as the plugin sees them.
class Host {
 public:
  explicit Host(const yilian_host* host) : host_(host) {}
  // Never put an ID or phone number in `message` (use common/mask.h).
  void Log(LogLevel level, std::string_view message) const;
  // A late answer for an event answered Pending earlier (see yilian_host).
  void Report(const std::string& event_id, const Answer& answer) const;

 private:
  const yilian_host* host_;
};

struct Delivery {
  std::string event_id;
  std::string agency;
  std::string uscc;
  std::uint32_t attempt = 0;
  std::uint64_t sequence = 0;
  // Submit: the decoded event. Check: nullptr.
  const agency::v1::EnterpriseEvent* event = nullptr;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  // Idempotent by event id (see yilian_plugin_api::submit).
  virtual Answer Submit(const Delivery& delivery) = 0;
  virtual Answer Check(const Delivery& delivery) = 0;
};

struct PluginContext {
  std::string agency;
  // The `plugin:` section, flattened ("sink.type", "exchange-db").
  std::vector<std::pair<std::string, std::string>> config;
  const Host* host = nullptr;  // outlives the plugin
};

// Returns the plugin, or a Status whose message becomes the create error.
using Factory = Result<std::unique_ptr<Plugin>> (*)(const PluginContext& context);

struct PluginInfo {
  const char* name;
  const char* version;
  Factory factory;
};

// Copies `text` into a buffer of `capacity` bytes (NUL included), cut at a
// UTF-8 character boundary. Exposed for the host, which applies the same rule.
void CopyCut(std::string_view text, char* out, std::size_t capacity);

namespace internal {
const yilian_plugin_api* MakeApi(const PluginInfo* info);
}  // namespace internal

}  // namespace yilian::plugin

// Exports the plugin. Use once per shared object, at namespace scope.
#define YILIAN_DEFINE_PLUGIN(NAME, VERSION, FACTORY)                                                             \
  extern "C" YILIAN_PLUGIN_EXPORT uint32_t yilian_plugin_abi_version(void) { return YILIAN_PLUGIN_ABI_VERSION; } \
  extern "C" YILIAN_PLUGIN_EXPORT const yilian_plugin_api* yilian_plugin_entry(void) {                           \
    static const ::yilian::plugin::PluginInfo info{NAME, VERSION, FACTORY};                                      \
    return ::yilian::plugin::internal::MakeApi(&info);                                                           \
  }
