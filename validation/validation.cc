// Validate(): the rules an EnterpriseEvent must satisfy before the broker
// stores it. Two passes over the event:
//  1. a reflective pass over every string field (present and future ones):
//     well-formed UTF-8 and within its byte limit;
//  2. the field rules (required, formats, check digits, per-type rules),
//     which skip a field the first pass already rejected, so one bad value
//     yields one error.
// Errors of both passes are then put in field-number order.
#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "common/mask.h"
#include "validation/validation.h"

namespace yilian::validation {
namespace {

namespace pb = google::protobuf;
namespace v1 = yilian::v1;

// Stable error codes: clients match on these, so they never change meaning.
constexpr std::string_view kRequired = "REQUIRED";
constexpr std::string_view kInvalidFormat = "INVALID_FORMAT";
constexpr std::string_view kInvalidValue = "INVALID_VALUE";
constexpr std::string_view kCheckDigit = "CHECK_DIGIT";
constexpr std::string_view kTooLong = "TOO_LONG";
constexpr std::string_view kTooLarge = "TOO_LARGE";
constexpr std::string_view kTooMany = "TOO_MANY";
constexpr std::string_view kInvalidUtf8 = "INVALID_UTF8";
constexpr std::string_view kUnknownEnum = "UNKNOWN_ENUM";
constexpr std::string_view kNotAllowed = "NOT_ALLOWED";

constexpr size_t kMaxEventIdBytes = 128;
constexpr std::uint64_t kMaxRevision = (std::uint64_t{1} << 53) - 1;

// GB 32100-2015 character set (the same table check_digits.cc computes with);
// needed here to point at the offending position.
constexpr std::string_view kUsccCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY";

// Registered items a CHANGED event may name (see FieldChange in event.proto).
constexpr std::array<std::string_view, 12> kChangeableFields = {
    "name",           "entity_type",    "legal_representative", "registered_capital",
    "address",        "business_scope", "shareholders",         "region_code",
    "accounting_method", "employee_count", "contact",            "industry_code"};

bool IsChangeableField(std::string_view name) {
  return std::find(kChangeableFields.begin(), kChangeableFields.end(), name) != kChangeableFields.end();
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

bool AllOf(std::string_view s, bool (*pred)(char)) {
  return std::all_of(s.begin(), s.end(), pred);
}

bool IsEventIdChar(char c) {
  return IsDigit(c) || IsUpper(c) || (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == ':' || c == '-';
}

bool IsBankCodeChar(char c) { return IsDigit(c) || IsUpper(c); }

// "YYYY-MM-DD" shape only; the calendar is checked separately.
bool HasDateShape(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  return AllOf(s.substr(0, 4), IsDigit) && AllOf(s.substr(5, 2), IsDigit) && AllOf(s.substr(8, 2), IsDigit);
}

bool IsCalendarDate(std::string_view yyyy_mm_dd) {
  auto num = [&](size_t pos, size_t len) {
    unsigned v = 0;
    for (char c : yyyy_mm_dd.substr(pos, len)) v = v * 10 + static_cast<unsigned>(c - '0');
    return v;
  };
  std::chrono::year_month_day ymd{std::chrono::year{static_cast<int>(num(0, 4))}, std::chrono::month{num(5, 2)},
                                  std::chrono::day{num(8, 2)}};
  return ymd.ok() && num(0, 4) >= 1;
}

// A path like "changes[2].field" as field numbers and indexes, so errors can
// be sorted into the order the fields appear in the schema.
std::vector<int> OrderKey(std::string_view path) {
  std::vector<int> key;
  const pb::Descriptor* d = v1::EnterpriseEvent::descriptor();
  while (!path.empty() && d != nullptr) {
    size_t dot = path.find('.');
    std::string_view seg = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    int index = -1;
    if (size_t br = seg.find('['); br != std::string_view::npos) {
      index = 0;
      for (char c : seg.substr(br + 1)) {
        if (!IsDigit(c)) break;
        index = index * 10 + (c - '0');
      }
      seg = seg.substr(0, br);
    }
    const pb::FieldDescriptor* f = d->FindFieldByName(std::string(seg));
    if (f == nullptr) {
      key.push_back(INT_MAX);
      break;
    }
    key.push_back(f->number());
    if (index >= 0) key.push_back(index);
    d = f->message_type();
  }
  return key;
}

// The string and message fields of a message type, with the limit that
// applies to each: looked up once per type and thread instead of listing
// the set fields of every message of every event.
struct TextField {
  enum class Limit { kString, kScope, kChangeValue };
  const pb::FieldDescriptor* field;
  bool is_message;
  bool is_bytes;
  Limit limit;
};

const std::vector<TextField>& TextFieldsOf(const pb::Descriptor* d) {
  thread_local std::unordered_map<const pb::Descriptor*, std::vector<TextField>> cache;
  auto it = cache.find(d);
  if (it != cache.end()) return it->second;
  std::vector<TextField> fields;
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      fields.push_back({f, true, false, TextField::Limit::kString});
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
      TextField::Limit limit = TextField::Limit::kString;
      if (f->name() == "business_scope") {
        limit = TextField::Limit::kScope;
      } else if (d == v1::FieldChange::descriptor() && f->name() != "field") {
        limit = TextField::Limit::kChangeValue;
      }
      fields.push_back({f, false, f->type() == pb::FieldDescriptor::TYPE_BYTES, limit});
    }
  }
  return cache.emplace(d, std::move(fields)).first->second;
}

class Checker {
 public:
  Checker(const v1::EnterpriseEvent& event, const Options& options) : event_(event), options_(options) {}

