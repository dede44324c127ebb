// AgencyQueue carries the ordering promise of the broker: per enterprise, one
// event at a time and in sequence order, while enterprises do not wait for
// each other. Time is passed explicitly as Millis; nothing sleeps.
#include "delivery/agency_queue.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace yilian::delivery {
namespace {

const std::string kA = "91110000100000001A";
const std::string kB = "91110000100000002B";
const std::string kC = "91110000100000003C";

UsccKey Key(const std::string& uscc) { return UsccKey::From(uscc); }

// Pops one item and checks it is `seq` of `uscc`.
AgencyQueue::Item ExpectPop(AgencyQueue& q, Millis now, const std::string& uscc, Sequence seq) {
  auto item = q.PopReady(now);
  EXPECT_TRUE(item.has_value()) << "expected seq " << seq << " at " << now;
  if (!item) return {};
  EXPECT_EQ(item->seq, seq);
  EXPECT_EQ(item->key, Key(uscc)) << "got " << std::string(item->key.view());
  return *item;
}

TEST(UsccKey, PacksEighteenCharacters) {
  EXPECT_EQ(Key(kA).view(), kA);
  EXPECT_FALSE(Key(kA) == Key(kB));
  EXPECT_EQ(UsccKeyHash()(Key(kA)), UsccKeyHash()(Key(kA)));
  // Shorter input is zero-padded rather than reading past the end.
  EXPECT_EQ(Key("ABC").view().substr(0, 3), "ABC");
  EXPECT_EQ(Key("ABC").view()[3], '\0');
}

TEST(AgencyQueue, EmptyQueueHasNothing) {
  AgencyQueue q;
  EXPECT_FALSE(q.PopReady(0).has_value());
  EXPECT_FALSE(q.HasReady(1'000'000));
  EXPECT_FALSE(q.NextWakeup().has_value());
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_EQ(q.enterprises(), 0u);
}

TEST(AgencyQueue, NextOfOneEnterpriseWaitsUntilHeadIsSettled) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  q.Append(kA, 3);
  ExpectPop(q, 0, kA, 1);
  EXPECT_FALSE(q.PopReady(0).has_value()) << "seq 2 handed out while seq 1 is outstanding";
  q.Settle(Key(kA), 1);
  ExpectPop(q, 0, kA, 2);
  EXPECT_FALSE(q.PopReady(0).has_value());
  q.Settle(Key(kA), 2);
  ExpectPop(q, 0, kA, 3);
  q.Settle(Key(kA), 3);
  EXPECT_FALSE(q.PopReady(0).has_value());
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_EQ(q.enterprises(), 0u);
}

TEST(AgencyQueue, HoldsExactlyTheUnsettledSequences) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 5);
  q.Append(kB, 3);
  EXPECT_TRUE(q.Holds(Key(kA), 1));
  EXPECT_TRUE(q.Holds(Key(kA), 5));
  EXPECT_FALSE(q.Holds(Key(kA), 3)) << "seq 3 is another enterprise's";
  EXPECT_FALSE(q.Holds(Key(kC), 1));
  ExpectPop(q, 0, kA, 1);
  EXPECT_TRUE(q.Holds(Key(kA), 1)) << "handed out is not settled";
  q.Settle(Key(kA), 1);
  EXPECT_FALSE(q.Holds(Key(kA), 1));
  EXPECT_TRUE(q.Holds(Key(kA), 5));
  // A sequence put back behind a head that is out (not in sequence order).
  ExpectPop(q, 0, kB, 3);
  ExpectPop(q, 0, kA, 5);
  q.Insert(kA, 2);
  EXPECT_TRUE(q.Holds(Key(kA), 2));
  q.Settle(Key(kA), 5);
  EXPECT_TRUE(q.Holds(Key(kA), 2));
  EXPECT_FALSE(q.Holds(Key(kA), 5));
}

