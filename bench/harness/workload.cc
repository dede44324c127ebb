#include "harness/workload.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "cli/sample.h"
#include "validation/validation.h"

namespace yilian::bench {
namespace {

constexpr char kMagic[8] = {'Y', 'L', 'B', 'W', 'L', '0', '0', '1'};

void PutU32(std::string& out, std::uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}

std::uint64_t GetU(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Splits the records of a file image into events; false if it is malformed.
bool ParseImage(const char* data, std::size_t bytes, std::size_t max_events, std::vector<WorkloadEvent>* events,
                std::string* error) {
  if (bytes < 16 || std::memcmp(data, kMagic, 8) != 0) {
    *error = "not a yilian bench workload file (bad header)";
    return false;
  }
  std::uint64_t count = GetU(reinterpret_cast<const unsigned char*>(data) + 8, 8);
  if (max_events > 0) count = std::min<std::uint64_t>(count, max_events);
  events->reserve(count);
  std::size_t pos = 16;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (bytes - pos < 12) {
      *error = "truncated record " + std::to_string(i);
      return false;
    }
    auto p = reinterpret_cast<const unsigned char*>(data + pos);
    std::size_t id_len = GetU(p, 4), uscc_len = GetU(p + 4, 4), payload_len = GetU(p + 8, 4);
    pos += 12;
    if (bytes - pos < id_len + uscc_len + payload_len + 2) {
      *error = "truncated record " + std::to_string(i);
      return false;
    }
    WorkloadEvent e;
    e.id = std::string_view(data + pos, id_len);
    pos += id_len + 1;
    e.uscc = std::string_view(data + pos, uscc_len);
    pos += uscc_len + 1;
    e.payload = std::string_view(data + pos, payload_len);
    pos += payload_len;
    events->push_back(e);
  }
  return true;
}

}  // namespace

bool AcceptedByYilian(const v1::EnterpriseEvent& event) { return validation::Validate(event).empty(); }

void AppendRecord(std::string& out, std::string_view id, std::string_view uscc, std::string_view payload) {
  PutU32(out, static_cast<std::uint32_t>(id.size()));
  PutU32(out, static_cast<std::uint32_t>(uscc.size()));
  PutU32(out, static_cast<std::uint32_t>(payload.size()));
  out.append(id);
  out.push_back('\0');
  out.append(uscc);
  out.push_back('\0');
  out.append(payload);
}

std::string FileHeader(std::uint64_t count) {
  std::string h(kMagic, 8);
  PutU32(h, static_cast<std::uint32_t>(count & 0xffffffffu));
  PutU32(h, static_cast<std::uint32_t>(count >> 32));
  return h;
}

Result<std::unique_ptr<Workload>> Workload::Load(const std::string& path, std::size_t max_events) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return Status::IoError("cannot open workload " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size < 16) {
    ::close(fd);
    return Status::InvalidArgument("workload " + path + " is empty or unreadable");
  }
  void* map = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return Status::IoError("cannot map workload " + path + ": " + std::strerror(errno));
  auto w = std::unique_ptr<Workload>(new Workload());
  w->map_ = map;
  w->map_bytes_ = static_cast<std::size_t>(st.st_size);
  std::string error;
  if (!ParseImage(static_cast<const char*>(map), w->map_bytes_, max_events, &w->events_, &error))
    return Status::Corruption("workload " + path + ": " + error);
  w->BuildIndex();
  return w;
}

std::unique_ptr<Workload> Workload::Generate(const GenerateOptions& o) {
  sample::SampleOptions s;
  s.seed = o.seed;
  s.enterprises = std::max(1, std::min(o.enterprises, o.events));
  s.events_per_enterprise = (o.events + s.enterprises - 1) / s.enterprises;
  s.deregister_fraction = 0;
  s.banks = {};
  s.target_bytes = o.target_bytes;
  // A few more than asked for: invalid sample events are left out.
  s.events_per_enterprise = (o.events + o.events / 50 + 16 + s.enterprises - 1) / s.enterprises;
  auto events = sample::Generate(s);
  std::vector<const v1::EnterpriseEvent*> valid;
  for (const auto& e : events) {
    if (valid.size() == static_cast<std::size_t>(o.events)) break;
    if (AcceptedByYilian(e)) valid.push_back(&e);
  }
  auto w = std::unique_ptr<Workload>(new Workload());
  w->owned_ = FileHeader(valid.size());
  std::string payload;
  for (const auto* p : valid) {
    const auto& e = *p;
    payload.clear();
    e.SerializeToString(&payload);
    AppendRecord(w->owned_, e.event_id(), e.uscc(), payload);
  }
  std::string error;
  ParseImage(w->owned_.data(), w->owned_.size(), 0, &w->events_, &error);
  w->BuildIndex();
  return w;
}

Workload::~Workload() {
  if (map_ != nullptr) munmap(map_, map_bytes_);
}

void Workload::BuildIndex() {
  index_.reserve(events_.size());
  for (std::size_t i = 0; i < events_.size(); ++i) index_.emplace(events_[i].id, i);
}

std::optional<std::size_t> Workload::IndexOf(std::string_view id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

double Workload::mean_payload_bytes() const {
  if (events_.empty()) return 0;
  double total = 0;
  for (const auto& e : events_) total += static_cast<double>(e.payload.size());
  return total / static_cast<double>(events_.size());
}

}  // namespace yilian::bench
