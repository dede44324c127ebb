// Allow lists compile into a tree of field names; pruning walks the set
// fields of the event by reflection against that tree.
#include "security/field_filter.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdint>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "wire/wire.h"

namespace yilian::security {

namespace internal {

// One step of an allow-list path. `whole` means the field and everything
// below it is kept; otherwise only the named children are.
struct PathNode {
  bool whole = false;
  std::map<std::string, std::unique_ptr<PathNode>, std::less<>> children;
  // The children again, indexed by FieldDescriptor::index() in the node's
  // message type (nullptr: not kept); filled by Compile for the wire walk,
  // which looks a child up for every field of every event.
  std::vector<const PathNode*> by_index;

  const PathNode* Child(std::string_view name) const {
    auto it = children.find(name);
    return it == children.end() ? nullptr : it->second.get();
  }
};

}  // namespace internal

namespace {

namespace pb = google::protobuf;
using internal::PathNode;

// Needed for routing, ordering and deduplication whatever the agency.
constexpr const char* kAlwaysKept[] = {"event_id", "type", "uscc", "revision", "occurred_at"};

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

// OK if `path` names a field of EnterpriseEvent; otherwise why not.
Status CheckPath(std::string_view path) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("allow-list path '" + std::string(path) + "': " + why);
  };
  if (path.empty()) return bad("empty path");
  const pb::Descriptor* type = v1::EnterpriseEvent::descriptor();
  for (std::string_view part : SplitPath(path)) {
    if (part.empty()) return bad("empty component (stray '.')");
    if (type == nullptr) return bad("goes below a field that is not a message");
    const pb::FieldDescriptor* field = type->FindFieldByName(std::string(part));
    if (field == nullptr) {
      return bad("'" + std::string(part) + "' is not a field of " + type->full_name());
    }
    type = field->message_type();
  }
  return Status::Ok();
}

void Insert(PathNode* root, std::string_view path) {
  PathNode* node = root;
  for (std::string_view part : SplitPath(path)) {
    if (node->whole) return;  // already covered by a shorter path
    auto it = node->children.find(part);
    if (it == node->children.end()) {
      it = node->children.emplace(std::string(part), std::make_unique<PathNode>()).first;
    }
    node = it->second.get();
  }
  node->whole = true;
  node->children.clear();
}

// Fills `by_index` below `node`, a node of message `type`. Only valid
// paths are in the tree, so every child names a field of `type`.
void IndexChildren(PathNode* node, const pb::Descriptor* type) {
  if (node->whole) return;
  node->by_index.assign(static_cast<std::size_t>(type->field_count()), nullptr);
  for (auto& [name, child] : node->children) {
    const pb::FieldDescriptor* field = type->FindFieldByName(name);
    node->by_index[static_cast<std::size_t>(field->index())] = child.get();
    if (field->message_type() != nullptr) IndexChildren(child.get(), field->message_type());
  }
}

// Invalid paths are skipped when `skip_invalid`, refused otherwise.
Result<std::shared_ptr<const PathNode>> Compile(const FieldAllowList& list, bool skip_invalid) {
  auto root = std::make_shared<PathNode>();
  for (const std::string& path : list.paths) {
    if (Status s = CheckPath(path); !s.ok()) {
      if (skip_invalid) continue;
      return s;
    }
    Insert(root.get(), path);
  }
  for (const char* path : kAlwaysKept) Insert(root.get(), path);
  IndexChildren(root.get(), v1::EnterpriseEvent::descriptor());
  return std::shared_ptr<const PathNode>(std::move(root));
}

void PruneMessage(const PathNode& node, pb::Message* message) {
  const pb::Reflection* reflection = message->GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const pb::FieldDescriptor* field : fields) {
    const PathNode* child = node.Child(field->name());
    if (child == nullptr) {
      reflection->ClearField(message, field);
    } else if (child->whole) {
      continue;
    } else if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      // Only a path that goes below a scalar gets here; it covers nothing.
      reflection->ClearField(message, field);
    } else if (field->is_repeated()) {
      for (int i = 0, n = reflection->FieldSize(*message, field); i < n; ++i) {
        PruneMessage(*child, reflection->MutableRepeatedMessage(message, field, i));
      }
    } else {
      PruneMessage(*child, reflection->MutableMessage(message, field));
    }
  }
}

// True when `node` keeps every field of `field` (and below).
bool FullyCovered(const PathNode* node, const pb::FieldDescriptor* field) {
  if (node == nullptr) return false;
  if (node->whole) return true;
  const pb::Descriptor* type = field->message_type();
  if (type == nullptr) return false;
  for (int i = 0; i < type->field_count(); ++i) {
    if (!FullyCovered(node->Child(type->field(i)->name()), type->field(i))) return false;
  }
  return true;
}

