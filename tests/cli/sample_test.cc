// The sample generator (demo, tests, benchmarks): every event it makes is
// valid, and a change always changes the field it names.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "cli/sample.h"
#include "validation/validation.h"

namespace yilian {
namespace {

TEST(Sample, EveryEventIsValidAndEveryChangeChangesItsField) {
  sample::SampleOptions o;
  o.seed = 2026;
  o.enterprises = 400;
  o.events_per_enterprise = 7;
  o.banks = {"ICBC", "CCB"};
  auto events = sample::Generate(o);
  ASSERT_EQ(events.size(), 400u * 7u);
  std::size_t changes = 0;
  std::map<std::string, std::uint64_t> revision;
  for (const auto& e : events) {
    auto errors = validation::Validate(e, {});
    EXPECT_TRUE(errors.empty()) << e.event_id() << ": " << errors[0].path << " " << errors[0].message;
    EXPECT_EQ(e.revision(), ++revision[e.uscc()]) << e.event_id();
    for (const auto& ch : e.changes()) {
      ++changes;
      EXPECT_NE(ch.old_value(), ch.new_value()) << e.event_id() << " changes " << ch.field() << " to itself";
    }
  }
  EXPECT_GT(changes, 400u);
}

// Padded to the largest target, every event is still valid (the scope
// stops at the validator's limit) and every ESTABLISHED event reaches it.
TEST(Sample, PaddedEventsStayValidAndReachTheLargestTarget) {
  sample::SampleOptions o;
  o.seed = 16000;
  o.enterprises = 50;
  o.events_per_enterprise = 4;
  o.target_bytes = sample::kMaxTargetBytes;
  for (const auto& e : sample::Generate(o)) {
    auto errors = validation::Validate(e, {});
    EXPECT_TRUE(errors.empty()) << e.event_id() << ": " << errors[0].path << " " << errors[0].message;
    EXPECT_LE(e.enterprise().business_scope().size(), 4096u);
    if (e.type() == v1::ESTABLISHED) {
      EXPECT_GE(static_cast<int>(e.ByteSizeLong()) + 400, o.target_bytes);
    }
  }
  // Asked for more than valid events can reach (the command refuses such a
  // target), the events still stay valid.
  o.target_bytes = 16000;
  for (const auto& e : sample::Generate(o)) EXPECT_TRUE(validation::Validate(e, {}).empty()) << e.event_id();
}

}  // namespace
}  // namespace yilian
