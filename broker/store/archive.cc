#include "store/archive.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "common/digest.h"
#include "common/file_modes.h"
#include "store/schema.h"
#include "store/sqlite_util.h"

namespace yilian::store {
namespace {

using sql::StepResult;
using sql::Use;

enum class Kind { kInt, kText, kBlob };

// fsync of a file or, opened O_DIRECTORY, of a directory's entries.
Status SyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open '" + path + "' to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int e = errno;
  ::close(fd);
  if (rc != 0) return Status::IoError("cannot sync '" + path + "': " + std::strerror(e));
  return Status::Ok();
}

struct Table {
  std::string name;
  std::vector<std::string> columns;
  std::vector<Kind> kinds;

  std::string Select() const {
    std::string out;
    for (const auto& c : columns) out += (out.empty() ? "" : ", ") + c;
    return "SELECT " + out + " FROM " + name;
  }
  std::string Insert() const {
    std::string names, params;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      names += (i ? ", " : "") + columns[i];
      params += (i ? ", ?" : "?") + std::to_string(i + 1);
    }
    return "INSERT INTO " + name + " (" + names + ") VALUES (" + params + ")";
  }
};

const Table& EventsTable() {
  static const Table t{"events",
                       {"seq", "event_id", "uscc", "revision", "type", "agencies", "payload", "published_at", "name",
                        "case_state", "completed_at", "deadline_at", "overdue", "resolution"},
                       {Kind::kInt, Kind::kText, Kind::kText, Kind::kInt, Kind::kInt, Kind::kText, Kind::kBlob,
                        Kind::kInt, Kind::kText, Kind::kInt, Kind::kInt, Kind::kInt, Kind::kInt, Kind::kText}};
  return t;
}

// id and the columns of YILIAN_DELIVERIES_V2_COLUMNS (the one definition).
const Table& DeliveriesTable() {
  static const Table t = [] {
    Table d{"deliveries", {"id"}, {Kind::kInt}};
    const std::string list = DeliveryColumnList();
    for (std::size_t at = 0; at < list.size();) {
      std::size_t end = list.find(", ", at);
      if (end == std::string::npos) end = list.size();
      std::string column = list.substr(at, end - at);
      at = end + 2;
      const bool text = column == "agency" || column == "uscc" || column == "reference" || column == "reason";
      d.columns.push_back(column);
      d.kinds.push_back(text ? Kind::kText : Kind::kInt);
    }
    return d;
  }();
  return t;
}

const Table& CaseUpdatesTable() {
  static const Table t{"case_updates",
                       {"id", "seq", "kind", "agency", "at", "acked"},
                       {Kind::kInt, Kind::kInt, Kind::kInt, Kind::kText, Kind::kInt, Kind::kInt}};
  return t;
}

const Table& AuditTable() {
  static const Table t{"audit",
                       {"id", "at", "actor", "kind", "body", "prev_hash", "hash"},
                       {Kind::kInt, Kind::kInt, Kind::kText, Kind::kText, Kind::kText, Kind::kText, Kind::kText}};
  return t;
}

// An archive file being written: an SQLite database of its own.
class ArchiveWriter {
 public:
  ~ArchiveWriter() {
    for (auto& [table, stmt] : inserts_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close_v2(db_);
  }

  Status Create(const std::string& path) {
    path_ = path;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IoError("cannot create archive file '" + path + "': " + std::strerror(errno));
    ::close(fd);
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return Status::IoError("cannot open archive file '" + path + "': " + sqlite3_errstr(rc));
    return Exec(std::string("PRAGMA synchronous=FULL; PRAGMA journal_mode=DELETE; BEGIN;") + kSchemaSql);
  }

  Status Insert(const Table& table, const sql::Statement& row) {
    sqlite3_stmt*& stmt = inserts_[&table];
    if (!stmt && sqlite3_prepare_v2(db_, table.Insert().c_str(), -1, &stmt, nullptr) != SQLITE_OK)
      return Error("prepare " + table.name);
    sqlite::Use u(stmt);
    std::vector<std::string> texts(table.columns.size());
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      const int col = static_cast<int>(i);
      switch (table.kinds[i]) {
        case Kind::kInt:
          sqlite3_bind_int64(stmt, col + 1, row.Int(col));
          break;
        case Kind::kText:
          texts[i] = row.Text(col);
          sqlite::BindText(stmt, col + 1, texts[i]);
          break;
        case Kind::kBlob:
          texts[i] = row.Text(col);
          sqlite::BindBlob(stmt, col + 1, texts[i]);
          break;
      }
    }
    if (sqlite3_step(stmt) != SQLITE_DONE) return Error("write " + table.name);
    return Status::Ok();
  }