  std::vector<FieldError> Run() {
    CheckSize();
    CheckText(event_, "");
    CheckHeader();
    CheckEnterprise();
    CheckChanges();
    CheckBankReservation();
    CheckDeregistration();
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<FieldError> out;
    out.reserve(errors_.size());
    for (auto& [key, error] : errors_) out.push_back(std::move(error));
    return out;
  }

 private:
  void Add(const std::string& path, std::string_view code, std::string_view message) {
    // Safety net: messages are written not to quote personal data, but a
    // number that slipped through is masked before it leaves this module.
    errors_.emplace_back(OrderKey(path), FieldError{path, std::string(code), ScrubPersonalData(message)});
  }

  // True if the value may be checked further: the text pass accepted it.
  bool Readable(const std::string& path) const { return bad_text_.count(path) == 0; }

  void CheckSize() {
    size_t size = event_.ByteSizeLong();
    if (size > options_.max_event_bytes) {
      Add("", kTooLarge,
          "event is " + std::to_string(size) + " bytes in binary form, limit " +
              std::to_string(options_.max_event_bytes));
    }
  }

  // Pass 1: every string field, found by reflection so a field added to the
  // schema is covered without touching this file. Paths are built only for
  // nested messages and for problems: this runs for every published event.
  void CheckText(const pb::Message& msg, const std::string& prefix) {
    const pb::Reflection* r = msg.GetReflection();
    auto path_of = [&](const pb::FieldDescriptor* f) { return prefix.empty() ? f->name() : prefix + "." + f->name(); };
    for (const TextField& t : TextFieldsOf(msg.GetDescriptor())) {
      const pb::FieldDescriptor* f = t.field;
      if (t.is_message) {
        if (f->is_repeated()) {
          for (int i = 0, n = r->FieldSize(msg, f); i < n; ++i) {
            CheckText(r->GetRepeatedMessage(msg, f, i), path_of(f) + "[" + std::to_string(i) + "]");
          }
        } else if (r->HasField(msg, f)) {
          CheckText(r->GetMessage(msg, f), path_of(f));
        }
        continue;
      }
      size_t limit = TextLimit(msg, t);
      // bytes fields hold any bytes; proto3 strings decoded from the wire
      // were already checked by the parser when the caller says so.
      bool utf8 = !t.is_bytes && !options_.utf8_already_verified;
      std::string scratch;
      if (f->is_repeated()) {
        for (int i = 0, n = r->FieldSize(msg, f); i < n; ++i) {
          const std::string& value = r->GetRepeatedStringReference(msg, f, i, &scratch);
          if (TextProblem(value, limit, utf8)) {
            CheckOneText(path_of(f) + "[" + std::to_string(i) + "]", value, limit, utf8);
          }
        }
      } else {
        // An absent string reads as "", which has no problem.
        const std::string& value = r->GetStringReference(msg, f, &scratch);
        if (TextProblem(value, limit, utf8)) CheckOneText(path_of(f), value, limit, utf8);
      }
    }
  }

