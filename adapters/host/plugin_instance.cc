#include "host/plugin_instance.h"

#include <cstring>

#include "common/client_text.h"
#include "common/log.h"

namespace yilian::host {
namespace {

std::shared_ptr<spdlog::logger> PluginLog() { return GetLogger("plugin"); }

// A plugin's log message is cut to this many bytes (escaped).
constexpr std::size_t kLogMessageBytes = 2048;

// The length of the UTF-8 sequence starting at text[i], 0 if invalid.
std::size_t Utf8Length(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  if (n == 2 && c < 0xC2) return 0;                          // overlong
  if (n == 3 && c == 0xE0 && byte(i + 1) < 0xA0) return 0;   // overlong
  if (n == 3 && c == 0xED && byte(i + 1) >= 0xA0) return 0;  // surrogate
  if (n == 4 && (c > 0xF4 || (c == 0xF0 && byte(i + 1) < 0x90) || (c == 0xF4 && byte(i + 1) >= 0x90))) return 0;
  return n;
}

// The text in a plugin's buffer: up to the NUL, or cut to capacity - 1
// bytes (without splitting a character) when the plugin left none.
std::string Bounded(const char* buffer, std::size_t capacity) {
  std::size_t n = strnlen(buffer, capacity - 1);
  if (n == capacity - 1 && buffer[n] != '\0')
    while (n > 0 && (static_cast<unsigned char>(buffer[n]) & 0xC0) == 0x80) --n;
  return ValidUtf8(std::string_view(buffer, n));
}

}  // namespace

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = Utf8Length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

adapter::AgencyAnswer FromPluginResult(const yilian_result& r, const std::string& plugin, const char* what,
                                       const std::string& event_id) {
  adapter::AgencyAnswer a;
  a.reference = Bounded(r.reference, sizeof r.reference);
  a.reason = Bounded(r.reason, sizeof r.reason);
  a.retry_after_ms = r.retry_after_ms;
  switch (r.outcome) {
    case YILIAN_OUTCOME_PENDING:
      a.kind = adapter::AnswerKind::kPending;
      break;
    case YILIAN_OUTCOME_PROCESSED:
      a.kind = adapter::AnswerKind::kProcessed;
      break;
    case YILIAN_OUTCOME_REJECTED:
      a.kind = adapter::AnswerKind::kRejected;
      if (a.reason.empty()) a.reason = "rejected by the agency (no reason given)";
      break;
    case YILIAN_OUTCOME_RETRY:
      a.kind = adapter::AnswerKind::kRetry;
      break;
    default:
      PluginLog()->error("plugin {} returned outcome {} from {} of event {}; treated as RETRY", plugin, r.outcome, what,
                         ClientText(event_id, 128));
      return adapter::AgencyAnswer::Retry("adapter plugin returned an invalid outcome (" + std::to_string(r.outcome) +
                                          ")");
  }
  if (a.kind != adapter::AnswerKind::kProcessed) a.reference.clear();
  if (a.kind == adapter::AnswerKind::kProcessed || a.kind == adapter::AnswerKind::kPending) a.reason.clear();
  if (a.kind != adapter::AnswerKind::kRetry) a.retry_after_ms = 0;
  return a;
}

PluginInstance::PluginInstance(const PluginLibrary& library) : library_(library) {
  host_.abi_version = YILIAN_PLUGIN_ABI_VERSION;
  host_.context = this;
  host_.log = &PluginInstance::HostLog;
  host_.report = &PluginInstance::HostReport;
}

Result<std::unique_ptr<PluginInstance>> PluginInstance::Create(
    const PluginLibrary& library, const std::string& agency,
    const std::vector<std::pair<std::string, std::string>>& config) {
  std::unique_ptr<PluginInstance> instance(new PluginInstance(library));
  std::vector<yilian_config_entry> entries;
  for (const auto& [k, v] : config) entries.push_back(yilian_config_entry{k.c_str(), v.c_str()});
  char error[1024] = {0};
  instance->plugin_ =
      library.api().create(&instance->host_, agency.c_str(), entries.data(), entries.size(), error, sizeof error);
  if (!instance->plugin_) {
    error[sizeof error - 1] = '\0';
    std::string why = ClientText(error, sizeof error);
    if (why.empty()) why = "no reason given";
    return Status::InvalidArgument("plugin " + std::string(library.api().name ? library.api().name : "?") +
                                   " refused to start for agency " + agency + ": " + why);
  }
  return instance;
}

PluginInstance::~PluginInstance() {
  if (plugin_) library_.api().destroy(plugin_);
}

adapter::AgencyAnswer PluginInstance::Call(bool submit, const adapter::DeliveryInfo& d) {
  yilian_delivery delivery{};
  delivery.event_id = d.event_id.str().c_str();
  delivery.agency = d.agency.str().c_str();
  delivery.uscc = d.uscc.str().c_str();
  delivery.attempt = d.attempt;
  delivery.sequence = d.sequence;
  if (submit) {
    delivery.event = reinterpret_cast<const uint8_t*>(d.event_bytes.data());
    delivery.event_size = d.event_bytes.size();
  }
  yilian_result result;
  std::memset(&result, 0, sizeof result);
  (submit ? library_.api().submit : library_.api().check)(plugin_, &delivery, &result);
  const char* name = library_.api().name ? library_.api().name : "?";
  return FromPluginResult(result, name, submit ? "submit" : "check", d.event_id.str());
}

adapter::AgencyAnswer PluginInstance::Submit(const adapter::DeliveryInfo& d) { return Call(true, d); }

adapter::AgencyAnswer PluginInstance::Check(const adapter::DeliveryInfo& d) { return Call(false, d); }

std::vector<std::pair<EventId, adapter::AgencyAnswer>> PluginInstance::TakeReports() {
  std::lock_guard<std::mutex> lock(reports_mu_);
  return std::exchange(reports_, {});
}

void PluginInstance::HostLog(void* context, int32_t level, const char* message) {
  auto* self = static_cast<PluginInstance*>(context);
  if (!self || !message) return;
  // Plugins log what agency systems answer: one printable line each.
  std::string text = ClientText(message, kLogMessageBytes);
  const char* name = self->library_.api().name ? self->library_.api().name : "?";
  switch (level) {
    case YILIAN_LOG_DEBUG:
      PluginLog()->debug("{}: {}", name, text);
      break;
    case YILIAN_LOG_INFO:
      PluginLog()->info("{}: {}", name, text);
      break;
    case YILIAN_LOG_WARN:
      PluginLog()->warn("{}: {}", name, text);
      break;
    default:
      PluginLog()->error("{}: {}", name, text);
  }
}

void PluginInstance::HostReport(void* context, const char* event_id, const yilian_result* result) {
  auto* self = static_cast<PluginInstance*>(context);
  if (!self || !event_id || !result) return;
  const char* name = self->library_.api().name ? self->library_.api().name : "?";
  if (result->outcome != YILIAN_OUTCOME_PROCESSED && result->outcome != YILIAN_OUTCOME_REJECTED &&
      result->outcome != YILIAN_OUTCOME_RETRY) {
    // Nothing to act on: PENDING says nothing new, and a bad outcome in a
    // report must not send the event round again; check will tell.
    if (result->outcome != YILIAN_OUTCOME_PENDING)
      PluginLog()->error("plugin {} reported outcome {} for event {}; ignored", name, result->outcome,
                         ClientText(event_id, 128));
    return;
  }
  adapter::AgencyAnswer a = FromPluginResult(*result, name, "report", event_id);
  std::lock_guard<std::mutex> lock(self->reports_mu_);
  self->reports_.emplace_back(EventId(ValidUtf8(event_id)), std::move(a));
}

}  // namespace yilian::host
