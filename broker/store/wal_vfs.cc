// The "yilian-wal" VFS: SQLite's default VFS, except that the frames one
// commit appends to the write-ahead log reach the kernel in one write.
//
// SQLite writes every WAL frame as two calls, its 24-byte header and then
// its page, so a commit of N pages costs 2N pwrite calls. Here the WAL
// file's appends are gathered in a buffer and written at once when the
// commit frame (a frame header with a non-zero database size) has its page
// written: still inside the COMMIT, before SQLite publishes the new frames
// in the shared WAL index, so no reader can look for a frame that is not in
// the file yet. Anything that could look at the buffered bytes first (a
// read that overlaps them, a sync, a truncate, the file size, a file
// control, close) writes them out before it runs. A write that does not
// continue the buffer writes it out too, so the file always receives the
// same bytes at the same offsets as without this VFS, only in fewer calls.
//
// A failed write of the buffer fails the call that triggered it: for the
// commit frame's page that is the COMMIT, which then has no effect (the
// commit frame is not in the file, so recovery ignores the frames before
// it).
#include "store/wal_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace yilian::store {
namespace {

constexpr int kFrameHeaderBytes = 24;
// Written out early above this size (a very large transaction).
constexpr std::size_t kMaxBuffered = 16u << 20;
// The default VFS writes at most 128 KiB - 1 bytes per call (it masks the
// length, it does not split it): the buffer goes out in pieces this large.
constexpr std::size_t kMaxWriteBytes = 124u << 10;

sqlite3_vfs* g_base = nullptr;

struct WalFile {
  sqlite3_file base;      // our methods
  sqlite3_file* real;     // the default VFS's file, right after this struct
  std::vector<char>* buf;  // the gathered appends
  sqlite3_int64 buf_offset;
  bool commit_pending;  // the commit frame's header is buffered, its page is next
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f)->real; }

int FlushBuffer(WalFile* w) {
  int rc = SQLITE_OK;
  const char* data = w->buf->data();
  std::size_t left = w->buf->size();
  sqlite3_int64 offset = w->buf_offset;
  while (left > 0 && rc == SQLITE_OK) {
    int n = static_cast<int>(std::min(left, kMaxWriteBytes));
    rc = w->real->pMethods->xWrite(w->real, data, n, offset);
    data += n;
    left -= static_cast<std::size_t>(n);
    offset += n;
  }
  w->buf->clear();
  w->commit_pending = false;
  return rc;
}

int Flush(sqlite3_file* f) { return FlushBuffer(reinterpret_cast<WalFile*>(f)); }

int WalClose(sqlite3_file* f) {
  auto* w = reinterpret_cast<WalFile*>(f);
  int rc = FlushBuffer(w);
  int close_rc = w->real->pMethods ? w->real->pMethods->xClose(w->real) : SQLITE_OK;
  delete w->buf;
  w->buf = nullptr;
  return rc != SQLITE_OK ? rc : close_rc;
}

int WalRead(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  auto* w = reinterpret_cast<WalFile*>(f);
  if (!w->buf->empty()) {
    sqlite3_int64 end = w->buf_offset + static_cast<sqlite3_int64>(w->buf->size());
    if (offset < end && offset + amount > w->buf_offset) {
      if (int rc = FlushBuffer(w); rc != SQLITE_OK) return rc;
    }
  }
  return w->real->pMethods->xRead(w->real, out, amount, offset);
}

int WalWrite(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  auto* w = reinterpret_cast<WalFile*>(f);
  std::vector<char>& buf = *w->buf;
  if (!buf.empty() && offset != w->buf_offset + static_cast<sqlite3_int64>(buf.size())) {
    if (int rc = FlushBuffer(w); rc != SQLITE_OK) return rc;
  }
  if (buf.empty()) w->buf_offset = offset;
  const char* bytes = static_cast<const char*>(data);
  bool commit_page = w->commit_pending && amount != kFrameHeaderBytes;
  if (amount == kFrameHeaderBytes) {
    // Frame header: bytes 4..7 hold the database size in pages after a
    // commit, zero for the other frames of a transaction.
    w->commit_pending = (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
  }
  try {
    buf.insert(buf.end(), bytes, bytes + amount);
  } catch (const std::bad_alloc&) {
    if (int rc = FlushBuffer(w); rc != SQLITE_OK) return rc;
    return w->real->pMethods->xWrite(w->real, data, amount, offset);
  }
  if (commit_page || buf.size() >= kMaxBuffered) return FlushBuffer(w);
  return SQLITE_OK;
}

int WalTruncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xTruncate(Real(f), size);
}