  static bool TextProblem(const std::string& value, size_t limit, bool utf8) {
    return value.size() > limit || (utf8 && !IsValidUtf8(value));
  }

  size_t TextLimit(const pb::Message& msg, const TextField& t) const {
    switch (t.limit) {
      case TextField::Limit::kScope: return options_.max_scope_bytes;
      case TextField::Limit::kChangeValue: {
        // A change of the business scope carries scopes as its values.
        std::string scratch;
        const pb::FieldDescriptor* field = msg.GetDescriptor()->FindFieldByName("field");
        if (field && msg.GetReflection()->GetStringReference(msg, field, &scratch) == "business_scope")
          return options_.max_scope_bytes;
        return options_.max_string_bytes;
      }
      case TextField::Limit::kString: break;
    }
    return options_.max_string_bytes;
  }

  void CheckOneText(const std::string& path, const std::string& value, size_t limit, bool utf8) {
    if (utf8 && !IsValidUtf8(value)) {
      bad_text_.insert(path);
      Add(path, kInvalidUtf8, "is not valid UTF-8");
    } else if (value.size() > limit) {
      bad_text_.insert(path);
      Add(path, kTooLong, "is " + std::to_string(value.size()) + " bytes, limit " + std::to_string(limit));
    }
  }

  void Required(const std::string& path, const std::string& value) {
    if (value.empty()) Add(path, kRequired, "is required");
  }

  void CheckHeader() {
    const std::string& id = event_.event_id();
    if (id.empty()) {
      Add("event_id", kRequired, "is required");
    } else if (Readable("event_id")) {
      if (id.size() > kMaxEventIdBytes) {
        Add("event_id", kTooLong,
            "is " + std::to_string(id.size()) + " characters, limit " + std::to_string(kMaxEventIdBytes));
      } else if (!AllOf(id, IsEventIdChar)) {
        Add("event_id", kInvalidFormat, "may contain only A-Z a-z 0-9 . _ : -");
      }
    }

    if (event_.type() == v1::EVENT_TYPE_UNSPECIFIED) {
      Add("type", kRequired, "is required (ESTABLISHED, CHANGED, FILED or DEREGISTERED)");
    } else if (!v1::EventType_IsValid(event_.type())) {
      Add("type", kUnknownEnum, "unknown event type " + std::to_string(event_.type()));
    }

    CheckUscc();

    if (event_.revision() == 0) Add("revision", kRequired, "is required and must be at least 1");
    // A revision near 2^64 would make every later event of the enterprise
    // stale for good; 2^53 - 1 is also the largest integer every JSON
    // client reads exactly.
    if (event_.revision() > kMaxRevision)
      Add("revision", kInvalidValue, "is larger than " + std::to_string(kMaxRevision) + " (2^53 - 1)");

    if (!event_.has_occurred_at()) {
      Add("occurred_at", kRequired, "is required");
    } else {
      // The range google.protobuf.Timestamp allows (years 0001-9999); binary
      // input is not range-checked by the parser, JSON input is.
      const auto& ts = event_.occurred_at();
      if (ts.seconds() < -62135596800LL || ts.seconds() > 253402300799LL || ts.nanos() < 0 ||
          ts.nanos() > 999999999) {
        Add("occurred_at", kInvalidValue, "is outside the range of a timestamp (years 0001-9999)");
      }
    }

    Required("authority", event_.authority());
  }

