// Fields of an EnterpriseEvent addressed by the paths validation reports
// ("enterprise.contact.phone", "changes[1].field"), for tests that build
// events from the examples written in docs/validation.md. Everything goes
// through protobuf reflection, so the tests need no list of fields of their
// own. Pure functions; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "yilian/v1/event.pb.h"

namespace yilian::validation::testing {

// Sets the field at `path`, creating the messages and list entries on the
// way. `value` is read according to the field's type: a string as is, with
// \xHH standing for a byte; an enum by name or number; an integer in
// decimal; a message in protobuf text format. Returns an error text, or ""
// on success.
std::string SetPath(const std::string& path, const std::string& value, v1::EnterpriseEvent* event);

// Clears the field at `path` if the messages leading to it exist.
std::string ClearPath(const std::string& path, v1::EnterpriseEvent* event);

// The path of every string field of every message present in `event`, set
// or empty, list entries included, in field order.
std::vector<std::string> StringFieldPaths(const v1::EnterpriseEvent& event);

// Every path reachable from EnterpriseEvent by its schema, messages and
// scalars alike, with `list_entries` entries for each list; fields of
// google.protobuf messages (occurred_at) included.
std::vector<std::string> SchemaPaths(int list_entries);

// True if `path` names a string field of the schema.
bool IsStringField(const std::string& path);

// `path` with list indexes removed: "changes[3].field" -> "changes[].field".
std::string WithoutIndexes(const std::string& path);

}  // namespace yilian::validation::testing