TEST(AgencyQueue, HandedOverHeadIsOutUntilSettledAndOnlyForAnIdleEnterprise) {
  AgencyQueue q;
  ASSERT_TRUE(q.AppendHandedOver(kA, 4));
  EXPECT_TRUE(q.HasEnterprise(Key(kA)));
  EXPECT_FALSE(q.PopReady(0).has_value()) << "a head already out is not handed over again";
  EXPECT_FALSE(q.AppendHandedOver(kA, 5)) << "A has an unsettled event";
  EXPECT_EQ(q.pending(), 1u);
  q.Append(kA, 5);
  EXPECT_EQ(q.Oldest(), std::optional<Sequence>(4));
  q.Settle(Key(kA), 4);
  ExpectPop(q, 0, kA, 5);
  // Released like any hand-over (timeout): ready again with its attempts.
  ASSERT_TRUE(q.AppendHandedOver(kB, 9));
  q.Release(Key(kB), 9, 1, 0);
  auto item = ExpectPop(q, 0, kB, 9);
  EXPECT_EQ(item.attempts, 1u);
}

TEST(AgencyQueue, BusyEnterpriseDoesNotBlockAnother) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  q.Append(kB, 3);
  ExpectPop(q, 0, kA, 1);
  ExpectPop(q, 0, kB, 3);
  EXPECT_FALSE(q.PopReady(0).has_value());
  // A released (waiting) head does not block another enterprise either.
  q.Release(Key(kA), 1, 1, 10'000);
  q.Append(kC, 4);
  ExpectPop(q, 0, kC, 4);
}

TEST(AgencyQueue, ReadyEnterprisesAreServedRoundRobin) {
  AgencyQueue q;
  for (Sequence s : {1, 2, 3}) q.Append(kA, s);
  for (Sequence s : {4, 5, 6}) q.Append(kB, s);
  q.Append(kC, 7);
  std::vector<Sequence> order;
  while (auto item = q.PopReady(0)) {
    order.push_back(item->seq);
    q.Settle(item->key, item->seq);
  }
  EXPECT_EQ(order, (std::vector<Sequence>{1, 4, 7, 2, 5, 3, 6}));
}

TEST(AgencyQueue, LongBacklogDoesNotStarveANewcomer) {
  AgencyQueue q;
  for (Sequence s = 1; s <= 100; ++s) q.Append(kA, s);
  q.Append(kB, 101);
  ExpectPop(q, 0, kA, 1);
  q.Settle(Key(kA), 1);
  ExpectPop(q, 0, kB, 101);
}

TEST(AgencyQueue, ReleasedHeadIsReadyExactlyAtNotBefore) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 1, 1, 1000);
  EXPECT_EQ(q.NextWakeup(), std::optional<Millis>(1000));
  EXPECT_FALSE(q.HasReady(999));
  EXPECT_FALSE(q.PopReady(999).has_value()) << "released head (or its successor) handed out early";
  EXPECT_TRUE(q.HasReady(1000));
  auto item = ExpectPop(q, 1000, kA, 1);
  EXPECT_EQ(item.attempts, 1u);
  EXPECT_FALSE(q.PopReady(5000).has_value());
}

TEST(AgencyQueue, ReleaseWithoutDelayIsReadyAtOnce) {
  AgencyQueue q;
  q.Append(kA, 1);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 1, 1, 0);
  EXPECT_TRUE(q.HasReady(0));
  ExpectPop(q, 0, kA, 1);
  EXPECT_FALSE(q.PopReady(0).has_value());
}

TEST(AgencyQueue, AttemptsTravelThroughRelease) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  EXPECT_EQ(ExpectPop(q, 0, kA, 1).attempts, 0u);
  q.Release(Key(kA), 1, 1, 10);
  EXPECT_EQ(ExpectPop(q, 10, kA, 1).attempts, 1u);
  q.Release(Key(kA), 1, 2, 30);
  EXPECT_EQ(ExpectPop(q, 30, kA, 1).attempts, 2u);
  q.Settle(Key(kA), 1);
  // The next head starts afresh.
  EXPECT_EQ(ExpectPop(q, 30, kA, 2).attempts, 0u);
}

TEST(AgencyQueue, RecoveryAppendCarriesAttemptsAndNotBefore) {
  AgencyQueue q;
  q.Append(kA, 7, 3, 0);
  EXPECT_EQ(ExpectPop(q, 0, kA, 7).attempts, 3u);

  q.Append(kB, 8, 4, 2000);
  q.Append(kB, 9);
  EXPECT_EQ(q.NextWakeup(), std::optional<Millis>(2000));
  EXPECT_FALSE(q.PopReady(1999).has_value());
  EXPECT_EQ(ExpectPop(q, 2000, kB, 8).attempts, 4u);
  q.Settle(Key(kB), 8);
  EXPECT_EQ(ExpectPop(q, 2000, kB, 9).attempts, 0u);
}