  void CheckUscc() {
    const std::string& uscc = event_.uscc();
    if (uscc.empty()) {
      Add("uscc", kRequired, "is required");
      return;
    }
    if (!Readable("uscc")) return;
    if (uscc.size() != 18) {
      Add("uscc", kInvalidFormat, "must be 18 characters, got " + std::to_string(uscc.size()));
      return;
    }
    // Positions 1-17 must come from the set in either mode. Position 18 is
    // the check character: in strict mode any mismatch (including a
    // character outside the set) is a check-digit error; the lenient mode
    // accepts a mismatch but not a character outside the set.
    for (size_t i = 0; i < uscc.size(); ++i) {
      if (i == 17 && options_.strict_uscc_checksum) break;
      if (kUsccCharset.find(uscc[i]) == std::string_view::npos) {
        Add("uscc", kInvalidFormat, "character " + std::to_string(i + 1) + " is not in the GB 32100 set" +
                                        CharsetHint(uscc[i]));
        return;
      }
    }
    char expected = UsccCheckCharacter(std::string_view(uscc).substr(0, 17));
    if (options_.strict_uscc_checksum && uscc[17] != expected) {
      Add("uscc", kCheckDigit,
          std::string("check character is '") + SafeChar(uscc[17]) + "', GB 32100-2015 gives '" + expected + "'" +
              (uscc[17] >= 'a' && uscc[17] <= 'z' ? " (letters must be uppercase)" : ""));
    }
  }

  static std::string CharsetHint(char c) {
    return c >= 'a' && c <= 'z' ? " (letters must be uppercase)" : " (allowed: 0-9 and A-Z except I, O, S, V, Z)";
  }

  // A byte fit to quote in a message: printable ASCII as is, else '?'.
  static char SafeChar(char c) { return c >= 0x20 && c < 0x7F ? c : '?'; }

