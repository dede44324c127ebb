// What the four agency plugins share: the outcome of mapping one event to
// one agency's record (Mapped), the helpers every mapping uses (person,
// changes, times, required-field checks), and AgencyPlugin, which joins a
// mapping to a sink. Each agency's own rules live in its directory.
//
// Pure functions; AgencyPlugin is used from one thread at a time (the
// host serializes plugin calls).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "plugin_sdk/plugin.h"
#include "sink/sink.h"
#include "yilian/agency/v1/event.pb.h"
#include "yilian/agency/v1/records.pb.h"

namespace yilian::agencies {

namespace av1 = ::yilian::agency::v1;

struct Mapped {
  enum class Kind {
    kSend,           // submission is ready for the agency
    kNotApplicable,  // nothing for this agency to do (e.g. no field it holds changed)
    kIncomplete,     // the event lacks what the agency needs; refused before sending
  };
  Kind kind = Kind::kSend;
  av1::AgencySubmission submission;
  std::string detail;  // kNotApplicable: why; kIncomplete: what is missing
};

// Maps one delivery (with its event) for one agency.
using Mapper = std::function<Mapped(const plugin::Delivery&)>;

// A canonical field and the agency's name for it, e.g. {"address", "注册地址"}.
using ItemNames = std::map<std::string, std::string>;

// Collects the fields an agency needs but the event lacks.
class Requirements {
 public:
  // Records `label` (e.g. "法定代表人证件号码 enterprise.legal_representative.id_number")
  // as missing unless `present`.
  void Need(bool present, std::string_view label);
  bool ok() const { return missing_.empty(); }
  // "缺少<what>: a, b".
  std::string Describe(std::string_view what) const;

 private:
  std::vector<std::string> missing_;
};

// Header fields of a submission: event id, agency, uscc, type, sequence, time.
void FillHeader(const plugin::Delivery& delivery, av1::AgencySubmission* submission);

// The agency's view of a person; `with_phone` only for agencies that need it.
// Returns false when the id type has no code in `id_type_codes`.
bool MapPerson(const av1::Person& person, const std::map<av1::IdType, std::string>& id_type_codes, bool with_phone,
               av1::PersonRecord* out);

// The changes of a CHANGED event whose field the agency holds, named the
// agency's way, in the event's order. For the fields in `without_values`
// the item carries no before/after: the agency sees only part of such a
// field (social insurance sees the legal representative without the
// phone), and a change's free-text values may hold any part of it. The
// broker clears those values too (docs/agencies.md section 6); the plugin
// does not rely on it.
void MapChanges(const av1::EnterpriseEvent& event, const ItemNames& names, const std::set<std::string>& without_values,
                google::protobuf::RepeatedPtrField<av1::ChangeItem>* out);

// occurred_at as RFC 3339 UTC ("" if unset).
std::string EffectiveAt(const av1::EnterpriseEvent& event);

// 1 一般注销 (NORMAL), 2 简易注销 (SIMPLIFIED), "" if unset.
std::string DeregistrationModeCode(av1::DeregistrationMode mode);

bool IsUscc(const std::string& text);

Mapped NotApplicable(std::string why);

// An agency's action codes for the event types it acts on.
struct ActionCodes {
  const char* established;
  const char* changed;
  const char* deregistered;
};
// The code for `type`, or nullptr for a type the agency does not act on.
const char* ActionFor(av1::EventType type, const ActionCodes& codes);
Mapped Incomplete(std::string what);

// Joins a mapping and a sink: Submit maps the event and sends it (or answers
// locally: PROCESSED with reference NOT_APPLICABLE, REJECTED for an incomplete
// event), Check asks the sink.
class AgencyPlugin final : public plugin::Plugin {
 public:
  AgencyPlugin(std::string agency, Mapper mapper, std::unique_ptr<sink::Sink> sink, const plugin::Host* host)
      : agency_(std::move(agency)), mapper_(std::move(mapper)), sink_(std::move(sink)), host_(host) {}

  plugin::Answer Submit(const plugin::Delivery& delivery) override;
  plugin::Answer Check(const plugin::Delivery& delivery) override;

 private:
  std::string agency_;
  Mapper mapper_;
  std::unique_ptr<sink::Sink> sink_;
  const plugin::Host* host_;
};

// The reference answered for events the agency has nothing to do with.
inline constexpr std::string_view kNotApplicableReference = "NOT_APPLICABLE";

// The common factory: declares the sink keys plus `extra`, parses the
// configuration, checks the agency id with `agency_ok`, opens the sink and
// builds the mapper.
struct AgencyPluginSpec {
  std::string plugin_name;
  std::function<bool(const std::string& agency)> agency_ok;
  std::string agency_expected;  // for the error, e.g. "tax" or "bank:<code>"
  std::vector<plugin::ConfigKey> extra_keys;
  std::function<Result<Mapper>(const std::string& agency, const plugin::ConfigValues& config)> make_mapper;
};
Result<std::unique_ptr<plugin::Plugin>> MakeAgencyPlugin(const AgencyPluginSpec& spec,
                                                         const plugin::PluginContext& context);

}  // namespace yilian::agencies
