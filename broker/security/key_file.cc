#include "security/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "security/crypto.h"

namespace yilian::security {
namespace {

// A key file is 64 hex characters and maybe a line end; anything much
// larger is not a key file.
constexpr std::size_t kMaxKeyFileBytes = 256;

void WipeString(std::string* s) {
  crypto::Wipe(s->data(), s->size());
  s->clear();
}

}  // namespace

Result<std::string> ReadKeyFileText(const std::string& path) {
  const std::string where = "key file '" + path + "'";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + where + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::IoError("cannot stat " + where + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(where + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::FailedPrecondition(where + " has mode " + mode +
                                      ": group or others may access it; it must be 0600 or stricter (chmod 600)");
  }
  std::string content(kMaxKeyFileBytes + 1, '\0');
  std::size_t size = 0;
  while (size < content.size()) {
    ssize_t n = ::read(fd, content.data() + size, content.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      WipeString(&content);
      return Status::IoError("cannot read " + where + ": " + std::strerror(err));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (size > kMaxKeyFileBytes) {
    WipeString(&content);
    return Status::InvalidArgument(where + " is longer than " + std::to_string(kMaxKeyFileBytes) +
                                   " bytes: not a key file");
  }
  std::string_view text(content.data(), size);
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  std::string out(text);
  WipeString(&content);
  return out;
}

}  // namespace yilian::security