  // A masked value followed by a space, to name the value in a message; or
  // nothing if it is not plain printable ASCII, since masking counts bytes
  // and may have cut a multi-byte character in two.
  static std::string Shown(const std::string& masked) {
    bool printable = std::all_of(masked.begin(), masked.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
    return printable && !masked.empty() ? masked + " " : std::string();
  }

  // `full_identity`: name, id_type and id_number are all required (the legal
  // representative of a new enterprise); otherwise only the name is, and a
  // document number needs its type and the other way round.
  void CheckPerson(const v1::Person& p, const std::string& path, bool full_identity) {
    Required(path + ".name", p.name());

    const std::string type_path = path + ".id_type";
    if (!v1::IdType_IsValid(p.id_type())) {
      Add(type_path, kUnknownEnum, "unknown ID type " + std::to_string(p.id_type()));
    } else if (p.id_type() == v1::ID_TYPE_UNSPECIFIED && (full_identity || !p.id_number().empty())) {
      Add(type_path, kRequired, full_identity ? "is required" : "is required when id_number is set");
    }

    const std::string number_path = path + ".id_number";
    const std::string& number = p.id_number();
    if (number.empty()) {
      if (full_identity || p.id_type() != v1::ID_TYPE_UNSPECIFIED) Add(number_path, kRequired, "is required");
    } else if (p.id_type() == v1::RESIDENT_ID && Readable(number_path)) {
      CheckResidentId(number_path, number);
    }

    const std::string phone_path = path + ".phone";
    const std::string& phone = p.phone();
    if (!phone.empty() && Readable(phone_path)) {
      std::string_view digits = phone;
      if (digits.front() == '+') digits.remove_prefix(1);
      if (phone.size() < 5 || phone.size() > 20 || digits.empty() || !AllOf(digits, IsDigit)) {
        Add(phone_path, kInvalidFormat,
            Shown(MaskPhone(phone)) + "must be 5 to 20 characters: digits with an optional leading '+'");
      }
    }
  }

  void CheckResidentId(const std::string& path, const std::string& id) {
    // Masked only for a message: most numbers are valid.
    auto masked = [&id] { return Shown(MaskIdNumber(id)); };
    std::string_view body = std::string_view(id).substr(0, std::min<size_t>(id.size(), 17));
    if (id.size() != 18 || !AllOf(body, IsDigit)) {
      Add(path, kInvalidFormat, "resident ID " + masked() + "must be 17 digits and a check character");
      return;
    }
    char last = id[17];
    if (last == 'x') {
      Add(path, kInvalidFormat, "resident ID " + masked() + "must end in an uppercase X, not x");
      return;
    }
    if (!IsDigit(last) && last != 'X') {
      Add(path, kInvalidFormat, "resident ID " + masked() + "must end in a digit or X");
      return;
    }
    if (ResidentIdCheckCharacter(body) != last) {
      // The expected character is not quoted: it would reveal part of the
      // number the mask hides.
      Add(path, kCheckDigit, "resident ID " + masked() + "has a wrong check character (GB 11643 MOD 11-2)");
      return;
    }
    if (!IsValidResidentId(id)) {
      // Format and check character are right, so the birth date is what failed.
      Add(path, kInvalidValue, "resident ID " + masked() + "does not hold a real birth date between 1800 and today");
    }
  }

  void CheckMoney(const v1::Money& m, const std::string& path) {
    const std::string amount_path = path + ".amount";
    const std::string& amount = m.amount();
    if (amount.empty()) {
      Add(amount_path, kRequired, "is required");
    } else if (Readable(amount_path)) {
      size_t dot = amount.find('.');
      std::string_view whole = std::string_view(amount).substr(0, dot);
      std::string_view frac =
          dot == std::string::npos ? std::string_view() : std::string_view(amount).substr(dot + 1);
      if (amount.find_first_of("eE") != std::string::npos) {
        Add(amount_path, kInvalidFormat, "must be a plain decimal number; exponent notation is not allowed");
      } else if (whole.empty() || !AllOf(whole, IsDigit) || (dot != std::string::npos && frac.empty()) ||
                 !AllOf(frac, IsDigit)) {
        Add(amount_path, kInvalidFormat, "must be a non-negative decimal number such as 1000000.00");
      } else if (frac.size() > 2) {
        Add(amount_path, kInvalidFormat, "has more than 2 decimals");
      }
    }

    const std::string currency_path = path + ".currency";
    const std::string& currency = m.currency();
    if (currency.empty()) {
      Add(currency_path, kRequired, "is required (ISO 4217, e.g. CNY)");
    } else if (Readable(currency_path) && (currency.size() != 3 || !AllOf(currency, IsUpper))) {
      Add(currency_path, kInvalidFormat, "must be 3 uppercase letters (ISO 4217, e.g. CNY)");
    }
  }

  void CheckEnterprise() {
    if (!event_.has_enterprise()) {
      Add("enterprise", kRequired, "is required");
      return;
    }
    const v1::Enterprise& e = event_.enterprise();
    Required("enterprise.name", e.name());
    Required("enterprise.entity_type", e.entity_type());

    const bool established = event_.type() == v1::ESTABLISHED;
    if (e.has_legal_representative()) {
      CheckPerson(e.legal_representative(), "enterprise.legal_representative", established);
    } else if (established) {
      Add("enterprise.legal_representative", kRequired, "is required for an ESTABLISHED event");
    }

    if (e.has_registered_capital()) CheckMoney(e.registered_capital(), "enterprise.registered_capital");

    Required("enterprise.address", e.address());

    if (!e.established_on().empty() && Readable("enterprise.established_on")) {
      if (!HasDateShape(e.established_on())) {
        Add("enterprise.established_on", kInvalidFormat, "must be a date YYYY-MM-DD");
      } else if (!IsCalendarDate(e.established_on())) {
        Add("enterprise.established_on", kInvalidValue, "is not a real calendar date");
      }
    }

    if (!e.region_code().empty() && Readable("enterprise.region_code") &&
        (e.region_code().size() != 6 || !AllOf(e.region_code(), IsDigit))) {
      Add("enterprise.region_code", kInvalidFormat, "must be 6 digits (GB/T 2260)");
    }

    if (e.has_contact()) CheckPerson(e.contact(), "enterprise.contact", false);
  }

  void CheckChanges() {
    const auto& changes = event_.changes();
    if (event_.type() == v1::CHANGED) {
      if (changes.empty()) {
        Add("changes", kRequired, "a CHANGED event needs at least one change");
        return;
      }
      if (static_cast<size_t>(changes.size()) > options_.max_changes) {
        Add("changes", kTooMany,
            std::to_string(changes.size()) + " changes, limit " + std::to_string(options_.max_changes));
      }
    } else if (!changes.empty()) {
      // An unknown type is already reported; only a known other type makes
      // changes wrong.
      if (v1::EventType_IsValid(event_.type()) && event_.type() != v1::EVENT_TYPE_UNSPECIFIED) {
        Add("changes", kNotAllowed, "only a CHANGED event carries changes");
      }
      return;
    }

    std::set<std::string_view> seen;
    for (int i = 0; i < changes.size(); ++i) {
      const v1::FieldChange& c = changes[i];
      const std::string path = "changes[" + std::to_string(i) + "]";
      const std::string field_path = path + ".field";
      if (c.field().empty()) {
        Add(field_path, kRequired, "is required");
      } else if (Readable(field_path)) {
        if (!IsChangeableField(c.field())) {
          Add(field_path, kInvalidValue, "is not a registered item that can change; see FieldChange in event.proto");
        } else if (!seen.insert(c.field()).second) {
          Add(field_path, kInvalidValue, "the same item is changed twice in one event");
        }
      }
      if (c.new_value() == c.old_value() && Readable(path + ".new_value") && Readable(path + ".old_value")) {
        Add(path + ".new_value", kInvalidValue, "equals old_value; nothing changed");
      }
    }
  }

  void CheckBankReservation() {
    if (!event_.has_bank_reservation()) return;
    const std::string& code = event_.bank_reservation().bank_code();
    if (code.empty()) {
      Add("bank_reservation.bank_code", kRequired, "is required");
    } else if (Readable("bank_reservation.bank_code") &&
               (code.size() < 2 || code.size() > 16 || !AllOf(code, IsBankCodeChar))) {
      Add("bank_reservation.bank_code", kInvalidFormat, "must be 2 to 16 characters of A-Z and 0-9");
    }
  }

  void CheckDeregistration() {
    const bool deregistered = event_.type() == v1::DEREGISTERED;
    if (!event_.has_deregistration()) {
      if (deregistered) Add("deregistration", kRequired, "is required for a DEREGISTERED event");
      return;
    }
    if (!deregistered && v1::EventType_IsValid(event_.type()) && event_.type() != v1::EVENT_TYPE_UNSPECIFIED) {
      Add("deregistration", kNotAllowed, "only a DEREGISTERED event carries deregistration");
      return;
    }
    auto mode = event_.deregistration().mode();
    if (!v1::DeregistrationMode_IsValid(mode)) {
      Add("deregistration.mode", kUnknownEnum, "unknown deregistration mode " + std::to_string(mode));
    } else if (mode == v1::DEREGISTRATION_MODE_UNSPECIFIED) {
      Add("deregistration.mode", kRequired, "is required (NORMAL or SIMPLIFIED)");
    }
  }

  const v1::EnterpriseEvent& event_;
  const Options& options_;
  std::set<std::string> bad_text_;
  std::vector<std::pair<std::vector<int>, FieldError>> errors_;
};

}  // namespace

std::vector<FieldError> Validate(const v1::EnterpriseEvent& event, const Options& options) {
  return Checker(event, options).Run();
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    char32_t cp;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2, cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3, cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4, cp = b & 0x07;
    } else {
      return false;  // continuation byte, overlong lead (C0, C1) or > U+10FFFF lead
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are
    // not UTF-8 (RFC 3629), even though the bytes look well formed.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace yilian::validation
