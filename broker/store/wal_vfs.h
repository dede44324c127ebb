// The store's SQLite VFS: the default one with each commit's write-ahead
// log frames written in one call (see wal_vfs.cc). Internal to broker/store.
#pragma once

namespace yilian::store {

inline constexpr const char* kWalVfsName = "yilian-wal";

// Registers the VFS (once per process, not as the default) and returns its
// name for sqlite3_open_v2, or nullptr if it cannot be registered (the
// default VFS is then used).
const char* RegisterWalVfs();

}  // namespace yilian::store
