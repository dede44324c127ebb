// File modes of what yilian keeps on disk, in both directions:
//
//  - What the broker and an adapter write for themselves (the data
//    directory, the store and its -wal/-shm files, the adapter's state
//    journal, log files) is private to the user they run as: directories
//    0700, files 0600, whatever the process umask. MakePrivateDir and
//    MakePrivateFile create them so, and tighten an existing one that group
//    or others can reach (an older installation, a file created under a
//    looser umask); the caller logs the notice they return.
//  - What they trust (keys file, key pairs, data key, tokens, the HTTPS
//    private key, configuration files) must not be writable by group or
//    others, who could otherwise add a key or point the broker elsewhere;
//    secrets must not be readable by them either. CheckTrustedFile refuses
//    such a file with an error naming it, its mode and the chmod that fixes
//    it. The check does not chmod: who may change a trusted file is the
//    operator's decision, and a file others could write may already have
//    been changed.
//
// Thread-safety: plain functions of the file system; any thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace yilian::files {

// What a trusted file must be protected from.
enum class Trust {
  // Others may read it but not change it: the keys file (public keys and
  // roles), a peer's public key, configuration, CA certificates.
  kNoOthersWrite,
  // Owner only (0600 or stricter): secret keys, the data key, tokens.
  kSecret,
};

// "0644": the permission bits of `mode` as chmod takes them.
std::string ModeText(mode_t mode);

// Ok if the regular file `path` is protected as `trust` asks. Otherwise
// kFailedPrecondition: "<what> '<path>' has mode 0666: it is writable by
// group or others ...; fix: chmod go-w '<path>'" (for kSecret: readable
// and/or writable, fix chmod 600); kIoError if it cannot be examined,
// kInvalidArgument if it is not a regular file. `what` names the file's role
// ("keys file").
Status CheckTrustedFile(const std::string& path, std::string_view what, Trust trust);
// The same for a file already open as `fd` (no race between check and read).
Status CheckTrustedFile(int fd, const std::string& path, std::string_view what, Trust trust);

// Creates the directory `path` (with missing parents) as mode 0700, or
// makes an existing one that group or others can reach 0700. *notice is
// set to a sentence for the log when an existing directory was changed, and
// cleared otherwise. Fails if `path` is not a directory or cannot be
// changed (not its owner), saying what to do.
Status MakePrivateDir(const std::string& path, std::string* notice);

// Creates the regular file `path` (empty, mode 0600) if it does not exist,
// or makes an existing regular file that group or others can reach 0600.
// Anything else at `path` (a terminal, /dev/stderr, a pipe) is left as it
// is. *notice as for MakePrivateDir. The parent directory must exist.
Status MakePrivateFile(const std::string& path, std::string* notice);

// MakePrivateFile for a file that may or may not exist but must not be
// created here (SQLite's -wal and -shm files).
Status TightenFileIfPresent(const std::string& path, std::string* notice);

}  // namespace yilian::files
