#include "yilian/audit/anchor.h"

#include <charconv>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "security/crypto.h"
#include "security/key_file.h"

namespace yilian::audit {
namespace {

namespace crypto = security::crypto;

constexpr std::string_view kKeyLabel = "yilian audit anchor key v1";
constexpr std::string_view kMacLabel = "yilian audit anchor v1\n";
constexpr std::string_view kLinePrefix = "anchor v1 ";
constexpr std::size_t kMasterKeyBytes = 32;

bool IsLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A decimal number without sign, leading zeros (except "0") or anything else.
template <typename T>
std::optional<T> ParseDecimal(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  T value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s[0] == '-' || s[0] == '+') return std::nullopt;
  return value;
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t space = s.find(' ', start);
    out.push_back(s.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start));
    if (space == std::string_view::npos) return out;
    start = space + 1;
  }
}

}  // namespace

AnchorKey::~AnchorKey() { crypto::Wipe(key_.data(), key_.size()); }

Result<AnchorKey> AnchorKey::FromKeyHex(std::string_view hex64) {
  const Status bad = Status::InvalidArgument("audit key must be exactly 64 hex characters (32 bytes)");
  if (hex64.size() != 2 * kMasterKeyBytes) return bad;
  std::optional<std::string> master = crypto::HexDecode(hex64);
  if (!master) return bad;
  std::optional<std::string> derived = crypto::HmacSm3(*master, {kKeyLabel});
  crypto::Wipe(master->data(), master->size());
  if (!derived || derived->size() != 32)
    return Status::Internal("deriving the audit anchor key failed (OpenSSL HMAC-SM3)");
  AnchorKey key;
  std::memcpy(key.key_.data(), derived->data(), key.key_.size());
  crypto::Wipe(derived->data(), derived->size());
  return key;
}

Result<AnchorKey> AnchorKey::LoadKeyFile(const std::string& path) {
  Result<std::string> text = security::ReadKeyFileText(path);
  if (!text.ok()) return text.status();
  Result<AnchorKey> key = FromKeyHex(text.value());
  crypto::Wipe(text.value().data(), text.value().size());
  if (!key.ok()) return Status(key.status().code(), "key file '" + path + "': " + key.status().message());
  return key;
}

std::string AnchorKey::Mac(const Anchor& a) const {
  const std::string at = std::to_string(a.at), id = std::to_string(a.id);
  std::optional<std::string> mac =
      crypto::HmacSm3(std::string_view(reinterpret_cast<const char*>(key_.data()), key_.size()),
                      {kMacLabel, at, "\n", id, "\n", a.hash});
  return mac ? crypto::HexEncode(*mac) : std::string();
}

Result<Anchor> AnchorKey::Sign(Millis at, std::uint64_t id, const std::string& hash) const {
  if (id == 0) return Status::InvalidArgument("an anchor names an audit record: id 0 has none");
  if (!IsLowerHex64(hash)) return Status::InvalidArgument("an anchor's hash is 64 lower-case hex characters");
  if (at < 0) return Status::InvalidArgument("an anchor's time is not before the epoch");
  Anchor a{at, id, hash, ""};
  a.mac = Mac(a);
  if (a.mac.empty()) return Status::Internal("HMAC-SM3 of the audit anchor failed (OpenSSL)");
  return a;
}

bool AnchorKey::Verifies(const Anchor& anchor) const {
  std::string expected = Mac(anchor);
  return !expected.empty() && crypto::ConstantTimeEquals(expected, anchor.mac);
}

std::string FormatAnchorLine(const Anchor& a) {
  return std::string(kLinePrefix) + std::to_string(a.at) + " " + std::to_string(a.id) + " " + a.hash + " " + a.mac;
}

Result<Anchor> ParseAnchorLine(std::string_view line) {
  if (line.substr(0, kLinePrefix.size()) != kLinePrefix)
    return Status::InvalidArgument("does not start with \"" + std::string(kLinePrefix) + "\"");
  std::vector<std::string_view> fields = SplitSpaces(line.substr(kLinePrefix.size()));
  if (fields.size() != 4)
    return Status::InvalidArgument("has " + std::to_string(fields.size()) +
                                   " fields after \"anchor v1\", expected 4 (time, id, hash, mac) separated by "
                                   "single spaces");
  Anchor a;
  auto at = ParseDecimal<Millis>(fields[0]);
  if (!at) return Status::InvalidArgument("time is not a decimal number of milliseconds");
  auto id = ParseDecimal<std::uint64_t>(fields[1]);
  if (!id || *id == 0) return Status::InvalidArgument("id is not a decimal record id of at least 1");
  if (!IsLowerHex64(fields[2])) return Status::InvalidArgument("hash is not 64 lower-case hex characters");
  if (!IsLowerHex64(fields[3])) return Status::InvalidArgument("mac is not 64 lower-case hex characters");
  a.at = *at;
  a.id = *id;
  a.hash = std::string(fields[2]);
  a.mac = std::string(fields[3]);
  return a;
}

std::string DefaultAnchorFile(const std::string& data_dir) {
  std::filesystem::path dir = std::filesystem::path(data_dir.empty() ? "." : data_dir).lexically_normal();
  if (!dir.has_filename() && dir.has_parent_path()) dir = dir.parent_path();  // "data/" -> "data"
  std::filesystem::path parent = dir.parent_path();
  if (dir == "." || dir == "..") parent = dir / "..";
  if (parent.empty()) parent = ".";
  return (parent / "audit-anchors.log").lexically_normal().string();
}

}  // namespace yilian::audit
