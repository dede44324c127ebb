// Small helpers shared by the CLI commands: reading JSON Lines input from a
// file or stdin, printing one JSON line, and formatting times.
// Called from the main thread only.
#pragma once

#include <google/protobuf/message.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <istream>
#include <memory>
#include <string>

namespace yilian::cli {

// Opens FILE or "-" (stdin). Returns nullptr and sets *error on failure.
std::unique_ptr<std::istream, void (*)(std::istream*)> OpenInput(const std::string& path, std::string* error);

// Canonical proto3 JSON on one line; zero-valued fields are printed too when
// `all_fields` is set.
std::string ToJsonLine(const google::protobuf::Message& message, bool all_fields = false);

}  // namespace yilian::cli
