// Audit anchors: the audit chain's head (the id and SM3 hash of its last
// record) signed with HMAC-SM3 under a key the database does not hold, one
// line per anchor in an append-only file outside the database. Someone who
// can write the database can recompute the whole chain, but cannot sign a
// new head; `yilian audit verify --anchor-file F --audit-key K` then finds
// the chain no longer contains a signed head (docs/storage.md section 6).
//
// Line format (ASCII, one anchor per line, ending in "\n"):
//   anchor v1 <at> <id> <hash> <mac>
//   at    when the anchor was made, milliseconds since the epoch, decimal
//   id    the audit record id, decimal, at least 1
//   hash  that record's `hash`, 64 lower-case hex characters
//   mac   64 lower-case hex characters: HMAC-SM3(anchor key,
//         "yilian audit anchor v1\n" + at + "\n" + id + "\n" + hash)
// The anchor key is HMAC-SM3(master, "yilian audit anchor key v1"), where
// master is the 32 bytes of the key file (64 hex characters, mode 0600:
// security.audit_key_file), so the same file could never serve two purposes
// with one key.
//
// Ownership: an AnchorKey holds its own copy of the key and wipes it when
// destroyed. Thread safety: AnchorKey is immutable after construction and
// its const methods may be called from any thread; the free functions are
// pure.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace yilian::audit {

struct Anchor {
  Millis at = 0;
  std::uint64_t id = 0;
  std::string hash;  // 64 lower-case hex
  std::string mac;   // 64 lower-case hex
};

class AnchorKey {
 public:
  // Reads a key file (security::ReadKeyFileText: regular file, mode 0600 or
  // stricter, 64 hex characters). Errors name the path, never the content.
  static Result<AnchorKey> LoadKeyFile(const std::string& path);
  // 64 hex characters (either case), nothing else.
  static Result<AnchorKey> FromKeyHex(std::string_view hex64);

  AnchorKey(const AnchorKey&) = default;
  AnchorKey& operator=(const AnchorKey&) = default;
  ~AnchorKey();

  // The anchor of record `id` with `hash`, made at `at`, with its mac.
  // kInvalidArgument if id is 0 or hash is not 64 lower-case hex;
  // kInternal if OpenSSL fails.
  Result<Anchor> Sign(Millis at, std::uint64_t id, const std::string& hash) const;
  // Whether `anchor.mac` is the mac of its other fields under this key
  // (compared in constant time).
  bool Verifies(const Anchor& anchor) const;

 private:
  AnchorKey() = default;
  std::string Mac(const Anchor& anchor) const;  // empty if OpenSSL fails

  std::array<std::uint8_t, 32> key_{};
};

// The line of `anchor`, without the line end.
std::string FormatAnchorLine(const Anchor& anchor);
// Parses one line (without its line end) of exactly the format above;
// kInvalidArgument saying what is wrong otherwise. The mac is not checked.
Result<Anchor> ParseAnchorLine(std::string_view line);

// Where the anchors go when audit.anchor_file is empty: "audit-anchors.log"
// in the parent of the data directory, beside it rather than inside it, so
// that copying, restoring or deleting the data directory leaves the anchors
// alone ("./data" -> "./audit-anchors.log").
std::string DefaultAnchorFile(const std::string& data_dir);

}  // namespace yilian::audit
