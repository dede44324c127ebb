// AgencyQueue: the in-memory delivery schedule of one agency. It holds, per
// enterprise (USCC), the FIFO of sequences still to be settled, and decides
// which head may be handed over next.
//
// Operation: for one enterprise at most one sequence (the head) is out at a
// time; the next one becomes ready only when the head is settled. A released
// head (retry, timeout, lost adapter) becomes ready again at its not-before
// time. Ready enterprises are served round-robin, so one busy enterprise never
// blocks another.
// Concurrency: owned and used by the broker loop thread only.
// Limitations: memory is O(pending deliveries + enterprises with pending
// deliveries); payloads are not held here.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"

namespace yilian::delivery {

// A USCC packed into a fixed array: no heap allocation per enterprise.
struct UsccKey {
  std::array<char, 18> c{};
  static UsccKey From(std::string_view uscc);
  std::string_view view() const { return {c.data(), c.size()}; }
  bool operator==(const UsccKey&) const = default;
};

struct UsccKeyHash {
  size_t operator()(const UsccKey& k) const noexcept;
};

class AgencyQueue {
 public:
  struct Item {
    Sequence seq = 0;
    UsccKey key;
    std::uint32_t attempts = 0;  // hand-overs before this one
  };

  // Appends `seq` to the enterprise's FIFO. Sequences of one enterprise must
  // be appended in increasing order. `attempts` and `not_before` apply if the
  // sequence becomes the head (recovery of a released delivery).
  void Append(std::string_view uscc, Sequence seq, std::uint32_t attempts = 0, Millis not_before = 0);

  // Appends `seq` for an enterprise with nothing unsettled here, as a head
  // that is already out with an adapter (handed over as it was accepted).
  // False, and nothing changes, if the enterprise has unsettled sequences.
  bool AppendHandedOver(std::string_view uscc, Sequence seq);

  // Whether the enterprise has unsettled sequences here.
  bool HasEnterprise(const UsccKey& key) const { return entries_.count(key) > 0; }

  // Operator retry or replay: puts `seq` back in sequence order among the
  // enterprise's unsettled sequences. A head that is out stays first (it
  // cannot be recalled); `seq` then follows it. No-op if already queued.
  void Insert(std::string_view uscc, Sequence seq);

  // Recovery: the head `seq` is with an adapter (accepted); keep it busy.
  void MarkBusy(std::string_view uscc, Sequence seq);

  // The next ready head, marked busy; empty if none is ready at `now`.
  std::optional<Item> PopReady(Millis now);

  // The head `seq` is settled: drop it and make the next one ready.
  void Settle(const UsccKey& key, Sequence seq);

  // The head `seq` goes back with `attempts` hand-overs so far; ready again
  // at `not_before`.
  void Release(const UsccKey& key, Sequence seq, std::uint32_t attempts, Millis not_before);

  // The head `seq` was taken over (accepted) while released: busy again.
  void Hold(const UsccKey& key, Sequence seq);

  // Whether `seq` is among the enterprise's unsettled sequences.
  bool Holds(const UsccKey& key, Sequence seq) const;

  bool HasReady(Millis now) const;
  // Earliest not-before among released heads, or nullopt.
  std::optional<Millis> NextWakeup() const;

  // The smallest unsettled sequence (it is always some enterprise's head).
  std::optional<Sequence> Oldest() const {
    if (heads_.empty()) return std::nullopt;
    return *heads_.begin();
  }

  std::size_t pending() const { return pending_; }
  std::size_t enterprises() const { return entries_.size(); }

 private:
  enum class HeadState : std::uint8_t { kReady, kBusy, kWaiting };

  struct Entry {
    std::vector<Sequence> seqs;  // seqs[head..] are unsettled, in order
    std::uint32_t head = 0;
    std::uint32_t head_attempts = 0;
    HeadState state = HeadState::kReady;
    Millis due = 0;  // kWaiting: only the timer with this due time wakes it
  };

  struct Timer {
    Millis due;
    Sequence seq;
    UsccKey key;
    bool operator>(const Timer& o) const { return due > o.due; }
  };

  void FireTimers(Millis now);
  void MakeReady(const UsccKey& key, Entry& entry);

  std::unordered_map<UsccKey, Entry, UsccKeyHash> entries_;
  std::deque<UsccKey> ready_;  // may hold stale keys; validated on pop
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::size_t pending_ = 0;
  std::set<Sequence> heads_;  // current head of every enterprise
};

}  // namespace yilian::delivery
