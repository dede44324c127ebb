#include "common/in_order_worker.h"

#include <utility>

namespace yilian {

InOrderWorker::InOrderWorker() : thread_([this] { Run(); }) {}

InOrderWorker::~InOrderWorker() {
  Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_.notify_one();
  thread_.join();
}

void InOrderWorker::Start(std::size_t n, std::function<void(std::size_t)> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = std::move(fn);
    total_ = n;
    done_ = 0;
    running_ = true;
  }
  work_.notify_one();
}

void InOrderWorker::WaitFor(std::size_t i) {
  std::unique_lock<std::mutex> lock(mu_);
  progress_.wait(lock, [&] { return !running_ || done_ > i; });
}

void InOrderWorker::Finish() {
  std::unique_lock<std::mutex> lock(mu_);
  progress_.wait(lock, [&] { return !running_; });
}

void InOrderWorker::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stop_ || running_; });
    if (!running_) return;  // stopping, nothing owed
    const std::size_t n = total_;
    lock.unlock();
    for (std::size_t i = 0; i < n; ++i) {
      fn_(i);
      {
        std::lock_guard<std::mutex> progress(mu_);
        done_ = i + 1;
        if (done_ == n) running_ = false;
      }
      progress_.notify_one();
    }
    lock.lock();
    if (n == 0) {
      running_ = false;
      progress_.notify_one();
    }
  }
}

}  // namespace yilian
