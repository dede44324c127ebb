#include "archiver.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

#include <google/protobuf/util/time_util.h>

#include "http/json.h"
#include "security/crypto.h"
#include "store/sql_rows.h"
#include "wire/wire.h"
#include "yilian/v1/event.pb.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::server {
namespace {

constexpr const char* kSealedIndexKey = "sealed.index_key";
constexpr const char* kPlainIndexKey = "index_key";
constexpr std::size_t kIndexKeyBytes = 32;

std::string Hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = value(hex[i]), lo = value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// The value of meta `key` ("" if none).
Result<std::string> ReadMeta(store::sql::ReadConnection* conn, const std::string& key) {
  auto q = conn->Prepare("SELECT value FROM meta WHERE key = ?1");
  if (!q.ok()) return q.status();
  store::sql::Use u(*q.value());
  u->Bind(1, key);
  auto rc = u->Step();
  if (rc == store::sql::StepResult::kError) return u->Error("read meta " + key);
  return rc == store::sql::StepResult::kRow ? u->Text(0) : std::string();
}

Result<std::int64_t> ReadInt(store::sql::ReadConnection* conn, const std::string& sql) {
  auto q = conn->Prepare(sql);
  if (!q.ok()) return q.status();
  store::sql::Use u(*q.value());
  auto rc = u->Step();
  if (rc == store::sql::StepResult::kError) return u->Error("read");
  return rc == store::sql::StepResult::kRow ? u->Int(0) : 0;
}

google::protobuf::Timestamp Stamp(Millis ms) { return google::protobuf::util::TimeUtil::MillisecondsToTimestamp(ms); }

}  // namespace

Archiver::Archiver(Options options, Clock* clock, const std::optional<security::FieldCipher>& cipher,
                   std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)), clock_(clock), cipher_(cipher), log_(std::move(log)) {}

Archiver::~Archiver() { Stop(); }

Status Archiver::LoadIndexKey(store::sql::ReadConnection* conn, bool create) {
  std::string key;
  auto sealed = ReadMeta(conn, kSealedIndexKey);
  if (!sealed.ok()) return sealed.status();
  if (!sealed.value().empty()) {
    if (!cipher_)
      return Status::FailedPrecondition(
          "the store's archive index key is sealed with a data key, and no security.data_key_file is configured");
    auto hex = cipher_->DecryptValue(kSealedIndexKey, sealed.value());
    if (!hex.ok())
      return Status(hex.status().code(), "the store's archive index key cannot be unsealed with the configured data "
                                         "key: " + hex.status().message());
    auto raw = Unhex(hex.value());
    if (!raw || raw->size() != kIndexKeyBytes) return Status::Corruption("the store's archive index key is malformed");
    key = *raw;
  } else {
    auto plain = ReadMeta(conn, kPlainIndexKey);
    if (!plain.ok()) return plain.status();
    if (!plain.value().empty()) {
      auto raw = Unhex(plain.value());
      if (!raw || raw->size() != kIndexKeyBytes) return Status::Corruption("the store's archive index key is malformed");
      key = *raw;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!key.empty()) {
    index_key_ = key;
    new_index_key_sealed_.clear();
    return Status::Ok();
  }
  if (!create || !index_key_.empty()) return Status::Ok();
  auto fresh = security::crypto::RandomBytes(kIndexKeyBytes);
  if (!fresh) return Status::Internal("the CSPRNG failed");
  if (cipher_) {
    auto value = cipher_->EncryptValue(kSealedIndexKey, Hex(*fresh));
    if (!value.ok()) return value.status();
    new_index_key_sealed_ = std::string(kSealedIndexKey) + "=" + value.value();
  } else {
    new_index_key_sealed_ = std::string(kPlainIndexKey) + "=" + Hex(*fresh);
  }
  index_key_ = *fresh;
  return Status::Ok();
}

Status Archiver::Start() {
  auto conn = store::sql::OpenSqlite(options_.store_path);
  if (!conn.ok()) return conn.status();
  if (Status s = LoadIndexKey(conn.value().get(), false); !s.ok()) return s;
  if (options_.retention_days <= 0) {
    log_->info("retention: store.retention_days is 0, nothing is archived");
    return Status::Ok();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    next_run_at_ = clock_->NowMillis() + options_.first_run_delay_ms;
  }
  log_->info("retention: settled cases older than {} days move to archive files in {}", options_.retention_days,
             options_.dir);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void Archiver::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Archiver::RequestRun() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requested_ = true;
  }
  cv_.notify_all();
}

