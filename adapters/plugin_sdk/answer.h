// Answer: what an agency made of one event, as a C++ plugin returns it. The
// C++ mirror of yilian_result (adapters/include/yilian/adapter_plugin.h);
// the plugin glue converts it at the ABI boundary. A plain value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace yilian::plugin {

struct Answer {
  // Same numbers as yilian_outcome.
  enum class Kind { kPending = 1, kProcessed = 2, kRejected = 3, kRetry = 4 };

  Kind kind = Kind::kRetry;
  std::string reference;             // kProcessed
  std::string reason;                // kRejected, kRetry
  std::uint32_t retry_after_ms = 0;  // kRetry

  static Answer Pending() { return Answer{Kind::kPending, "", "", 0}; }
  static Answer Processed(std::string reference) { return Answer{Kind::kProcessed, std::move(reference), "", 0}; }
  static Answer Rejected(std::string reason) { return Answer{Kind::kRejected, "", std::move(reason), 0}; }
  static Answer Retry(std::string reason, std::uint32_t after_ms = 0) {
    return Answer{Kind::kRetry, "", std::move(reason), after_ms};
  }
  bool final() const { return kind == Kind::kProcessed || kind == Kind::kRejected; }
};

// "PENDING", "PROCESSED", "REJECTED", "RETRY".
std::string_view ToString(Answer::Kind kind);

}  // namespace yilian::plugin
