// InOrderWorker: items are worked through in order on another thread, an
// item is complete when WaitFor returns, and the worker can be run again.
#include "common/in_order_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace yilian {
namespace {

// Work that takes a while (some milliseconds), without sleeping.
void Busy() {
  volatile std::uint64_t x = 0;
  for (int i = 0; i < 2'000'000; ++i) x = x + static_cast<std::uint64_t>(i);
}

TEST(InOrderWorker, EachItemIsCompleteWhenWaitForReturns) {
  InOrderWorker worker;
  for (int run = 0; run < 50; ++run) {
    const std::size_t n = 1 + static_cast<std::size_t>(run) * 7;
    std::vector<std::vector<int>> items(n);
    std::vector<std::size_t> order;
    std::thread::id owner = std::this_thread::get_id();
    std::atomic<bool> on_owner{false};
    worker.Start(n, [&](std::size_t i) {
      if (std::this_thread::get_id() == owner) on_owner = true;
      order.push_back(i);  // only the worker's thread writes it
      for (int k = 0; k < 100; ++k) items[i].push_back(static_cast<int>(i) * 1000 + k);
    });
    for (std::size_t i = 0; i < n; ++i) {
      worker.WaitFor(i);
      ASSERT_EQ(items[i].size(), 100u) << "run " << run << " item " << i;
      EXPECT_EQ(items[i].back(), static_cast<int>(i) * 1000 + 99);
    }
    worker.Finish();
    std::vector<std::size_t> expected(n);
    for (std::size_t i = 0; i < n; ++i) expected[i] = i;
    EXPECT_EQ(order, expected);
    EXPECT_FALSE(on_owner) << "items must run on the worker's thread";
  }
}

TEST(InOrderWorker, FinishWaitsForTheLastItem) {
  InOrderWorker worker;
  std::atomic<int> done{0};
  worker.Start(3, [&](std::size_t) {
    Busy();
    ++done;
  });
  worker.Finish();
  EXPECT_EQ(done.load(), 3);
}

TEST(InOrderWorker, NoItemsAndDestructionWhileRunning) {
  {
    InOrderWorker worker;
    worker.Start(0, [](std::size_t) { FAIL() << "no item to run"; });
    worker.WaitFor(0);  // returns: nothing is owed
    worker.Finish();
  }
  std::atomic<int> done{0};
  {
    InOrderWorker worker;
    worker.Start(5, [&](std::size_t) {
      Busy();
      ++done;
    });
  }  // the destructor waits for the run
  EXPECT_EQ(done.load(), 5);
}

}  // namespace
}  // namespace yilian