Millis Archiver::NextDailyRun(Millis now) const {
  const std::time_t t = static_cast<std::time_t>(now / 1000);
  std::tm local{};
  localtime_r(&t, &local);
  local.tm_hour = static_cast<int>(options_.minute_of_day / 60);
  local.tm_min = static_cast<int>(options_.minute_of_day % 60);
  local.tm_sec = 0;
  local.tm_isdst = -1;
  Millis at = static_cast<Millis>(std::mktime(&local)) * 1000;
  if (at <= now) {
    local.tm_mday += 1;
    local.tm_isdst = -1;
    at = static_cast<Millis>(std::mktime(&local)) * 1000;
  }
  return at;
}

void Archiver::Run() {
  // Writing archive files is background work: it yields the CPU to the
  // broker loop and the HTTP workers (nice 10 for this thread only).
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10) != 0)
    log_->debug("archive thread: cannot lower its priority: {}", std::strerror(errno));
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // The clock is the broker's (a test clock in tests): wake at least
    // once a second to look at it.
    cv_.wait_for(lock, std::chrono::seconds(1),
                 [this] { return stop_ || requested_ || clock_->NowMillis() >= next_run_at_; });
    if (stop_) return;
    if (!requested_ && clock_->NowMillis() < next_run_at_) continue;
    requested_ = false;
    state_ = "running";
    lock.unlock();
    const Millis started = clock_->NowMillis();
    Status s = RunOnce();
    lock.lock();
    state_ = "idle";
    last_run_at_ = started;
    next_run_at_ = NextDailyRun(clock_->NowMillis());
    last_error_ = s.ok() ? "" : s.message();
    if (!s.ok() && !stop_) {
      ++failures_;
      log_->error("archive run failed: {} (the next run is the daily one, or POST /api/v1/archive)", s.message());
    }
  }
}

bool Archiver::Apply(std::unique_ptr<Job> job) {
  std::unique_lock<std::mutex> lock(mu_);
  job_ = std::move(job);
  cv_.wait(lock, [this] { return stop_ || job_->done; });
  if (stop_ && !job_->done) {
    // The loop may be in ApplyInTurn: it only touches job_ under no lock
    // between HasWork and the commit, on its own thread, and stops taking
    // new steps once the broker stops; the job is left for the next start.
    return false;
  }
  job_.reset();
  return true;
}

