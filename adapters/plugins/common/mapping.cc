#include "plugins/common/mapping.h"

#include <ctime>

#include "common/clock.h"
#include "common/mask.h"

namespace yilian::agencies {

void Requirements::Need(bool present, std::string_view label) {
  if (!present) missing_.emplace_back(label);
}

std::string Requirements::Describe(std::string_view what) const {
  std::string out = "缺少" + std::string(what) + ": ";
  for (std::size_t i = 0; i < missing_.size(); ++i) out += (i ? ", " : "") + missing_[i];
  return out;
}

void FillHeader(const plugin::Delivery& d, av1::AgencySubmission* s) {
  s->set_event_id(d.event_id);
  s->set_agency(d.agency);
  s->set_uscc(d.event ? d.event->uscc() : d.uscc);
  if (d.event) s->set_event_type(av1::EventType_Name(d.event->type()));
  s->set_sequence(d.sequence);
  s->set_submitted_at(NowRfc3339Utc());
}

bool MapPerson(const av1::Person& person, const std::map<av1::IdType, std::string>& id_type_codes, bool with_phone,
               av1::PersonRecord* out) {
  out->set_name(person.name());
  out->set_id_number(person.id_number());
  if (with_phone) out->set_phone(person.phone());
  auto it = id_type_codes.find(person.id_type());
  if (it == id_type_codes.end()) return false;
  out->set_id_type_code(it->second);
  return true;
}

void MapChanges(const av1::EnterpriseEvent& event, const ItemNames& names, const std::set<std::string>& without_values,
                google::protobuf::RepeatedPtrField<av1::ChangeItem>* out) {
  for (const auto& change : event.changes()) {
    auto it = names.find(change.field());
    if (it == names.end()) continue;
    av1::ChangeItem* item = out->Add();
    item->set_field(change.field());
    item->set_item_name(it->second);
    if (without_values.count(change.field())) continue;
    item->set_before(change.old_value());
    item->set_after(change.new_value());
  }
}

std::string EffectiveAt(const av1::EnterpriseEvent& event) {
  if (!event.has_occurred_at()) return "";
  std::time_t secs = static_cast<std::time_t>(event.occurred_at().seconds());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string DeregistrationModeCode(av1::DeregistrationMode mode) {
  switch (mode) {
    case av1::NORMAL:
      return "1";
    case av1::SIMPLIFIED:
      return "2";
    default:
      return "";
  }
}

bool IsUscc(const std::string& text) {
  static const std::string kChars = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  if (text.size() != 18) return false;
  for (char c : text)
    if (kChars.find(c) == std::string::npos) return false;
  return true;
}

const char* ActionFor(av1::EventType type, const ActionCodes& codes) {
  switch (type) {
    case av1::ESTABLISHED:
      return codes.established;
    case av1::CHANGED:
      return codes.changed;
    case av1::DEREGISTERED:
      return codes.deregistered;
    default:
      return nullptr;
  }
}

Mapped NotApplicable(std::string why) {
  Mapped m;
  m.kind = Mapped::Kind::kNotApplicable;
  m.detail = std::move(why);
  return m;
}

Mapped Incomplete(std::string what) {
  Mapped m;
  m.kind = Mapped::Kind::kIncomplete;
  m.detail = std::move(what);
  return m;
}

plugin::Answer AgencyPlugin::Submit(const plugin::Delivery& d) {
  Mapped m = mapper_(d);
  switch (m.kind) {
    case Mapped::Kind::kNotApplicable:
      host_->Log(plugin::LogLevel::kInfo,
                 "event " + d.event_id + " (" + d.uscc + "): nothing for " + agency_ + " to do: " + m.detail);
      return plugin::Answer::Processed(std::string(kNotApplicableReference));
    case Mapped::Kind::kIncomplete:
      host_->Log(plugin::LogLevel::kWarn, "event " + d.event_id + " (" + d.uscc + ") refused before sending to " +
                                              agency_ + ": " + ScrubPersonalData(m.detail));
      return plugin::Answer::Rejected("ADAPTER_INCOMPLETE: " + m.detail);
    case Mapped::Kind::kSend:
      break;
  }
  plugin::Answer a = sink_->Submit(m.submission);
  host_->Log(plugin::LogLevel::kDebug, "event " + d.event_id + " (" + d.uscc + ") " + m.submission.event_type() +
                                           " submitted to " + agency_ + ": " + std::string(plugin::ToString(a.kind)));
  return a;
}

plugin::Answer AgencyPlugin::Check(const plugin::Delivery& d) { return sink_->Check(d.event_id); }

Result<std::unique_ptr<plugin::Plugin>> MakeAgencyPlugin(const AgencyPluginSpec& spec,
                                                         const plugin::PluginContext& context) {
  if (!spec.agency_ok(context.agency))
    return Status::InvalidArgument("plugin " + spec.plugin_name + " serves agency " + spec.agency_expected + ", not '" +
                                   context.agency + "'");
  plugin::ConfigSchema schema;
  sink::DeclareSinkKeys(&schema);
  for (const auto& k : spec.extra_keys) schema.Add(k);
  auto config = schema.Parse(context.config);
  if (!config.ok()) return config.status();
  auto mapper = spec.make_mapper(context.agency, config.value());
  if (!mapper.ok()) return mapper.status();
  auto sink = sink::OpenSink(config.value(), context.host);
  if (!sink.ok()) return sink.status();
  context.host->Log(plugin::LogLevel::kInfo, "plugin " + spec.plugin_name + " ready for " + context.agency + " (sink " +
                                                 config->Get("sink.type") + ")");
  return std::unique_ptr<plugin::Plugin>(
      new AgencyPlugin(context.agency, std::move(mapper.value()), std::move(sink.value()), context.host));
}

}  // namespace yilian::agencies
