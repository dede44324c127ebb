// Minimum-necessary filtering of EnterpriseEvent (Personal Information
// Protection Law; see docs/security.md): before an event is handed to an
// agency, every field the agency does not need is cleared.
//
// An allow list is a set of field paths of yilian.v1.EnterpriseEvent, dotted
// proto field names: "enterprise.legal_representative" keeps that whole
// Person, "enterprise.legal_representative.name" keeps the enterprise and the
// Person but only the name inside it. A path into a repeated message field
// ("changes.field") applies to every element. A few fields are kept whatever
// the list says, because routing and ordering need them: event_id, type,
// uscc, revision, occurred_at.
//
// `changes` gets a second, content-based filter: a FieldChange is kept only
// if the enterprise field it names is (at least partly) allowed, and its
// old_value/new_value are cleared unless that field is allowed completely
// (a change of legal_representative may carry an ID number). A change naming
// something that is not a field of Enterprise ("shareholders") is therefore
// given to nobody.
//
// Unknown fields (from a newer schema) are always dropped: nobody can say
// what they hold.
//
// Pure functions over their arguments, safe from any thread. FieldFilter is
// immutable after Create and may be shared between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "yilian/v1/event.pb.h"

namespace yilian::security {

namespace internal {
struct PathNode;  // the compiled path tree, private to field_filter.cc
}

struct FieldAllowList {
  std::vector<std::string> paths;
};

// OK when every path names a real field of EnterpriseEvent (each step but the
// last a message field). The error names the first bad path.
Status ValidateAllowList(const FieldAllowList& list);

// Clears every field of `event` not covered by `list`, then filters
// `changes` as described above. Paths that do not name a field cover
// nothing (validate lists at start-up with ValidateAllowList).
void Prune(const FieldAllowList& list, v1::EnterpriseEvent* event);

// The default list for an agency id, from what each agency needs (DOMAIN
// section 3): "tax", "social_insurance", "housing_fund", and any "bank:..."
// id. The contact person (联络员) goes to nobody. An unknown agency gets an
// empty list, i.e. only the always-kept fields.
FieldAllowList DefaultAllowList(const std::string& agency_id);

// An allow list compiled once, for callers that prune many events with the
// same list. Prune(list, event) is FieldFilter::Create(list)->Prune(event)
// without the validation.
class FieldFilter {
 public:
  // Fails like ValidateAllowList.
  static Result<FieldFilter> Create(const FieldAllowList& list);

  void Prune(v1::EnterpriseEvent* event) const;

  // The same filter applied to an encoded EnterpriseEvent without decoding
  // it: walks the wire format, copies what is kept and drops the rest. For a
  // deterministic encoding (what the broker stores) the result is exactly the
  // deterministic encoding of the pruned event, at a fraction of the cost of
  // parse, Prune and serialize. Fails if `encoded` is not a well-formed
  // protobuf encoding of EnterpriseEvent's fields.
  Result<std::string> PruneEncoded(std::string_view encoded) const;

 private:
  explicit FieldFilter(std::shared_ptr<const internal::PathNode> root) : root_(std::move(root)) {}

  std::shared_ptr<const internal::PathNode> root_;
};

}  // namespace yilian::security