TEST(AgencyQueue, MarkBusyKeepsARecoveredHeadOut) {
  AgencyQueue q;
  q.Append(kA, 1, 1, 0);
  q.Append(kA, 2);
  q.MarkBusy(kA, 1);
  EXPECT_FALSE(q.PopReady(0).has_value()) << "a head that is with an adapter was handed out again";
  q.Settle(Key(kA), 1);
  ExpectPop(q, 0, kA, 2);
}

TEST(AgencyQueue, MarkBusyOfNonHeadOrUnknownIsIgnored) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  q.MarkBusy(kA, 2);
  q.MarkBusy(kB, 1);
  ExpectPop(q, 0, kA, 1);
}

TEST(AgencyQueue, MarkBusyThenReleaseHandsOutOnce) {
  AgencyQueue q;
  q.Append(kA, 1, 2, 0);
  q.MarkBusy(kA, 1);
  q.Release(Key(kA), 1, 3, 0);
  EXPECT_EQ(ExpectPop(q, 0, kA, 1).attempts, 3u);
  EXPECT_FALSE(q.PopReady(0).has_value());
}

TEST(AgencyQueue, HoldOfWaitingHeadStopsItsTimer) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 1, 1, 1000);
  q.Hold(Key(kA), 1);
  EXPECT_FALSE(q.PopReady(1000).has_value()) << "a head taken over while released was handed out again";
  q.Settle(Key(kA), 1);
  ExpectPop(q, 1000, kA, 2);
}

TEST(AgencyQueue, HoldOfReadyHeadStopsItsHandOut) {
  AgencyQueue q;
  q.Append(kA, 1);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 1, 1, 0);
  q.Hold(Key(kA), 1);
  EXPECT_FALSE(q.PopReady(0).has_value());
  q.Release(Key(kA), 1, 2, 0);
  EXPECT_EQ(ExpectPop(q, 0, kA, 1).attempts, 2u);
  EXPECT_FALSE(q.PopReady(0).has_value());
}

// Timeline: released until 100, taken over late at 50 (Hold), then answered
// with a retry at 60 that asks for not-before 1060. The delivery must wait for
// 1060; the timer armed by the first release must not cut that short.
TEST(AgencyQueue, ReleaseAfterHoldWaitsForTheNewNotBefore) {
  AgencyQueue q;
  q.Append(kA, 1);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 1, 1, 100);
  q.Hold(Key(kA), 1);
  q.Release(Key(kA), 1, 2, 1060);
  EXPECT_FALSE(q.PopReady(100).has_value()) << "handed out at 100, before its not-before 1060";
  EXPECT_FALSE(q.PopReady(1059).has_value());
  EXPECT_EQ(ExpectPop(q, 1060, kA, 1).attempts, 2u);
}

TEST(AgencyQueue, SettleOfNonHeadIsIgnored) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  ExpectPop(q, 0, kA, 1);
  q.Settle(Key(kA), 2);
  q.Settle(Key(kA), 99);
  q.Settle(Key(kB), 1);
  EXPECT_EQ(q.pending(), 2u);
  EXPECT_FALSE(q.PopReady(0).has_value());
  q.Settle(Key(kA), 1);
  ExpectPop(q, 0, kA, 2);
  // Settling the already settled seq 1 again changes nothing.
  q.Settle(Key(kA), 1);
  EXPECT_EQ(q.pending(), 1u);
  EXPECT_FALSE(q.PopReady(0).has_value());
}

TEST(AgencyQueue, ReleaseOfNonHeadIsIgnored) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 2, 5, 0);
  EXPECT_FALSE(q.PopReady(0).has_value());
  q.Release(Key(kB), 1, 5, 0);
  EXPECT_FALSE(q.PopReady(0).has_value());
}

