// PluginInstance: one created plugin, seen by the SDK as an AgencyHandler.
// It converts between the SDK's types and the C ABI, and treats whatever a
// plugin returns as untrusted: an unknown outcome becomes RETRY with an
// error log line, texts are cut at their buffer and made valid UTF-8, a
// PENDING answer to check or submit stays PENDING. Log lines from the plugin
// go to the "plugin" logger with personal data scrubbed.
//
// Threads: Submit and Check from the session's worker thread; TakeReports
// from the session thread; the host callbacks from any thread.
// Ownership: the PluginLibrary outlives the instance.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "host/plugin_library.h"
#include "sdk/agency_handler.h"

namespace yilian::host {

class PluginInstance final : public adapter::AgencyHandler {
 public:
  // Calls the plugin's create with the flattened `plugin:` configuration.
  // kInvalidArgument carries the plugin's own message.
  static Result<std::unique_ptr<PluginInstance>> Create(const PluginLibrary& library, const std::string& agency,
                                                        const std::vector<std::pair<std::string, std::string>>& config);
  ~PluginInstance() override;  // the plugin's destroy

  adapter::AgencyAnswer Submit(const adapter::DeliveryInfo& delivery) override;
  adapter::AgencyAnswer Check(const adapter::DeliveryInfo& delivery) override;
  std::vector<std::pair<EventId, adapter::AgencyAnswer>> TakeReports() override;

 private:
  explicit PluginInstance(const PluginLibrary& library);
  adapter::AgencyAnswer Call(bool submit, const adapter::DeliveryInfo& delivery);
  static void HostLog(void* context, int32_t level, const char* message);
  static void HostReport(void* context, const char* event_id, const yilian_result* result);

  const PluginLibrary& library_;
  yilian_host host_{};
  yilian_plugin* plugin_ = nullptr;
  std::mutex reports_mu_;
  std::vector<std::pair<EventId, adapter::AgencyAnswer>> reports_;
};

// A plugin's result as an answer: validates the outcome, terminates and
// cleans the texts. `what` names the call in the error log line.
adapter::AgencyAnswer FromPluginResult(const yilian_result& result, const std::string& plugin, const char* what,
                                       const std::string& event_id);

// `text` with every byte sequence that is not UTF-8 replaced by U+FFFD.
std::string ValidUtf8(std::string_view text);

}  // namespace yilian::host