  Status Meta(const std::string& key, const std::string& value) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", -1, &stmt, nullptr) !=
        SQLITE_OK)
      return Error("prepare meta");
    sqlite::BindText(stmt, 1, key);
    sqlite::BindText(stmt, 2, value);
    const int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? Status::Ok() : Error("write meta");
  }

  // Commits and closes; the file is synced by SQLite's commit and again here.
  Status Finish() {
    if (Status s = Exec("COMMIT;"); !s.ok()) return s;
    for (auto& [table, stmt] : inserts_) sqlite3_finalize(stmt);
    inserts_.clear();
    const int rc = sqlite3_close_v2(db_);
    db_ = nullptr;
    if (rc != SQLITE_OK) return Status::IoError("cannot close archive file '" + path_ + "'");
    return SyncPath(path_, O_RDWR);
  }

 private:
  Status Exec(const std::string& sql) { return sqlite::ExecSql(db_, sql, "archive file '" + path_ + "'"); }
  Status Error(const std::string& what) {
    return sqlite::Classify(sqlite3_extended_errcode(db_),
                            "archive file '" + path_ + "': " + what + ": " + sqlite3_errmsg(db_));
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::map<const Table*, sqlite3_stmt*> inserts_;
};

std::string Slots() { return std::to_string(kAgencySlots); }

Result<std::unique_ptr<sql::Statement>> Prepare(sql::ReadConnection* c, const std::string& text,
                                                sql::Rows rows = sql::Rows::kFew) {
  return c->Prepare(text, rows);
}

// Copies every row `select` (already bound) yields into `table`.
Status CopyRows(sql::Statement* select, const Table& table, ArchiveWriter* out, std::uint64_t* count,
                const std::function<Status(const sql::Statement&)>& each = nullptr) {
  for (;;) {
    StepResult rc = select->Step();
    if (rc == StepResult::kDone) return Status::Ok();
    if (rc == StepResult::kError) return select->Error("read " + table.name);
    if (each)
      if (Status s = each(*select); !s.ok()) return s;
    if (Status s = out->Insert(table, *select); !s.ok()) return s;
    if (count) ++*count;
  }
}

}  // namespace

std::string ArchiveFileName(std::uint64_t id) {
  char name[40];
  std::snprintf(name, sizeof name, "archive-%06llu.db", static_cast<unsigned long long>(id));
  return name;
}

const char* EventFingerprintSql() {
  static const std::string text =
      "SELECT e.case_state, e.completed_at, e.overdue, e.resolution, "
      "(SELECT COUNT(*) FROM deliveries d WHERE d.id >= e.seq * " + Slots() + " AND d.id < (e.seq + 1) * " +
      Slots() + " AND d.state NOT IN (3, 4)), "
      "(SELECT COALESCE(MAX(d.updated_at), 0) FROM deliveries d WHERE d.id >= e.seq * " + Slots() +
      " AND d.id < (e.seq + 1) * " + Slots() + "), "
      "(SELECT COUNT(*) FROM case_updates u WHERE u.seq = e.seq), "
      "(SELECT COUNT(*) FROM case_updates u WHERE u.seq = e.seq AND u.acked = 0) "
      "FROM events e WHERE e.seq = ?1";
  return text.c_str();
}

Result<std::string> EventFingerprint(sql::Statement* query, Sequence seq) {
  Use u(*query);
  u->Bind(1, static_cast<std::int64_t>(seq));
  StepResult rc = u->Step();
  if (rc == StepResult::kDone) return std::string();
  if (rc == StepResult::kError) return u->Error("fingerprint event");
  std::string out;
  for (int col = 0; col < 8; ++col) out += (col == 3 ? u->Text(col) : std::to_string(u->Int(col))) + "|";
  return out;
}

