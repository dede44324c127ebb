// SM3 (GB/T 32905-2016) digests via OpenSSL 3, for the audit trail's hash
// chain: at once (Sm3Hex), piece by piece (Sm3), or on a thread of its own
// while the caller goes on producing the input (BackgroundSm3).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace yilian {

// Lower-case hex SM3 digest of `data` (64 characters); empty on failure.
// Pure function; safe from any thread.
std::string Sm3Hex(std::string_view data);

// One SM3 digest over input given in pieces. Not thread-safe.
class Sm3 {
 public:
  Sm3();
  ~Sm3();
  Sm3(const Sm3&) = delete;
  Sm3& operator=(const Sm3&) = delete;

  void Update(std::string_view data);
  // The digest of everything given since construction or the last
  // HexDigest(), which starts a new one. Empty on failure.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool failed_ = false;
};

// One digest at a time, computed on a worker thread from pieces handed over
// as they are produced: the hashing overlaps the producer's other work and
// Finish() waits only for what is left. Used by one producer thread.
class BackgroundSm3 {
 public:
  BackgroundSm3();
  ~BackgroundSm3();
  BackgroundSm3(const BackgroundSm3&) = delete;
  BackgroundSm3& operator=(const BackgroundSm3&) = delete;

  // Starts a digest (an unfinished one is dropped) with `first` as its
  // first piece.
  void Start(std::string first);
  void Add(std::string piece);
  // Waits for the pieces to be hashed; the digest in lower-case hex, or
  // empty on failure or without Start().
  std::string Finish();
  // Drops the digest in progress.
  void Abandon();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable done_;
  std::deque<std::string> pieces_;
  std::uint64_t generation_ = 0;   // digest the queued pieces belong to
  std::uint64_t hashing_ = 0;      // digest the worker's state belongs to
  bool started_ = false;
  bool busy_ = false;              // the worker holds a piece outside the lock
  bool stop_ = false;
  Sm3 sm3_;  // the worker's, except in Finish() once it is idle
  std::thread thread_;
};

}  // namespace yilian
