// AnchorWriter: the broker's side of the audit anchors (anchor.h). It signs
// the chain heads it is given and appends each as one line to the anchor
// file (opened O_APPEND, created with mode 0600), fsyncs the file, and logs
// the same line, as it is, at info level on the "audit" logger, so a log
// shipper keeps a second copy elsewhere.
//
// Operation: Submit() only hands the head over; a thread of the writer's
// own signs, writes and syncs, so the broker loop never waits for the disk.
// If heads arrive faster than they are written, only the newest waiting one
// is written (a later anchor covers every record before it). A failed write
// is logged as an error and the writer goes on with the next head; the
// broker keeps running (an anchor is evidence, not part of a commit).
// Close() writes what waits and stops the thread.
//
// Ownership: the writer owns its file descriptor, its key and its thread.
// Concurrency: Submit and Close are called by one thread (the broker loop);
// Close is idempotent and also runs in the destructor.
#pragma once

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "yilian/audit/anchor.h"

namespace yilian::audit {

class AnchorWriter {
 public:
  // Opens `path` for appending (creating it with mode 0600; its directory
  // must exist). kIoError naming the path if it cannot be opened.
  static Result<std::unique_ptr<AnchorWriter>> Open(const std::string& path, AnchorKey key);
  ~AnchorWriter();
  AnchorWriter(const AnchorWriter&) = delete;
  AnchorWriter& operator=(const AnchorWriter&) = delete;

  const std::string& path() const { return path_; }

  // Queues the anchor of audit record `id` with `hash`, made at `at`.
  void Submit(Millis at, std::uint64_t id, const std::string& hash);
  // Writes the anchor still waiting, if any, and stops the thread.
  void Close();

 private:
  struct Head {
    Millis at;
    std::uint64_t id;
    std::string hash;
  };
  AnchorWriter(std::string path, int fd, AnchorKey key);
  void Run();
  void Write(const Head& head);

  const std::string path_;
  int fd_;
  const AnchorKey key_;
  std::shared_ptr<spdlog::logger> log_;

  std::mutex mu_;
  std::condition_variable work_;
  std::optional<Head> waiting_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is set up
};

}  // namespace yilian::audit
