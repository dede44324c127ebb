// Allow lists compile into a tree of field names; pruning walks the set
// fields of the event by reflection against that tree.
#include "security/field_filter.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <map>
#include <string_view>
#include <utility>

namespace yilian::security {

namespace internal {

// One step of an allow-list path. `whole` means the field and everything
// below it is kept; otherwise only the named children are.
struct PathNode {
  bool whole = false;
  std::map<std::string, std::unique_ptr<PathNode>, std::less<>> children;

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

FieldAllowList DefaultAllowList(const std::string& agency_id) {
  // Why each agency gets what it gets (DOMAIN section 3, minimum necessary):
  // - tax: the USCC is the taxpayer id; the tax record needs name, type,
  //   legal representative (the taxpayer's responsible person, with ID),
  //   address, capital, scope, accounting method and headcount; region and
  //   establishment date place the record; the registration authority is on
  //   the tax registration form. Deregistration drives tax clearance.
  // - social_insurance: opens the employer unit: name, region, unit category
  //   (entity type), industry, legal representative, address, and the date
  //   from which contributions may be due.
  // - housing_fund: name, address and the legal representative, whose
  //   identity the fund centre uses to match existing records.
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
         "enterprise.legal_representative", "enterprise.address", "enterprise.established_on", "changes",
         "deregistration"});
  } else if (agency_id == "housing_fund") {
    add({"enterprise.name", "enterprise.legal_representative", "enterprise.address", "changes", "deregistration"});
  } else if (agency_id.rfind("bank:", 0) == 0) {
    add({"enterprise.name", "enterprise.legal_representative", "enterprise.address", "bank_reservation", "changes",
         "deregistration"});
  }
  return list;
}

}  // namespace yilian::security