Result<std::string> FileSm3(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot read '" + path + "': " + std::strerror(errno));
  Sm3 sm3;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return Status::IoError("cannot read '" + path + "': " + std::strerror(e));
    }
    if (n == 0) break;
    sm3.Update(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  ::close(fd);
  return sm3.HexDigest();
}

Result<ArchiveSegment> WriteArchiveFile(sql::ReadConnection* live, const std::string& dir, std::uint64_t id,
                                        Millis cutoff, Millis now, Sequence after_seq, std::uint64_t audit_after,
                                        const ContentHasher& hasher, const ArchiveLimits& limits) {
  ArchiveSegment seg;
  seg.id = id;
  seg.file = ArchiveFileName(id);
  seg.created_at = now;
  seg.cutoff = cutoff;

  if (Status s = live->BeginSnapshot(); !s.ok()) return s;
  struct EndSnapshot {
    sql::ReadConnection* c;
    ~EndSnapshot() { (void)c->EndSnapshot(); }
  } end{live};

  // The events due, in sequence order.
  auto due = Prepare(live,
                     "SELECT e.seq, e.event_id, e.agencies FROM events e WHERE e.seq > ?1 AND e.case_state = 2 "
                     "AND e.completed_at > 0 AND e.completed_at < ?2 "
                     "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id >= e.seq * " +
                         Slots() + " AND d.id < (e.seq + 1) * " + Slots() +
                         " AND d.state NOT IN (3, 4)) "
                         "AND NOT EXISTS (SELECT 1 FROM case_updates u WHERE u.acked = 0 AND u.seq = e.seq) "
                         "ORDER BY e.seq LIMIT ?3",
                     sql::Rows::kMany);
  if (!due.ok()) return due.status();
  {
    Use u(*due.value());
    u->Bind(1, static_cast<std::int64_t>(after_seq));
    u->Bind(2, cutoff);
    u->Bind(3, static_cast<std::int64_t>(limits.max_events));
    for (;;) {
      StepResult rc = u->Step();
      if (rc == StepResult::kDone) break;
      if (rc == StepResult::kError) return u->Error("select events to archive");
      ArchivedEvent e;
      e.seq = static_cast<Sequence>(u->Int(0));
      e.event_id = u->Text(1);
      e.agencies = u->Text(2);
      seg.archived.push_back(std::move(e));
    }
  }

  // The audit records due: from the first live one up to the first one at
  // or after the cutoff, never the chain's last.
  auto bounds = Prepare(live,
                        "SELECT COALESCE(MAX(id), 0), COALESCE((SELECT MIN(a.id) FROM audit a WHERE a.id > ?1 AND "
                        "a.at >= ?2), 0) FROM audit WHERE id > ?1");
  if (!bounds.ok()) return bounds.status();
  {
    Use u(*bounds.value());
    u->Bind(1, static_cast<std::int64_t>(audit_after));
    u->Bind(2, cutoff);
    StepResult rc = u->Step();
    if (rc == StepResult::kError) return u->Error("select audit records to archive");
    if (rc == StepResult::kRow) {
      const auto last_live = static_cast<std::uint64_t>(u->Int(0));
      const auto first_young = static_cast<std::uint64_t>(u->Int(1));
      std::uint64_t last = last_live > 0 ? last_live - 1 : 0;
      if (first_young > 0) last = std::min(last, first_young - 1);
      last = std::min(last, audit_after + limits.max_audit_records);
      if (last > audit_after) {
        seg.audit_first = audit_after + 1;
        seg.audit_last = last;
      }
    }
  }
  if (seg.archived.empty() && seg.audit_last == 0) return seg;

  std::string notice;
  if (Status s = files::MakePrivateDir(dir, &notice); !s.ok())
    return Status(s.code(), "archive directory: " + s.message());
  const std::string final_path = dir + "/" + seg.file;
  const std::string temp_path = dir + "/." + seg.file + ".tmp";
  ::unlink(temp_path.c_str());
  ArchiveWriter out;
  if (Status s = out.Create(temp_path); !s.ok()) return s;

  auto event = Prepare(live, EventsTable().Select() + " WHERE seq = ?1");
  auto deliveries = Prepare(live, DeliveriesTable().Select() + " WHERE id >= ?1 AND id < ?2 ORDER BY id");
  auto updates = Prepare(live, CaseUpdatesTable().Select() + " WHERE seq = ?1 ORDER BY id");
  auto fingerprint = Prepare(live, EventFingerprintSql());
  for (auto* r : {&event, &deliveries, &updates, &fingerprint})
    if (!r->ok()) return r->status();
  std::uint64_t count = 0;
  for (ArchivedEvent& e : seg.archived) {
    {
      Use u(*event.value());
      u->Bind(1, static_cast<std::int64_t>(e.seq));
      if (Status s = CopyRows(&*u, EventsTable(), &out, &count,
                              [&](const sql::Statement& row) -> Status {
                                e.content = hasher(row.Text(6));
                                if (e.content.empty())
                                  return Status::Corruption("event " + e.event_id + " (seq " + std::to_string(e.seq) +
                                                            "): its stored payload cannot be read");
                                return Status::Ok();
                              });
          !s.ok())
        return s;
    }
    {
      Use u(*deliveries.value());
      u->Bind(1, static_cast<std::int64_t>(e.seq) * kAgencySlots);
      u->Bind(2, static_cast<std::int64_t>(e.seq + 1) * kAgencySlots);
      if (Status s = CopyRows(&*u, DeliveriesTable(), &out, nullptr); !s.ok()) return s;
    }
    {
      Use u(*updates.value());
      u->Bind(1, static_cast<std::int64_t>(e.seq));
      if (Status s = CopyRows(&*u, CaseUpdatesTable(), &out, nullptr); !s.ok()) return s;
    }
    auto fp = EventFingerprint(fingerprint.value().get(), e.seq);
    if (!fp.ok()) return fp.status();
    e.fingerprint = std::move(fp).value();
  }
  seg.events = count;
  if (!seg.archived.empty()) {
    seg.first_seq = seg.archived.front().seq;
    seg.last_seq = seg.archived.back().seq;
  }

  std::string audit_prev_hash;
  if (seg.audit_last > 0) {
    auto audit = Prepare(live, AuditTable().Select() + " WHERE id >= ?1 AND id <= ?2 ORDER BY id", sql::Rows::kMany);
    if (!audit.ok()) return audit.status();
    Use u(*audit.value());
    u->Bind(1, static_cast<std::int64_t>(seg.audit_first));
    u->Bind(2, static_cast<std::int64_t>(seg.audit_last));
    std::uint64_t expected = seg.audit_first;
    if (Status s = CopyRows(&*u, AuditTable(), &out, nullptr,
                            [&](const sql::Statement& row) -> Status {
                              if (static_cast<std::uint64_t>(row.Int(0)) != expected)
                                return Status::Corruption("audit record " + std::to_string(expected) +
                                                          " is missing from the store; nothing archived");
                              if (expected == seg.audit_first) audit_prev_hash = row.Text(5);
                              seg.audit_last_hash = row.Text(6);
                              ++expected;
                              return Status::Ok();
                            });
        !s.ok())
      return s;
    if (expected != seg.audit_last + 1)
      return Status::Corruption("audit records " + std::to_string(expected) + " to " +
                                std::to_string(seg.audit_last) + " are missing from the store; nothing archived");
  }

  const std::pair<const char*, std::string> meta[] = {
      {"format", kArchiveFormat},
      {"format_version", std::to_string(kArchiveFormatVersion)},
      {"schema_version", std::to_string(kSchemaVersion)},
      {"archive_id", std::to_string(seg.id)},
      {"created_at", std::to_string(seg.created_at)},
      {"cutoff", std::to_string(seg.cutoff)},
      {"events", std::to_string(seg.events)},
      {"first_seq", std::to_string(seg.first_seq)},
      {"last_seq", std::to_string(seg.last_seq)},
      {"audit_first", std::to_string(seg.audit_first)},
      {"audit_last", std::to_string(seg.audit_last)},
      {"audit_prev_hash", audit_prev_hash},
      {"audit_last_hash", seg.audit_last_hash},
  };
  for (const auto& [key, value] : meta)
    if (Status s = out.Meta(key, value); !s.ok()) return s;
  if (Status s = out.Finish(); !s.ok()) return s;
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0)
    return Status::IoError("cannot rename '" + temp_path + "' to '" + final_path + "': " + std::strerror(errno));
  if (Status s = SyncPath(dir, O_RDONLY | O_DIRECTORY); !s.ok()) return s;
  auto digest = FileSm3(final_path);
  if (!digest.ok()) return digest.status();
  seg.sm3 = std::move(digest).value();
  return seg;
}

