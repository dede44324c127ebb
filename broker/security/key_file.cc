#include "security/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/file_modes.h"
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
  // Owner only, a regular file: the one check every trusted file gets.
  if (Status s = files::CheckTrustedFile(fd, path, "key file", files::Trust::kSecret); !s.ok()) {
    ::close(fd);
    return s;
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
