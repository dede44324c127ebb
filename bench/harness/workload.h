// Workload: the events every benchmark driver publishes, byte for byte the
// same for every system under test.
//
// The events come from the sample generator behind `yilian gen-sample`:
// either read from a workload file (the JSON Lines of `yilian gen-sample`
// converted once by `bench-workload`, see below) or generated in memory with
// the same options (small runs, the smoke test). Each event is kept as its
// binary protobuf encoding, its event id and its USCC.
//
// Workload file ("yilian bench workload", version 1), little-endian:
//   header   8 bytes "YLBWL001", u64 event count
//   record   u32 id_len, u32 uscc_len, u32 payload_len,
//            id bytes, NUL, uscc bytes, NUL, payload bytes
// The file is memory-mapped read-only; the NULs let C clients use the id
// as a C string without copying.
//
// Ownership: a Workload owns its mapping or buffers; the string_views it
// hands out live as long as the Workload. Thread-safety: immutable after
// construction, so any thread may read it concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "yilian/v1/event.pb.h"

namespace yilian::bench {

struct WorkloadEvent {
  std::string_view id;       // NUL-terminated in memory
  std::string_view uscc;     // NUL-terminated in memory
  std::string_view payload;  // binary yilian.v1.EnterpriseEvent
};

// The options of `yilian gen-sample` that shape a benchmark workload.
struct GenerateOptions {
  std::uint64_t seed = 7;
  int events = 20000;
  int enterprises = 5000;  // events are spread over this many enterprises
  int target_bytes = 1500;
};

class Workload {
 public:
  // Maps a workload file; keeps its first max_events events (0: all).
  static Result<std::unique_ptr<Workload>> Load(const std::string& path, std::size_t max_events = 0);
  // Generates the events in memory (what `yilian gen-sample` would print
  // for the same options, with --banks '' --deregister-fraction 0), valid
  // ones only.
  static std::unique_ptr<Workload> Generate(const GenerateOptions& options);

  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  std::size_t size() const { return events_.size(); }
  const WorkloadEvent& at(std::size_t i) const { return events_[i]; }
  // Index of the event with this id, if it is part of the workload.
  std::optional<std::size_t> IndexOf(std::string_view id) const;
  // Mean payload size in bytes.
  double mean_payload_bytes() const;

 private:
  Workload() = default;
  void BuildIndex();

  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  std::string owned_;  // generated workloads: all records back to back
  std::vector<WorkloadEvent> events_;
  std::unordered_map<std::string_view, std::size_t> index_;
};

// True if yilian's validation accepts the event. The sample generator
// occasionally makes an event yilian refuses (a change whose new value
// equals the old one); workloads leave those out, so that every system gets
// the same work and every event is delivered.
bool AcceptedByYilian(const v1::EnterpriseEvent& event);

// Appends one record in the file format above (used by bench-workload and
// by Generate, which lays its events out the same way in memory).
void AppendRecord(std::string& out, std::string_view id, std::string_view uscc, std::string_view payload);
// The 16-byte file header for `count` events.
std::string FileHeader(std::uint64_t count);

}  // namespace yilian::bench