TEST(AgencyQueue, LateSettleOfWaitingHeadReadiesNextExactlyOnce) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 1, 1, 1000);
  q.Settle(Key(kA), 1);  // the answer to the first attempt arrives after all
  ExpectPop(q, 0, kA, 2);
  EXPECT_FALSE(q.PopReady(0).has_value());
  // The stale timer of seq 1 fires neither seq 1 nor seq 2.
  EXPECT_FALSE(q.PopReady(1000).has_value());
  EXPECT_FALSE(q.PopReady(100'000).has_value());
  EXPECT_EQ(q.pending(), 1u);
}

TEST(AgencyQueue, LateSettleOfReadyHeadReadiesNextExactlyOnce) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  q.Append(kA, 3);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 1, 1, 0);
  q.Settle(Key(kA), 1);
  ExpectPop(q, 0, kA, 2);
  EXPECT_FALSE(q.PopReady(0).has_value()) << "seq 2 or 3 handed out twice";
  q.Settle(Key(kA), 2);
  ExpectPop(q, 0, kA, 3);
}

TEST(AgencyQueue, LateSettleOfTimerFiredHeadReadiesNextExactlyOnce) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  q.Append(kB, 3);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 1, 1, 50);
  // At 50 the timer of seq 1 fires, but B is first in line: seq 1 is ready,
  // not handed out, when its late answer arrives.
  ExpectPop(q, 50, kB, 3);
  q.Settle(Key(kA), 1);
  ExpectPop(q, 50, kA, 2);
  EXPECT_FALSE(q.PopReady(50).has_value()) << "seq 2 handed out twice";
}

TEST(AgencyQueue, EnterpriseEmptiedAndRefilledIsHandedOutOnce) {
  AgencyQueue q;
  q.Append(kA, 1);
  ExpectPop(q, 0, kA, 1);
  q.Release(Key(kA), 1, 1, 0);
  q.Settle(Key(kA), 1);  // leaves a stale ready entry behind
  EXPECT_EQ(q.enterprises(), 0u);
  q.Append(kA, 2);
  ExpectPop(q, 0, kA, 2);
  EXPECT_FALSE(q.PopReady(0).has_value());
}

TEST(AgencyQueue, PendingAndEnterpriseCounts) {
  AgencyQueue q;
  q.Append(kA, 1);
  q.Append(kA, 2);
  q.Append(kB, 3);
  EXPECT_EQ(q.pending(), 3u);
  EXPECT_EQ(q.enterprises(), 2u);
  auto a = ExpectPop(q, 0, kA, 1);
  EXPECT_EQ(q.pending(), 3u) << "an outstanding head is still pending until settled";
  q.Settle(a.key, a.seq);
  EXPECT_EQ(q.pending(), 2u);
  EXPECT_EQ(q.enterprises(), 2u);
  ExpectPop(q, 0, kB, 3);
  q.Settle(Key(kB), 3);
  EXPECT_EQ(q.pending(), 1u);
  EXPECT_EQ(q.enterprises(), 1u);
  ExpectPop(q, 0, kA, 2);
  q.Settle(Key(kA), 2);
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_EQ(q.enterprises(), 0u);
}

TEST(AgencyQueue, LongFifoStaysInOrder) {
  // Enough settled heads to make the queue compact its storage several times.
  AgencyQueue q;
  for (Sequence s = 1; s <= 500; ++s) q.Append(kA, s);
  for (Sequence s = 1; s <= 500; ++s) {
    auto item = q.PopReady(0);
    ASSERT_TRUE(item.has_value()) << s;
    ASSERT_EQ(item->seq, s);
    if (s % 50 == 0) q.Append(kA, 500 + s);  // appends interleaved with settles
    q.Settle(item->key, item->seq);
  }
  for (Sequence s = 550; s <= 1000; s += 50) {
    auto item = q.PopReady(0);
    ASSERT_TRUE(item.has_value()) << s;
    ASSERT_EQ(item->seq, s);
    q.Settle(item->key, item->seq);
  }
  EXPECT_EQ(q.pending(), 0u);
}

// Random operations against a simple model of the contract. Checked after
// every step: a hand-out is the model's head of a USCC that has nothing
// outstanding, with the model's attempts, not before its not-before; an empty
// PopReady means the model has nothing eligible; pending()/enterprises()
// agree. At the end everything appended was handed out and settled once.
struct ModelEnterprise {
  std::deque<Sequence> seqs;
  bool out = false;            // head handed out, not yet settled or released
  bool released = false;       // head went back after a hand-out (or recovered so)
  Millis not_before = 0;       // head, when not out
  std::uint32_t attempts = 0;  // head
  Sequence last_handed = 0;
};

struct PropertyOptions {
  bool use_hold = false;     // take released heads over (Hold)
  bool check_timing = true;  // hand-outs never before not-before
};

