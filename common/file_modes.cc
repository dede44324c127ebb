#include "common/file_modes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace yilian::files {
namespace {

constexpr mode_t kGroupOther = S_IRWXG | S_IRWXO;
constexpr mode_t kGroupOtherWrite = S_IWGRP | S_IWOTH;
constexpr mode_t kGroupOtherRead = S_IRGRP | S_IROTH;

std::string Quoted(const std::string& path) { return "'" + path + "'"; }

Status CheckMode(const struct stat& st, const std::string& path, std::string_view what, Trust trust) {
  const std::string where = std::string(what) + " " + Quoted(path);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(where + " is not a regular file");
  const mode_t refused = trust == Trust::kSecret ? kGroupOther : kGroupOtherWrite;
  if ((st.st_mode & refused) == 0) return Status::Ok();
  const bool writable = (st.st_mode & kGroupOtherWrite) != 0;
  // Reading matters only for a secret.
  const bool readable = trust == Trust::kSecret && (st.st_mode & kGroupOtherRead) != 0;
  std::string how = writable && readable ? "readable and writable"
                    : writable           ? "writable"
                    : readable           ? "readable"
                                         : "accessible";
  std::string message = where + " has mode " + ModeText(st.st_mode) + ": it is " + how + " by group or others";
  if (trust == Trust::kSecret) {
    message += "; a secret must be accessible by its owner only (0600 or stricter): chmod 600 " + Quoted(path);
  } else {
    message += ", who could change what it says; make it writable by its owner only: chmod go-w " + Quoted(path);
  }
  return Status::FailedPrecondition(std::move(message));
}

// Makes the existing `path` (mode st_mode) `target` if group or others can
// reach it.
Status Tighten(const std::string& path, mode_t st_mode, mode_t target, std::string* notice) {
  if ((st_mode & kGroupOther) == 0) return Status::Ok();
  if (::chmod(path.c_str(), target) != 0) {
    return Status::FailedPrecondition(Quoted(path) + " has mode " + ModeText(st_mode) +
                                      ": group or others can reach it, and it cannot be made private (" +
                                      std::strerror(errno) + "); as its owner: chmod " + ModeText(target).substr(1) +
                                      " " + Quoted(path));
  }
  *notice = Quoted(path) + " had mode " + ModeText(st_mode) + ", which let group or others reach it; made it " +
            ModeText(target);
  return Status::Ok();
}

}  // namespace

std::string ModeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Status CheckTrustedFile(const std::string& path, std::string_view what, Trust trust) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status::IoError("cannot examine " + std::string(what) + " " + Quoted(path) + ": " + std::strerror(errno));
  return CheckMode(st, path, what, trust);
}

Status CheckTrustedFile(int fd, const std::string& path, std::string_view what, Trust trust) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return Status::IoError("cannot examine " + std::string(what) + " " + Quoted(path) + ": " + std::strerror(errno));
  return CheckMode(st, path, what, trust);
}

Status MakePrivateDir(const std::string& path, std::string* notice) {
  notice->clear();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return Status::IoError("cannot examine directory " + Quoted(path) + ": " + std::strerror(errno));
    // Parents as the umask makes them (they are not ours); the directory
    // itself private from its first moment.
    std::filesystem::path leaf = std::filesystem::path(path).lexically_normal();
    if (!leaf.has_filename()) leaf = leaf.parent_path();
    std::error_code ec;
    if (leaf.has_parent_path()) std::filesystem::create_directories(leaf.parent_path(), ec);
    if (ec)
      return Status::IoError("cannot create directory " + Quoted(leaf.parent_path().string()) + ": " + ec.message());
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::IoError("cannot create directory " + Quoted(path) + ": " + std::strerror(errno));
    if (::stat(path.c_str(), &st) != 0)
      return Status::IoError("cannot examine directory " + Quoted(path) + ": " + std::strerror(errno));
    // A umask may have taken the owner's bits as well.
    if (S_ISDIR(st.st_mode) && (st.st_mode & 0777) != 0700 && ::chmod(path.c_str(), 0700) == 0)
      st.st_mode = S_IFDIR | 0700;
  }
  if (!S_ISDIR(st.st_mode)) return Status::FailedPrecondition(Quoted(path) + " exists and is not a directory");
  return Tighten(path, st.st_mode, 0700, notice);
}

Status MakePrivateFile(const std::string& path, std::string* notice) {
  notice->clear();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    // A umask may have taken the owner's bits as well.
    int rc = ::fchmod(fd, 0600);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::IoError("cannot set the mode of " + Quoted(path) + ": " + std::strerror(err));
    return Status::Ok();
  }
  if (errno != EEXIST) return Status::IoError("cannot create " + Quoted(path) + ": " + std::strerror(errno));
  return TightenFileIfPresent(path, notice);
}

Status TightenFileIfPresent(const std::string& path, std::string* notice) {
  notice->clear();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::IoError("cannot examine " + Quoted(path) + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::Ok();
  return Tighten(path, st.st_mode, 0600, notice);
}

}  // namespace yilian::files