int WalSync(sqlite3_file* f, int flags) {
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xSync(Real(f), flags);
}

int WalFileSize(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xFileSize(Real(f), size);
}

int WalLock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int WalUnlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int WalCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}

int WalFileControl(sqlite3_file* f, int op, void* arg) {
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}

int WalSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int WalDeviceCharacteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }

// A WAL file has no shared memory or memory map of its own: version 1
// methods only, so SQLite never asks for them.
const sqlite3_io_methods kWalMethods = {
    1,         WalClose,       WalRead,      WalWrite,       WalTruncate,
    WalSync,   WalFileSize,    WalLock,      WalUnlock,      WalCheckReservedLock,
    WalFileControl, WalSectorSize, WalDeviceCharacteristics, nullptr, nullptr,
    nullptr,   nullptr,        nullptr,      nullptr,
};

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  (void)vfs;
  // Every other file is the default VFS's own, opened in place.
  if (!(flags & SQLITE_OPEN_WAL)) return g_base->xOpen(g_base, name, file, flags, out_flags);
  auto* w = reinterpret_cast<WalFile*>(file);
  w->base.pMethods = nullptr;  // until the real file is open
  w->real = reinterpret_cast<sqlite3_file*>(w + 1);
  w->buf = nullptr;
  w->buf_offset = 0;
  w->commit_pending = false;
  int rc = g_base->xOpen(g_base, name, w->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  w->buf = new (std::nothrow) std::vector<char>();
  if (!w->buf) {
    w->real->pMethods->xClose(w->real);
    return SQLITE_NOMEM;
  }
  w->buf->reserve(1u << 20);
  w->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

// Everything but Open is the default VFS's.
int Delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_base->xDelete(g_base, name, sync_dir); }
int Access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_base->xAccess(g_base, name, flags, out); }
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_base->xFullPathname(g_base, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return g_base->xDlOpen(g_base, name); }
void DlError(sqlite3_vfs*, int n, char* out) { g_base->xDlError(g_base, n, out); }
void (*DlSym(sqlite3_vfs*, void* handle, const char* symbol))(void) { return g_base->xDlSym(g_base, handle, symbol); }
void DlClose(sqlite3_vfs*, void* handle) { g_base->xDlClose(g_base, handle); }
int Randomness(sqlite3_vfs*, int n, char* out) { return g_base->xRandomness(g_base, n, out); }
int Sleep(sqlite3_vfs*, int us) { return g_base->xSleep(g_base, us); }
int CurrentTime(sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); }
int GetLastError(sqlite3_vfs*, int n, char* out) { return g_base->xGetLastError(g_base, n, out); }
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) { return g_base->xCurrentTimeInt64(g_base, out); }

sqlite3_vfs g_vfs;

}  // namespace

const char* RegisterWalVfs() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    g_base = sqlite3_vfs_find(nullptr);
    if (!g_base || g_base->iVersion < 2) return;
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(WalFile)) + g_base->szOsFile;
    g_vfs.mxPathname = g_base->mxPathname;
    g_vfs.zName = kWalVfsName;
    g_vfs.xOpen = Open;
    g_vfs.xDelete = Delete;
    g_vfs.xAccess = Access;
    g_vfs.xFullPathname = FullPathname;
    g_vfs.xDlOpen = DlOpen;
    g_vfs.xDlError = DlError;
    g_vfs.xDlSym = DlSym;
    g_vfs.xDlClose = DlClose;
    g_vfs.xRandomness = Randomness;
    g_vfs.xSleep = Sleep;
    g_vfs.xCurrentTime = CurrentTime;
    g_vfs.xGetLastError = GetLastError;
    g_vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    ok = sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK;
  });
  return ok ? kWalVfsName : nullptr;
}

}  // namespace yilian::store
