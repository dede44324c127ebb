// The C ABI functions behind YILIAN_DEFINE_PLUGIN. Every entry point is a
// try/catch barrier: nothing unwinds into the host.
#include <algorithm>
#include <climits>
#include <cstring>
#include <exception>

#include "plugin_sdk/plugin.h"

struct yilian_plugin {
  explicit yilian_plugin(const yilian_host* h) : host(h) {}
  yilian::plugin::Host host;
  std::unique_ptr<yilian::plugin::Plugin> impl;
};

namespace yilian::plugin {

std::string_view ToString(Answer::Kind kind) {
  switch (kind) {
    case Answer::Kind::kPending:
      return "PENDING";
    case Answer::Kind::kProcessed:
      return "PROCESSED";
    case Answer::Kind::kRejected:
      return "REJECTED";
    case Answer::Kind::kRetry:
      return "RETRY";
  }
  return "UNKNOWN";
}

void CopyCut(std::string_view text, char* out, std::size_t capacity) {
  if (capacity == 0) return;
  std::size_t n = std::min(text.size(), capacity - 1);
  if (n < text.size()) {
    // Step back over continuation bytes (10xxxxxx) so no character is split.
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

void Host::Log(LogLevel level, std::string_view message) const {
  if (!host_ || !host_->log) return;
  std::string text(message);
  host_->log(host_->context, static_cast<int32_t>(level), text.c_str());
}

namespace {

void Fill(const Answer& answer, yilian_result* out) {
  out->outcome = static_cast<int32_t>(answer.kind);
  out->retry_after_ms = answer.retry_after_ms;
  CopyCut(answer.reference, out->reference, sizeof out->reference);
  CopyCut(answer.reason, out->reason, sizeof out->reason);
}

const PluginInfo* g_info = nullptr;

yilian_plugin* Create(const yilian_host* host, const char* agency, const yilian_config_entry* config,
                      size_t config_count, char* error, size_t error_capacity) {
  auto fail = [&](std::string_view why) -> yilian_plugin* {
    if (error && error_capacity > 0) CopyCut(why, error, error_capacity);
    return nullptr;
  };
  try {
    if (!g_info || !g_info->factory) return fail("plugin has no factory");
    auto plugin = std::make_unique<yilian_plugin>(host);
    PluginContext context;
    context.agency = agency ? agency : "";
    context.host = &plugin->host;
    for (size_t i = 0; i < config_count; ++i)
      context.config.emplace_back(config[i].key ? config[i].key : "", config[i].value ? config[i].value : "");
    auto made = g_info->factory(context);
    if (!made.ok()) return fail(made.status().message());
    plugin->impl = std::move(made.value());
    return plugin.release();
  } catch (const std::exception& e) {
    return fail(std::string("plugin threw while starting: ") + e.what());
  } catch (...) {
    return fail("plugin threw while starting");
  }
}

void Destroy(yilian_plugin* plugin) {
  try {
    delete plugin;
  } catch (...) {
    // A destructor that throws has nowhere to report to; the host goes on.
  }
}

Delivery ToDelivery(const yilian_delivery* d) {
  Delivery out;
  out.event_id = d->event_id ? d->event_id : "";
  out.agency = d->agency ? d->agency : "";
  out.uscc = d->uscc ? d->uscc : "";
  out.attempt = d->attempt;
  out.sequence = d->sequence;
  return out;
}

template <typename Call>
void Guarded(yilian_plugin* plugin, const char* what, const yilian_delivery* d, yilian_result* out, Call call) {
  std::string event_id = d && d->event_id ? d->event_id : "?";
  try {
    Fill(call(), out);
  } catch (const std::exception& e) {
    plugin->host.Log(LogLevel::kError, std::string(what) + " of event " + event_id + " failed: " + e.what());
    Fill(Answer::Retry(std::string("adapter plugin error: ") + e.what()), out);
  } catch (...) {
    plugin->host.Log(LogLevel::kError, std::string(what) + " of event " + event_id + " failed: unknown exception");
    Fill(Answer::Retry("adapter plugin error"), out);
  }
}

void Submit(yilian_plugin* plugin, const yilian_delivery* d, yilian_result* out) {
  Guarded(plugin, "submit", d, out, [&] {
    Delivery delivery = ToDelivery(d);
    agency::v1::EnterpriseEvent event;
    if (!d->event || d->event_size > INT_MAX || !event.ParseFromArray(d->event, static_cast<int>(d->event_size))) {
      plugin->host.Log(LogLevel::kError, "event " + delivery.event_id + " could not be decoded (" +
                                             std::to_string(d->event_size) + " bytes)");
      return Answer::Rejected("ADAPTER_BAD_EVENT: event could not be decoded as yilian.v1.EnterpriseEvent");
    }
    delivery.event = &event;
    return plugin->impl->Submit(delivery);
  });
}

void Check(yilian_plugin* plugin, const yilian_delivery* d, yilian_result* out) {
  Guarded(plugin, "check", d, out, [&] { return plugin->impl->Check(ToDelivery(d)); });
}

}  // namespace

void Host::Report(const std::string& event_id, const Answer& answer) const {
  if (!host_ || !host_->report) return;
  yilian_result r{};
  Fill(answer, &r);
  host_->report(host_->context, event_id.c_str(), &r);
}

namespace internal {

const yilian_plugin_api* MakeApi(const PluginInfo* info) {
  g_info = info;
  static const yilian_plugin_api api = {YILIAN_PLUGIN_ABI_VERSION,
                                        sizeof(yilian_plugin_api),
                                        info->name,
                                        info->version,
                                        &Create,
                                        &Destroy,
                                        &Submit,
                                        &Check};
  return &api;
}

}  // namespace internal
}  // namespace yilian::plugin