// A change is about one field of Enterprise; the agency sees it only if it
// sees that field, and sees its values only if it sees all of that field.
void FilterChanges(const PathNode& root, v1::EnterpriseEvent* event) {
  if (event->changes().empty()) return;
  const PathNode* enterprise = root.Child("enterprise");
  auto* changes = event->mutable_changes();
  int kept = 0;
  for (int i = 0; i < changes->size(); ++i) {
    v1::FieldChange* change = changes->Mutable(i);
    const pb::FieldDescriptor* field = v1::Enterprise::descriptor()->FindFieldByName(change->field());
    if (field == nullptr || enterprise == nullptr) continue;
    bool full = enterprise->whole;
    if (!full) {
      const PathNode* node = enterprise->Child(field->name());
      if (node == nullptr) continue;
      full = FullyCovered(node, field);
    }
    if (!full) {
      change->clear_old_value();
      change->clear_new_value();
    }
    if (kept != i) changes->SwapElements(kept, i);
    ++kept;
  }
  changes->DeleteSubrange(kept, changes->size() - kept);
}

void PruneWith(const PathNode& root, v1::EnterpriseEvent* event) {
  event->DiscardUnknownFields();
  PruneMessage(root, event);
  FilterChanges(root, event);
}

// --- The same filter on the wire format (wire/wire.h) ---

// What the parser does with a field whose wire type is not the declared
// one: it keeps it as an unknown field (which pruning drops).
bool WireTypeMatches(const pb::FieldDescriptor* field, wire::WireType wire_type) {
  using pb::internal::WireFormatLite;
  auto expected = WireFormatLite::WireTypeForFieldType(static_cast<WireFormatLite::FieldType>(field->type()));
  if (static_cast<int>(wire_type) == static_cast<int>(expected)) return true;
  return field->is_packable() && wire_type == wire::WireType::kLengthDelimited;
}

// FilterChanges for one encoded, already pruned FieldChange: false if the
// change is dropped; clears its values in place unless the agency sees all
// of the field it names.
bool KeepChangeWire(const PathNode& root, std::string* change) {
  const PathNode* enterprise = root.Child("enterprise");
  if (enterprise == nullptr) return false;
  std::string_view name;
  wire::Reader reader(*change);
  while (!reader.done()) {
    wire::Field f;
    if (!reader.ReadField(&f)) return false;
    if (f.number == v1::FieldChange::kFieldFieldNumber && f.type == wire::WireType::kLengthDelimited) name = f.payload;
  }
  const pb::FieldDescriptor* field = v1::Enterprise::descriptor()->FindFieldByName(std::string(name));
  if (field == nullptr) return false;
  bool full = enterprise->whole;
  if (!full) {
    const PathNode* node = enterprise->Child(field->name());
    if (node == nullptr) return false;
    full = FullyCovered(node, field);
  }
  if (full) return true;
  std::string kept;
  wire::Reader again(*change);
  while (!again.done()) {
    wire::Field f;
    if (!again.ReadField(&f)) return false;
    if (f.number == v1::FieldChange::kOldValueFieldNumber || f.number == v1::FieldChange::kNewValueFieldNumber)
      continue;
    kept.append(f.begin, f.end);
  }
  *change = std::move(kept);
  return true;
}

// Appends to `out` the fields of the encoded message `in` of `type` that
// `node` keeps (nullptr: every known field). `root` is set only for the
// top-level EnterpriseEvent, whose `changes` get the content filter.
bool PruneWire(const pb::Descriptor* type, const PathNode* node, const PathNode* root, std::string_view in,
               std::string* out, int depth) {
  if (depth > wire::kMaxDepth) return false;
  wire::Reader reader(in);
  while (!reader.done()) {
    wire::Field f;
    if (!reader.ReadField(&f, depth) || f.type == wire::WireType::kEndGroup) return false;
    const pb::FieldDescriptor* field = type->FindFieldByNumber(static_cast<int>(f.number));
    if (field == nullptr || !WireTypeMatches(field, f.type)) continue;  // unknown: dropped
    const PathNode* child = nullptr;                                    // nullptr: keep the field whole
    if (node != nullptr) {
      child = node->by_index[static_cast<std::size_t>(field->index())];
      if (child == nullptr) continue;
      if (child->whole) {
        child = nullptr;
      } else if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        continue;  // a path below a scalar covers nothing
      }
    }
    if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      out->append(f.begin, f.end);
      continue;
    }
    // Unknown fields inside kept messages go too, so messages are always
    // rewritten, never copied. The pruned content is written in place
    // after the tag and its length put in front of it afterwards.
    const std::size_t tag_at = out->size();
    out->append(f.begin, f.tag_end);
    const std::size_t content_at = out->size();
    if (!PruneWire(field->message_type(), child, nullptr, f.payload, out, depth + 1)) return false;
    if (root != nullptr && field->number() == v1::EnterpriseEvent::kChangesFieldNumber) {
      std::string change = out->substr(content_at);
      out->resize(content_at);
      if (!KeepChangeWire(*root, &change)) {
        out->resize(tag_at);
        continue;
      }
      wire::AppendVarint(change.size(), out);
      out->append(change);
      continue;
    }
    std::string length;
    wire::AppendVarint(out->size() - content_at, &length);
    out->insert(content_at, length);
  }
  return true;
}

}  // namespace