void RunRandomOperations(std::uint32_t seed, int steps, PropertyOptions opts) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  const std::vector<std::string> usccs = {kA, kB, kC, "91110000100000004D", "91110000100000005E"};
  std::map<std::string, ModelEnterprise> model;
  for (const auto& u : usccs) model[u];
  std::map<Sequence, int> handed, settled;
  std::vector<bool> recovered(1, false);
  AgencyQueue q;
  Millis now = 0;
  Sequence next_seq = 0;

  auto settle_head = [&](const std::string& u) {
    ModelEnterprise& m = model[u];
    Sequence s = m.seqs.front();
    q.Settle(Key(u), s);
    ++settled[s];
    m.seqs.pop_front();
    m.out = false;
    m.released = false;
    m.not_before = 0;
    m.attempts = 0;
  };
  auto choose = [&](auto pred) -> std::optional<std::string> {
    std::vector<std::string> c;
    for (const auto& u : usccs)
      if (pred(model[u])) c.push_back(u);
    if (c.empty()) return std::nullopt;
    return c[pick(c.size())];
  };
  auto pop_and_check = [&]() -> bool {
    std::optional<AgencyQueue::Item> item = q.PopReady(now);
    if (!item) {
      for (const auto& u : usccs) {
        const ModelEnterprise& m = model[u];
        bool eligible = !m.seqs.empty() && !m.out && m.not_before <= now;
        EXPECT_FALSE(eligible) << "nothing handed out at " << now << " though head " << m.seqs.front() << " of " << u
                               << " is ready";
      }
      return false;
    }
    std::string u(item->key.view());
    ModelEnterprise& m = model[u];
    EXPECT_FALSE(m.seqs.empty()) << "handed out seq " << item->seq << " of an enterprise with nothing pending";
    if (m.seqs.empty()) return false;
    EXPECT_FALSE(m.out) << "second outstanding head for " << u << ": seq " << item->seq;
    EXPECT_EQ(item->seq, m.seqs.front()) << "not the head of " << u;
    EXPECT_GE(item->seq, m.last_handed) << "hand-out order of " << u << " went backwards";
    if (item->seq != m.last_handed) {
      EXPECT_EQ(handed[item->seq], 0) << "seq " << item->seq;
    }
    EXPECT_EQ(item->attempts, m.attempts) << "seq " << item->seq;
    if (opts.check_timing) {
      EXPECT_LE(m.not_before, now) << "seq " << item->seq << " handed out early";
    }
    m.out = true;
    m.released = false;
    m.last_handed = item->seq;
    ++handed[item->seq];
    return true;
  };

  for (int step = 0; step < steps && !::testing::Test::HasFailure(); ++step) {
    std::size_t op = pick(100);
    if (op < 22) {  // append, sometimes as a recovered released delivery
      const std::string& u = usccs[pick(usccs.size())];
      ModelEnterprise& m = model[u];
      Sequence s = ++next_seq;
      bool recover = m.seqs.empty() && pick(4) == 0;
      recovered.push_back(recover);
      if (recover) {
        m.attempts = static_cast<std::uint32_t>(1 + pick(5));
        m.not_before = now + static_cast<Millis>(pick(80));
        m.released = true;
        q.Append(u, s, m.attempts, m.not_before);
      } else {
        q.Append(u, s);
      }
      m.seqs.push_back(s);
    } else if (op < 50) {
      pop_and_check();
    } else if (op < 64) {  // answered: settle an outstanding head
      if (auto u = choose([](const ModelEnterprise& m) { return m.out; })) settle_head(*u);
    } else if (op < 76) {  // retry or timeout: release an outstanding head
      if (auto u = choose([](const ModelEnterprise& m) { return m.out; })) {
        ModelEnterprise& m = model[*u];
        m.out = false;
        m.released = true;
        m.attempts += 1;
        m.not_before = pick(3) == 0 ? 0 : now + static_cast<Millis>(pick(100));
        q.Release(Key(*u), m.seqs.front(), m.attempts, m.not_before);
      }
    } else if (op < 82) {  // late answer to a released head
      if (auto u = choose([](const ModelEnterprise& m) { return m.released; })) settle_head(*u);
    } else if (op < 87) {  // stale answers: settle or release a non-head
      const std::string& u = usccs[pick(usccs.size())];
      const ModelEnterprise& m = model[u];
      Sequence s = m.seqs.size() > 1 && pick(2) ? m.seqs[1 + pick(m.seqs.size() - 1)] : pick(next_seq + 1);
      if (m.seqs.empty() || s != m.seqs.front()) {
        if (pick(2))
          q.Settle(Key(u), s);
        else
          q.Release(Key(u), s, 99, 0);
      }
    } else if (op < 91) {  // a released head is taken over late
      if (opts.use_hold) {
        if (auto u = choose([](const ModelEnterprise& m) { return m.released; })) {
          ModelEnterprise& m = model[*u];
          q.Hold(Key(*u), m.seqs.front());
          m.out = true;
          m.released = false;
        }
      }
    } else {
      now += static_cast<Millis>(pick(60));
    }

    std::size_t pending = 0, enterprises = 0;
    for (const auto& [u, m] : model) {
      pending += m.seqs.size();
      enterprises += m.seqs.empty() ? 0 : 1;
    }
    ASSERT_EQ(q.pending(), pending) << "step " << step;
    ASSERT_EQ(q.enterprises(), enterprises) << "step " << step;
  }
  if (::testing::Test::HasFailure()) return;

  // Drain: answer everything outstanding and keep popping until empty.
  for (int round = 0; round < 100000 && q.pending() > 0; ++round) {
    for (const auto& u : usccs)
      if (model[u].out) settle_head(u);
    now += 200;  // beyond every not-before
    while (pop_and_check()) {
    }
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_EQ(q.enterprises(), 0u);
  EXPECT_FALSE(q.PopReady(now + 1'000'000).has_value());
  ASSERT_GT(next_seq, 100u);
  for (Sequence s = 1; s <= next_seq; ++s) {
    EXPECT_EQ(settled[s], 1) << "seq " << s;
    // A recovered released head may be answered late before it is handed out
    // again; every other sequence was handed out.
    if (!recovered[s]) {
      EXPECT_GE(handed[s], 1) << "seq " << s << " never handed out";
    }
  }
}

