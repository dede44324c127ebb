// InOrderWorker: a second thread that works through items 0 .. n-1 in order
// while the caller consumes them in the same order, waiting only for an
// item that is not done yet. The broker loop uses it to decode and validate
// a turn's messages ahead of handling them.
//
// Operation: Start(n, fn) has the thread call fn(0), fn(1), ... fn(n-1);
// WaitFor(i) returns once fn(i) has returned (its effects are then visible
// to the caller); Finish() waits for all of them. Start, WaitFor and Finish
// are called by one thread (the owner), and every Start is followed by a
// Finish before the next Start or before the items are touched again.
// fn must not throw and must not touch what the owner uses meanwhile, apart
// from the items the owner no longer reads or writes until WaitFor.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>

namespace yilian {

class InOrderWorker {
 public:
  InOrderWorker();
  ~InOrderWorker();
  InOrderWorker(const InOrderWorker&) = delete;
  InOrderWorker& operator=(const InOrderWorker&) = delete;

  void Start(std::size_t n, std::function<void(std::size_t)> fn);
  void WaitFor(std::size_t i);
  void Finish();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable progress_;
  std::function<void(std::size_t)> fn_;
  std::size_t total_ = 0;  // items of the current run
  std::size_t done_ = 0;   // items whose fn has returned
  bool running_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace yilian