Status ValidateAllowList(const FieldAllowList& list) {
  for (const std::string& path : list.paths) {
    if (Status s = CheckPath(path); !s.ok()) return s;
  }
  return Status::Ok();
}

void Prune(const FieldAllowList& list, v1::EnterpriseEvent* event) {
  auto root = Compile(list, /*skip_invalid=*/true);
  PruneWith(*root.value(), event);
}

Result<FieldFilter> FieldFilter::Create(const FieldAllowList& list) {
  auto root = Compile(list, /*skip_invalid=*/false);
  if (!root.ok()) return root.status();
  return FieldFilter(std::move(root.value()));
}

void FieldFilter::Prune(v1::EnterpriseEvent* event) const { PruneWith(*root_, event); }

Result<std::string> FieldFilter::PruneEncoded(std::string_view encoded) const {
  std::string out;
  out.reserve(encoded.size());
  if (!PruneWire(v1::EnterpriseEvent::descriptor(), root_.get(), root_.get(), encoded, &out, 0))
    return Status::InvalidArgument("not a well-formed encoding of yilian.v1.EnterpriseEvent");
  return out;
}

FieldAllowList DefaultAllowList(const std::string& agency_id) {
  // Why each agency gets what it gets (DOMAIN section 3, minimum necessary):
  // - tax: the USCC is the taxpayer id; the tax record needs name, type,
  //   legal representative (the taxpayer's responsible person, with ID),
  //   address, capital, scope, accounting method and headcount; region and
  //   establishment date place the record; the registration authority is on
  //   the tax registration form. Deregistration drives tax clearance.
  // - social_insurance: opens the employer unit: name, region, unit category
  //   (entity type), industry, legal representative (name and ID, not the
  //   phone), address, and the date from which contributions may be due.
  // - housing_fund: name, address and the legal representative's name and
  //   ID, by which the fund centre matches existing records; not the phone.
  // Only tax and the bank get the legal representative's phone. The table in
  // docs/agencies.md section 6 is the contract these lists are tested
  // against (tests/server/minimum_necessary_test.cc).
  // - bank (any "bank:<code>"; routing sends an event only to the bank the
  //   enterprise chose): name, legal representative, address and the
  //   reservation itself.
  // Nobody gets the contact person (联络员) or fields not listed: the
  // business scope goes only to tax, the industry code only to social
  // insurance. Every agency that acts on changes and deregistrations gets
  // `changes` (filtered to the fields it sees) and `deregistration`.
  FieldAllowList list;
  auto add = [&](std::initializer_list<const char*> paths) {
    for (const char* p : paths) list.paths.emplace_back(p);
  };
  if (agency_id == "tax") {
    add({"uscc", "enterprise.name", "enterprise.entity_type", "enterprise.legal_representative", "enterprise.address",
         "enterprise.registered_capital", "enterprise.business_scope", "enterprise.accounting_method",
         "enterprise.employee_count", "enterprise.established_on", "enterprise.region_code", "authority", "changes",
         "deregistration"});
  } else if (agency_id == "social_insurance") {
    add({"enterprise.name", "enterprise.region_code", "enterprise.entity_type", "enterprise.industry_code",
         "enterprise.legal_representative.name", "enterprise.legal_representative.id_type",
         "enterprise.legal_representative.id_number", "enterprise.address", "enterprise.established_on", "changes",
         "deregistration"});
  } else if (agency_id == "housing_fund") {
    add({"enterprise.name", "enterprise.legal_representative.name", "enterprise.legal_representative.id_type",
         "enterprise.legal_representative.id_number", "enterprise.address", "changes", "deregistration"});
  } else if (agency_id.rfind("bank:", 0) == 0) {
    add({"enterprise.name", "enterprise.legal_representative", "enterprise.address", "bank_reservation", "changes",
         "deregistration"});
  }
  return list;
}

}  // namespace yilian::security