TEST(AgencyQueueProperty, RandomOperationsKeepTheOrderingContract) {
  for (std::uint32_t seed : {1u, 2u, 3u, 42u, 20240601u}) RunRandomOperations(seed, 20000, {});
}

TEST(AgencyQueueProperty, RandomOperationsWithLateTakeOverKeepOneOutstandingHead) {
  // Hold is included; hand-out timing is not checked here (see
  // ReleaseAfterHoldWaitsForTheNewNotBefore), only ordering and exclusivity.
  PropertyOptions opts;
  opts.use_hold = true;
  opts.check_timing = false;
  for (std::uint32_t seed : {5u, 6u, 7u, 99u}) RunRandomOperations(seed, 20000, opts);
}

}  // namespace
}  // namespace yilian::delivery

// Operator retry and replay put a settled sequence back in order.
TEST(AgencyQueueInsert, RetriedSequenceGoesBeforeLaterPendingOnes) {
  yilian::delivery::AgencyQueue q;
  const std::string uscc = "91350100M000100Y43";
  q.Append(uscc, 10);
  auto first = q.PopReady(0);
  ASSERT_TRUE(first);
  q.Append(uscc, 30);  // waits behind 10
  q.Settle(first->key, 10);
  q.Insert(uscc, 20);  // not yet handed out: 20 goes before 30
  auto next = q.PopReady(0);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->seq, 20u);
  q.Settle(next->key, 20);
  auto last = q.PopReady(0);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->seq, 30u);
}

TEST(AgencyQueueInsert, AHeadOutWithAnAdapterStaysFirst) {
  yilian::delivery::AgencyQueue q;
  const std::string uscc = "91350100M000100Y43";
  q.Append(uscc, 50);
  auto out = q.PopReady(0);
  ASSERT_TRUE(out);
  q.Insert(uscc, 40);  // cannot recall 50: 40 follows it
  EXPECT_FALSE(q.PopReady(0)) << "two outstanding for one enterprise";
  q.Settle(out->key, 50);
  auto next = q.PopReady(0);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->seq, 40u);
  q.Insert(uscc, 40);  // already queued: no duplicate
  q.Settle(next->key, 40);
  EXPECT_FALSE(q.PopReady(0));
  EXPECT_EQ(q.pending(), 0u);
}