Result<std::vector<ArchivedEvent>> ReadArchivedEvents(sql::ReadConnection* archive, const ContentHasher& hasher,
                                                      const std::string& where) {
  auto events = archive->Prepare("SELECT seq, event_id, agencies, payload FROM events ORDER BY seq", sql::Rows::kMany);
  if (!events.ok()) return events.status();
  auto fingerprint = archive->Prepare(EventFingerprintSql());
  if (!fingerprint.ok()) return fingerprint.status();
  std::vector<ArchivedEvent> out;
  {
    Use u(*events.value());
    for (;;) {
      StepResult rc = u->Step();
      if (rc == StepResult::kDone) break;
      if (rc == StepResult::kError) return u->Error(where + ": read events");
      ArchivedEvent e;
      e.seq = static_cast<Sequence>(u->Int(0));
      e.event_id = u->Text(1);
      e.agencies = u->Text(2);
      e.content = hasher(u->Text(3));
      if (e.content.empty())
        return Status::Corruption(where + ": event " + e.event_id + ": its stored payload cannot be read");
      out.push_back(std::move(e));
    }
  }
  for (ArchivedEvent& e : out) {
    auto fp = EventFingerprint(fingerprint.value().get(), e.seq);
    if (!fp.ok()) return fp.status();
    e.fingerprint = std::move(fp).value();
  }
  return out;
}

