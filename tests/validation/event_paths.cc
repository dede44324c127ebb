#include "validation/event_paths.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include <cstdlib>

namespace yilian::validation::testing {
namespace {

namespace pb = google::protobuf;

// Text that does not parse is an expected outcome here (a value tried on a
// field of another type), not something to log.
class SilentErrors : public pb::io::ErrorCollector {
 public:
  void AddError(int, pb::io::ColumnNumber, const std::string&) override {}
};

bool ParseText(const std::string& text, pb::Message* msg) {
  SilentErrors errors;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  return parser.ParseFromString(text, msg);
}

struct Step {
  std::string name;
  int index = -1;  // list entry, or -1
};

std::vector<Step> Split(const std::string& path) {
  std::vector<Step> steps;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t dot = path.find('.', pos);
    std::string seg = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    Step step;
    if (size_t br = seg.find('['); br != std::string::npos) {
      step.index = std::atoi(seg.c_str() + br + 1);
      seg.resize(br);
    }
    step.name = seg;
    steps.push_back(step);
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return steps;
}

// Walks to the message holding the last step. With `create`, missing
// messages and list entries are made; without, a missing one ends the walk
// with nullptr.
pb::Message* Parent(const std::vector<Step>& steps, bool create, pb::Message* msg, std::string* error) {
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    const pb::FieldDescriptor* f = msg->GetDescriptor()->FindFieldByName(steps[i].name);
    if (f == nullptr || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      *error = "'" + steps[i].name + "' is not a message field";
      return nullptr;
    }
    const pb::Reflection* r = msg->GetReflection();
    if (f->is_repeated()) {
      if (steps[i].index < 0) {
        *error = "'" + steps[i].name + "' needs an index";
        return nullptr;
      }
      if (!create && r->FieldSize(*msg, f) <= steps[i].index) return nullptr;
      while (r->FieldSize(*msg, f) <= steps[i].index) r->AddMessage(msg, f);
      msg = r->MutableRepeatedMessage(msg, f, steps[i].index);
    } else {
      if (!create && !r->HasField(*msg, f)) return nullptr;
      msg = r->MutableMessage(msg, f);
    }
  }
  return msg;
}

std::string Unescape(const std::string& value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 3 < value.size() && value[i + 1] == 'x') {
      out += static_cast<char>(std::strtol(value.substr(i + 2, 2).c_str(), nullptr, 16));
      i += 3;
    } else {
      out += value[i];
    }
  }
  return out;
}

bool ParseInteger(const std::string& value, long long* out) {
  if (value.empty()) return false;
  char* end = nullptr;
  *out = std::strtoll(value.c_str(), &end, 10);
  return *end == '\0';
}

void AddPaths(const pb::Descriptor* d, const std::string& prefix, int list_entries, std::vector<std::string>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    std::string base = prefix.empty() ? f->name() : prefix + "." + f->name();
    if (f->is_repeated()) {
      out->push_back(base);
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      for (int k = 0; k < list_entries; ++k) {
        std::string entry = base + "[" + std::to_string(k) + "]";
        out->push_back(entry);
        AddPaths(f->message_type(), entry, list_entries, out);
      }
      continue;
    }
    out->push_back(base);
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) AddPaths(f->message_type(), base, list_entries, out);
  }
}

void AddStringPaths(const pb::Message& msg, const std::string& prefix, std::vector<std::string>* out) {
  const pb::Descriptor* d = msg.GetDescriptor();
  const pb::Reflection* r = msg.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    std::string base = prefix.empty() ? f->name() : prefix + "." + f->name();
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING && !f->is_repeated()) {
      out->push_back(base);
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(msg, f); ++k)
          AddStringPaths(r->GetRepeatedMessage(msg, f, k), base + "[" + std::to_string(k) + "]", out);
      } else if (r->HasField(msg, f)) {
        AddStringPaths(r->GetMessage(msg, f), base, out);
      }
    }
  }
}

}  // namespace

std::string SetPath(const std::string& path, const std::string& value, v1::EnterpriseEvent* event) {
  std::vector<Step> steps = Split(path);
  std::string error;
  pb::Message* msg = Parent(steps, true, event, &error);
  if (msg == nullptr) return path + ": " + error;
  const pb::FieldDescriptor* f = msg->GetDescriptor()->FindFieldByName(steps.back().name);
  if (f == nullptr) return path + ": no such field";
  const pb::Reflection* r = msg->GetReflection();
  if (f->is_repeated()) {
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || steps.back().index < 0)
      return path + ": only entries of message lists can be set";
    while (r->FieldSize(*msg, f) <= steps.back().index) r->AddMessage(msg, f);
    pb::Message* entry = r->MutableRepeatedMessage(msg, f, steps.back().index);
    return ParseText(value, entry) ? "" : path + ": not protobuf text: " + value;
  }
  long long number = 0;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      r->SetString(msg, f, Unescape(value));
      return "";
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      if (const pb::EnumValueDescriptor* v = f->enum_type()->FindValueByName(value)) {
        r->SetEnumValue(msg, f, v->number());
      } else if (ParseInteger(value, &number)) {
        r->SetEnumValue(msg, f, static_cast<int>(number));
      } else {
        return path + ": '" + value + "' is not a value of " + f->enum_type()->full_name();
      }
      return "";
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return ParseText(value, r->MutableMessage(msg, f)) ? "" : path + ": not protobuf text: " + value;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_INT64:
    case pb::FieldDescriptor::CPPTYPE_INT32:
      if (!ParseInteger(value, &number)) return path + ": '" + value + "' is not an integer";
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT64) r->SetUInt64(msg, f, static_cast<uint64_t>(number));
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT32) r->SetUInt32(msg, f, static_cast<uint32_t>(number));
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64) r->SetInt64(msg, f, number);
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT32) r->SetInt32(msg, f, static_cast<int32_t>(number));
      return "";
    default:
      return path + ": field type not supported";
  }
}

std::string ClearPath(const std::string& path, v1::EnterpriseEvent* event) {
  std::vector<Step> steps = Split(path);
  std::string error;
  pb::Message* msg = Parent(steps, false, event, &error);
  if (!error.empty()) return path + ": " + error;
  if (msg == nullptr) return "";
  const pb::FieldDescriptor* f = msg->GetDescriptor()->FindFieldByName(steps.back().name);
  if (f == nullptr) return path + ": no such field";
  if (steps.back().index >= 0) return path + ": a list entry cannot be left out";
  msg->GetReflection()->ClearField(msg, f);
  return "";
}

std::vector<std::string> StringFieldPaths(const v1::EnterpriseEvent& event) {
  std::vector<std::string> out;
  AddStringPaths(event, "", &out);
  return out;
}

std::vector<std::string> SchemaPaths(int list_entries) {
  std::vector<std::string> out;
  AddPaths(v1::EnterpriseEvent::descriptor(), "", list_entries, &out);
  return out;
}

bool IsStringField(const std::string& path) {
  const pb::Descriptor* d = v1::EnterpriseEvent::descriptor();
  const pb::FieldDescriptor* f = nullptr;
  for (const Step& step : Split(path)) {
    if (d == nullptr) return false;
    f = d->FindFieldByName(step.name);
    if (f == nullptr) return false;
    d = f->message_type();
  }
  return f != nullptr && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING;
}

std::string WithoutIndexes(const std::string& path) {
  std::string out;
  bool in_index = false;
  for (char c : path) {
    if (c == '[') {
      in_index = true;
      out += "[]";
    } else if (c == ']') {
      in_index = false;
    } else if (!in_index) {
      out += c;
    }
  }
  return out;
}

}  // namespace yilian::validation::testing
