#include "audit/anchor_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace yilian::audit {

Result<std::unique_ptr<AnchorWriter>> AnchorWriter::Open(const std::string& path, AnchorKey key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::IoError("cannot open the audit anchor file '" + path + "' for appending: " + std::strerror(errno));
  return std::unique_ptr<AnchorWriter>(new AnchorWriter(path, fd, std::move(key)));
}

AnchorWriter::AnchorWriter(std::string path, int fd, AnchorKey key)
    : path_(std::move(path)), fd_(fd), key_(std::move(key)), log_(GetLogger("audit")), thread_([this] { Run(); }) {}

AnchorWriter::~AnchorWriter() { Close(); }

void AnchorWriter::Submit(Millis at, std::uint64_t id, const std::string& hash) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    waiting_ = Head{at, id, hash};
  }
  work_.notify_one();
}

void AnchorWriter::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  work_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void AnchorWriter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stop_ || waiting_.has_value(); });
    if (waiting_) {
      Head head = std::move(*waiting_);
      waiting_.reset();
      lock.unlock();
      Write(head);
      lock.lock();
      continue;
    }
    if (stop_) return;
  }
}

void AnchorWriter::Write(const Head& head) {
  Result<Anchor> anchor = key_.Sign(head.at, head.id, head.hash);
  if (!anchor.ok()) {
    log_->error("cannot sign the audit anchor of record {}: {}", head.id, anchor.status().message());
    return;
  }
  const std::string line = FormatAnchorLine(anchor.value()) + "\n";
  // One write of one short line with O_APPEND: it lands whole at the end.
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      log_->error("cannot append the audit anchor of record {} to '{}': {}", head.id, path_, std::strerror(errno));
      return;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0) {
    log_->error("cannot sync the audit anchor file '{}' after record {}: {}", path_, head.id, std::strerror(errno));
    return;
  }
  log_->info("{}", line.substr(0, line.size() - 1));
}

}  // namespace yilian::audit