Result<ArchiveInfo> ReadArchiveInfo(sql::ReadConnection* archive, const std::string& where) {
  auto stmt = archive->Prepare("SELECT key, value FROM meta");
  if (!stmt.ok()) return Status::Corruption(where + ": not an archive file (" + stmt.status().message() + ")");
  ArchiveInfo info;
  Use u(*stmt.value());
  auto number = [](const std::string& v) -> std::uint64_t {
    std::uint64_t n = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return 0;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
  };
  for (;;) {
    StepResult rc = u->Step();
    if (rc == StepResult::kDone) break;
    if (rc == StepResult::kError) return u->Error(where + ": read meta");
    const std::string key = u->Text(0), value = u->Text(1);
    if (key == "format") info.format = value;
    else if (key == "format_version") info.format_version = static_cast<int>(number(value));
    else if (key == "archive_id") info.id = number(value);
    else if (key == "first_seq") info.first_seq = number(value);
    else if (key == "last_seq") info.last_seq = number(value);
    else if (key == "events") info.events = number(value);
    else if (key == "audit_first") info.audit_first = number(value);
    else if (key == "audit_last") info.audit_last = number(value);
    else if (key == "audit_prev_hash") info.audit_prev_hash = value;
    else if (key == "audit_last_hash") info.audit_last_hash = value;
    else if (key == "created_at") info.created_at = static_cast<Millis>(number(value));
    else if (key == "cutoff") info.cutoff = static_cast<Millis>(number(value));
  }
  if (info.format != kArchiveFormat)
    return Status::Corruption(where + ": not a yilian archive file (format '" + info.format + "')");
  if (info.format_version != kArchiveFormatVersion)
    return Status::FailedPrecondition(where + ": archive format version " + std::to_string(info.format_version) +
                                      ", this version reads " + std::to_string(kArchiveFormatVersion));
  return info;
}

}  // namespace yilian::store
