#include "delivery/agency_queue.h"

#include <algorithm>
#include <cstring>

namespace yilian::delivery {

UsccKey UsccKey::From(std::string_view uscc) {
  UsccKey k;
  std::memcpy(k.c.data(), uscc.data(), std::min(uscc.size(), k.c.size()));
  return k;
}

size_t UsccKeyHash::operator()(const UsccKey& k) const noexcept {
  // The 18 bytes as two 8-byte words and a 2-byte tail, mixed by
  // multiplication (looked up several times per delivery).
  std::uint64_t a, b;
  std::uint16_t c;
  std::memcpy(&a, k.c.data(), 8);
  std::memcpy(&b, k.c.data() + 8, 8);
  std::memcpy(&c, k.c.data() + 16, 2);
  std::uint64_t h = (a ^ 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 31) ^ b) * 0x94d049bb133111ebull;
  h = (h ^ (h >> 29) ^ c) * 0xbf58476d1ce4e5b9ull;
  return static_cast<size_t>(h ^ (h >> 32));
}

void AgencyQueue::MakeReady(const UsccKey& key, Entry& entry) {
  entry.state = HeadState::kReady;
  ready_.push_back(key);
}

void AgencyQueue::Append(std::string_view uscc, Sequence seq, std::uint32_t attempts, Millis not_before) {
  UsccKey key = UsccKey::From(uscc);
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  e.seqs.push_back(seq);
  ++pending_;
  if (!inserted) return;
  heads_.insert(seq);
  e.head_attempts = attempts;
  if (not_before > 0) {
    e.state = HeadState::kWaiting;
    e.due = not_before;
    timers_.push(Timer{not_before, seq, key});
  } else {
    MakeReady(key, e);
  }
}

bool AgencyQueue::AppendHandedOver(std::string_view uscc, Sequence seq) {
  auto [it, inserted] = entries_.try_emplace(UsccKey::From(uscc));
  if (!inserted) return false;
  Entry& e = it->second;
  e.seqs.push_back(seq);
  e.state = HeadState::kBusy;
  ++pending_;
  heads_.insert(seq);
  return true;
}

void AgencyQueue::Insert(std::string_view uscc, Sequence seq) {
  UsccKey key = UsccKey::From(uscc);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    Append(uscc, seq);
    return;
  }
  Entry& e = it->second;
  auto first = e.seqs.begin() + e.head;
  if (std::find(first, e.seqs.end(), seq) != e.seqs.end()) return;
  // The head may be replaced only while it is not out with an adapter.
  auto from = e.state == HeadState::kReady ? first : first + 1;
  Sequence old_head = e.seqs[e.head];
  e.seqs.insert(std::lower_bound(from, e.seqs.end(), seq), seq);
  if (e.state == HeadState::kReady && e.seqs[e.head] == seq) {
    e.head_attempts = 0;
    heads_.erase(old_head);
    heads_.insert(seq);
  }
  ++pending_;
}

void AgencyQueue::MarkBusy(std::string_view uscc, Sequence seq) {
  auto it = entries_.find(UsccKey::From(uscc));
  if (it == entries_.end() || it->second.seqs[it->second.head] != seq) return;
  it->second.state = HeadState::kBusy;
}

void AgencyQueue::FireTimers(Millis now) {
  while (!timers_.empty() && timers_.top().due <= now) {
    Timer t = timers_.top();
    timers_.pop();
    auto it = entries_.find(t.key);
    if (it == entries_.end()) continue;
    Entry& e = it->second;
    // A timer of an earlier release of the same head is stale.
    if (e.state == HeadState::kWaiting && e.seqs[e.head] == t.seq && e.due == t.due) MakeReady(t.key, e);
  }
}

std::optional<AgencyQueue::Item> AgencyQueue::PopReady(Millis now) {
  FireTimers(now);
  while (!ready_.empty()) {
    UsccKey key = ready_.front();
    ready_.pop_front();
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.state != HeadState::kReady) continue;  // stale
    Entry& e = it->second;
    e.state = HeadState::kBusy;
    return Item{e.seqs[e.head], key, e.head_attempts};
  }
  return std::nullopt;
}

bool AgencyQueue::Holds(const UsccKey& key, Sequence seq) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  const Entry& e = it->second;
  return std::find(e.seqs.begin() + e.head, e.seqs.end(), seq) != e.seqs.end();
}

void AgencyQueue::Settle(const UsccKey& key, Sequence seq) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.seqs[e.head] != seq) return;  // not the head: nothing to settle here
  bool was_ready = e.state == HeadState::kReady;
  heads_.erase(seq);
  ++e.head;
  --pending_;
  e.head_attempts = 0;
  if (e.head == e.seqs.size()) {
    entries_.erase(it);
    return;
  }
  heads_.insert(e.seqs[e.head]);
  if (e.head >= 16 && e.head * 2 >= e.seqs.size()) {
    e.seqs.erase(e.seqs.begin(), e.seqs.begin() + e.head);
    e.head = 0;
  }
  if (was_ready) return;  // its key is still in ready_
  MakeReady(key, e);
}

void AgencyQueue::Release(const UsccKey& key, Sequence seq, std::uint32_t attempts, Millis not_before) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.seqs[e.head] != seq) return;
  e.head_attempts = attempts;
  if (e.state == HeadState::kReady) return;
  if (not_before > 0) {
    e.state = HeadState::kWaiting;
    e.due = not_before;
    timers_.push(Timer{not_before, seq, key});
  } else {
    MakeReady(key, e);
  }
}

void AgencyQueue::Hold(const UsccKey& key, Sequence seq) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.seqs[e.head] == seq) e.state = HeadState::kBusy;
}

bool AgencyQueue::HasReady(Millis now) const {
  // ready_ may hold stale keys: a false positive costs one empty PopReady.
  return !ready_.empty() || (!timers_.empty() && timers_.top().due <= now);
}

std::optional<Millis> AgencyQueue::NextWakeup() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.top().due;
}

}  // namespace yilian::delivery