Status Archiver::RunOnce() {
  auto conn = store::sql::OpenSqlite(options_.store_path);
  if (!conn.ok()) return conn.status();
  store::sql::ReadConnection* live = conn.value().get();
  const store::ContentHasher hasher = [this](const std::string& stored) { return StoredContentHash(stored); };

  // A file registered but not yet applied (the broker stopped): apply it again.
  std::vector<std::pair<std::uint64_t, std::string>> pending;
  {
    auto q = live->Prepare("SELECT id, file FROM archives WHERE applied = 0 ORDER BY id");
    if (!q.ok()) return q.status();
    store::sql::Use u(*q.value());
    for (;;) {
      auto rc = u->Step();
      if (rc == store::sql::StepResult::kDone) break;
      if (rc == store::sql::StepResult::kError) return u->Error("read archives");
      pending.emplace_back(static_cast<std::uint64_t>(u->Int(0)), u->Text(1));
    }
  }
  for (const auto& [id, file] : pending) {
    const std::string path = options_.dir + "/" + file;
    auto archive = store::sql::OpenSqlite(path);
    if (!archive.ok()) return archive.status();
    auto info = store::ReadArchiveInfo(archive.value().get(), path);
    if (!info.ok()) return info.status();
    auto events = store::ReadArchivedEvents(archive.value().get(), hasher, path);
    if (!events.ok()) return events.status();
    auto job = std::make_unique<Job>();
    job->registered = true;
    job->segment.id = id;
    job->segment.file = file;
    job->segment.audit_first = info.value().audit_first;
    job->segment.audit_last = info.value().audit_last;
    job->segment.archived = std::move(events).value();
    job->next_audit = job->segment.audit_first;
    log_->info("archive {}: applying again after a restart ({} events)", file, job->segment.archived.size());
    if (!Apply(std::move(job))) return Status::Unavailable("stopping");
  }

  if (Status s = LoadIndexKey(live, true); !s.ok()) return s;
  auto next_id = ReadInt(live, "SELECT COALESCE(MAX(id), 0) + 1 FROM archives");
  if (!next_id.ok()) return next_id.status();
  auto archived = ReadMeta(live, "audit_archived");
  if (!archived.ok()) return archived.status();
  std::uint64_t audit_after = 0;
  if (!archived.value().empty()) audit_after = std::stoull(archived.value().substr(0, archived.value().find(':')));

  // Files a crash left unregistered, and temporary files, are written again.
  if (DIR* d = ::opendir(options_.dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      const bool temp = name.size() > 4 && name[0] == '.' && name.compare(name.size() - 4, 4, ".tmp") == 0;
      const bool unregistered = name.rfind("archive-", 0) == 0 && name.size() > 11 &&
                                std::strtoull(name.c_str() + 8, nullptr, 10) >= static_cast<std::uint64_t>(next_id.value());
      if (temp || unregistered) {
        log_->warn("archive: removing {} (written but never registered)", name);
        ::unlink((options_.dir + "/" + name).c_str());
      }
    }
    ::closedir(d);
  }

  const Millis now = clock_->NowMillis();
  const Millis cutoff = now - static_cast<Millis>(std::llround(options_.retention_days * 86400000.0));
  std::uint64_t id = static_cast<std::uint64_t>(next_id.value());
  Sequence after_seq = 0;
  for (;;) {
    auto seg = store::WriteArchiveFile(live, options_.dir, id, cutoff, now, after_seq, audit_after, hasher,
                                       options_.limits);
    if (!seg.ok()) return seg.status();
    store::ArchiveSegment& segment = seg.value();
    if (segment.archived.empty() && segment.audit_last == 0) break;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const std::size_t eq = new_index_key_sealed_.find('=');
      if (eq != std::string::npos)
        segment.meta.emplace_back(new_index_key_sealed_.substr(0, eq), new_index_key_sealed_.substr(eq + 1));
      ++files_written_;
    }
    log_->info("archive {}: {} events (seq {} to {}), audit records {} to {}, cutoff {}", segment.file,
               segment.events, segment.first_seq, segment.last_seq, segment.audit_first, segment.audit_last, cutoff);
    const bool full = segment.events >= options_.limits.max_events ||
                      (segment.audit_last > 0 && segment.audit_last - segment.audit_first + 1 >= options_.limits.max_audit_records);
    if (!segment.archived.empty()) after_seq = segment.last_seq;
    if (segment.audit_last > 0) audit_after = segment.audit_last;
    auto job = std::make_unique<Job>();
    job->next_audit = segment.audit_first;
    job->segment = std::move(segment);
    if (!Apply(std::move(job))) return Status::Unavailable("stopping");
    {
      std::lock_guard<std::mutex> lock(mu_);
      new_index_key_sealed_.clear();
    }
    ++id;
    if (!full) break;
  }
  return Status::Ok();
}

std::string Archiver::StoredContentHash(const std::string& stored) const {
  v1::EnterpriseEvent event;
  if (!event.ParseFromString(stored)) return "";
  if (cipher_ && !cipher_->DecryptPersonal(&event).ok()) return "";
  return ContentHash(wire::EncodeDeterministic(event));
}

std::string Archiver::ContentHash(const std::string& plaintext_payload) const {
  std::string key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    key = index_key_;
  }
  if (key.empty()) return "";
  // The same event in another encoding hashes the same.
  v1::EnterpriseEvent event;
  if (!event.ParseFromString(plaintext_payload)) return "";
  auto mac = security::crypto::HmacSm3(key, {"yilian archived content v1", std::string_view("\0", 1),
                                             wire::EncodeDeterministic(event)});
  return mac ? Hex(*mac) : "";
}

bool Archiver::HasWork() const {
  std::lock_guard<std::mutex> lock(mu_);
  return job_ && !job_->done;
}

void Archiver::ApplyInTurn(store::Store* store, TurnContext& turn, bool busy) {
  Job* job = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!job_ || job_->done) return;
    job = job_.get();  // the thread waits until done: only the loop touches it meanwhile
  }
  if (turn.failed() || !turn.in_transaction()) return;
  const store::ArchiveSegment& seg = job->segment;
  if (!job->registered) {
    if (Status s = store->RegisterArchive(seg); !s.ok()) return turn.Fail(s);
    turn.OnCommit([job] { job->registered = true; });
    return;
  }
  if (job->next_event < seg.archived.size()) {
    const std::size_t n = std::min(busy ? kEventsPerBusyTurn : kEventsPerTurn, seg.archived.size() - job->next_event);
    std::vector<store::ArchivedEvent> batch(seg.archived.begin() + static_cast<std::ptrdiff_t>(job->next_event),
                                            seg.archived.begin() + static_cast<std::ptrdiff_t>(job->next_event + n));
    auto moved = store->ApplyArchive(seg.id, batch);
    if (!moved.ok()) return turn.Fail(moved.status());
    turn.OnCommit([this, job, n, moved = moved.value()] {
      job->next_event += n;
      job->moved += moved;
      events_archived_ += moved;
    });
    return;
  }
  if (seg.audit_last > 0 && job->next_audit <= seg.audit_last) {
    const std::uint64_t last =
        std::min(seg.audit_last, job->next_audit + (busy ? kAuditPerBusyTurn : kAuditPerTurn) - 1);
    if (Status s = store->DeleteArchivedAudit(job->next_audit, last); !s.ok()) return turn.Fail(s);
    turn.OnCommit([this, job, last] {
      audit_archived_ += last - job->next_audit + 1;
      job->next_audit = last + 1;
    });
    return;
  }
  if (Status s = store->MarkArchiveApplied(seg.id); !s.ok()) return turn.Fail(s);
  turn.OnCommit([this, job] {
    if (job->moved < job->segment.archived.size())
      log_->info("archive {}: {} of its {} events moved; the others changed since they were copied and stay live",
                 job->segment.file, job->moved, job->segment.archived.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      job->done = true;
    }
    cv_.notify_all();
  });
}

std::string Archiver::StatusJson() const {
  v1::ArchiveStatus status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    status.set_state(options_.retention_days <= 0 ? "off" : state_);
    status.set_retention_days(options_.retention_days);
    status.set_directory(options_.dir);
    if (last_run_at_) *status.mutable_last_run_at() = Stamp(last_run_at_);
    if (next_run_at_ && options_.retention_days > 0) *status.mutable_next_run_at() = Stamp(next_run_at_);
    status.set_last_error(last_error_);
    status.set_files_written(files_written_);
  }
  status.set_events_archived(events_archived_.load());
  status.set_audit_records_archived(audit_archived_.load());
  return http::ToJson(status);
}

}  // namespace yilian::server
