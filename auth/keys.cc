#include "auth/keys.h"

#include <cctype>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "common/digest.h"
#include "common/file_modes.h"

namespace yilian::auth {
namespace {

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read '" + path + "': " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string Trim(std::string s) {
  auto b = s.find_first_not_of(" \t\r\n\"'");
  auto e = s.find_last_not_of(" \t\r\n\"'");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool ValidRole(const std::string& role) {
  if (role == "publisher" || role == "admin" || role == "observer") return true;
  return role.rfind("agency:", 0) == 0 && role.size() > 7;
}

}  // namespace

bool IsZ85Key(const std::string& key) {
  if (key.size() != 40) return false;
  std::uint8_t raw[32];
  return zmq_z85_decode(raw, key.c_str()) != nullptr;
}

Result<KeyPair> GenerateKeyPair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) return Status::Internal("zmq_curve_keypair failed: CURVE not available");
  return KeyPair{pub, sec};
}

Status WriteKeyPair(const std::string& dir, const std::string& name, const KeyPair& pair) {
  std::string secret_path = dir + "/" + name + ".key";
  std::string public_path = dir + "/" + name + ".pub";
  {
    // Created 0600 from the start: the secret never sits in a readable file.
    int fd = ::open(secret_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IoError("cannot write '" + secret_path + "': " + std::strerror(errno));
    fchmod(fd, 0600);
    std::string text = "# yilian CURVE key pair of " + name + ". Secret: keep it mode 0600, never share it.\npublic: " +
                       pair.public_key + "\nsecret: " + pair.secret_key + "\n";
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) return Status::IoError("cannot write '" + secret_path + "'");
  }
  {
    // 0644 whatever the umask: readers refuse a public key others could
    // replace (ReadPublicKey).
    int fd = ::open(public_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IoError("cannot write '" + public_path + "': " + std::strerror(errno));
    fchmod(fd, 0644);
    std::string text = "# yilian CURVE public key of " + name + "\npublic: " + pair.public_key + "\n";
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) return Status::IoError("cannot write '" + public_path + "'");
  }
  return Status::Ok();
}

Result<KeyPair> ReadKeyPair(const std::string& path) {
  if (Status s = files::CheckTrustedFile(path, "key pair file", files::Trust::kSecret); !s.ok()) return s;
  auto text = ReadText(path);
  if (!text.ok()) return text.status();
  KeyPair pair;
  std::istringstream lines(text.value());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("public:", 0) == 0) pair.public_key = Trim(line.substr(7));
    if (line.rfind("secret:", 0) == 0) pair.secret_key = Trim(line.substr(7));
  }
  if (!IsZ85Key(pair.public_key) || !IsZ85Key(pair.secret_key))
    return Status::InvalidArgument("'" + path + "' is not a key pair file (expected 'public:' and 'secret:' lines "
                                   "with 40-character Z85 keys; see yilian keygen)");
  char derived[41];
  if (zmq_curve_public(derived, pair.secret_key.c_str()) != 0 || pair.public_key != derived)
    return Status::InvalidArgument("'" + path + "': the public key does not belong to the secret key");
  return pair;
}

Result<std::string> ReadPublicKey(const std::string& text_or_path) {
  // A file first: a path can itself be 40 characters of the Z85 alphabet
  // ("/src/build/tests/demo-ha-keys/broker.pub" is), and taken as a key it
  // would connect with a wrong one, which a CURVE server drops in silence.
  struct stat st {};
  if (::stat(text_or_path.c_str(), &st) != 0 && IsZ85Key(text_or_path)) return text_or_path;
  auto text = ReadText(text_or_path);
  if (!text.ok()) return Status::InvalidArgument("'" + text_or_path + "' is neither a Z85 public key nor a readable file");
  // Whoever could replace the broker's public key could stand in for it.
  if (Status s = files::CheckTrustedFile(text_or_path, "public key file", files::Trust::kNoOthersWrite); !s.ok())
    return s;
  std::istringstream lines(text.value());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("public:", 0) == 0) {
      std::string key = Trim(line.substr(7));
      if (IsZ85Key(key)) return key;
    }
  }
  return Status::InvalidArgument("'" + text_or_path + "' has no 'public: <Z85 key>' line");
}

Result<KeyRing> KeyRing::Load(const std::string& path) {
  // Whoever could write it could add a key with any role.
  if (Status s = files::CheckTrustedFile(path, "keys file", files::Trust::kNoOthersWrite); !s.ok()) return s;
  auto text = ReadText(path);
  if (!text.ok()) return text.status();
  return Parse(text.value(), path);
}

Result<KeyRing> KeyRing::Parse(const std::string& yaml_text, const std::string& origin) {
  KeyRing ring;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsMap() || !root["keys"] || !root["keys"].IsSequence())
      return Status::InvalidArgument(origin + ": expected 'keys:' with a list of {identity, role, public}");
    int i = 0;
    for (const auto& k : root["keys"]) {
      std::string where = origin + ": keys[" + std::to_string(i++) + "]";
      if (!k.IsMap()) return Status::InvalidArgument(where + ": expected {identity, role, public}");
      for (const auto& kv : k) {
        std::string key = kv.first.Scalar();
        if (key != "identity" && key != "role" && key != "public")
          return Status::InvalidArgument(where + "." + key + ": unknown key (identity|role|public)");
      }
      Principal p{k["identity"] ? k["identity"].Scalar() : "", k["role"] ? k["role"].Scalar() : ""};
      std::string pub = k["public"] ? k["public"].Scalar() : "";
      if (p.identity.empty()) return Status::InvalidArgument(where + ".identity: required");
      if (!ValidRole(p.role))
        return Status::InvalidArgument(where + ".role: '" + p.role + "' is not publisher, agency:<id>, admin or observer");
      if (!IsZ85Key(pub)) return Status::InvalidArgument(where + ".public: not a 40-character Z85 CURVE public key");
      if (!ring.keys_.emplace(pub, p).second) return Status::InvalidArgument(where + ".public: listed twice");
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(origin + ": not valid YAML: " + e.what());
  }
  return ring;
}

std::optional<Principal> KeyRing::Find(const std::string& z85_public_key) const {
  auto it = keys_.find(z85_public_key);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

Result<TokenRing> TokenRing::Load(const std::string& path) {
  if (Status s = files::CheckTrustedFile(path, "tokens file", files::Trust::kSecret); !s.ok()) return s;
  auto text = ReadText(path);
  if (!text.ok()) return text.status();
  return Parse(text.value(), path);
}

Result<TokenRing> TokenRing::Parse(const std::string& yaml_text, const std::string& origin) {
  TokenRing ring;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsMap() || !root["tokens"] || !root["tokens"].IsSequence())
      return Status::InvalidArgument(origin + ": expected 'tokens:' with a list of {identity, role, token}");
    int i = 0;
    for (const auto& t : root["tokens"]) {
      std::string where = origin + ": tokens[" + std::to_string(i++) + "]";
      if (!t.IsMap()) return Status::InvalidArgument(where + ": expected {identity, role, token or certificate_sha256}");
      for (const auto& field : t) {
        const std::string key = field.first.Scalar();
        if (key != "identity" && key != "role" && key != "token" && key != "certificate_sha256")
          return Status::InvalidArgument(where + ": unknown key '" + key +
                                         "' (identity, role, token, certificate_sha256)");
      }
      Principal p{t["identity"] ? t["identity"].Scalar() : "", t["role"] ? t["role"].Scalar() : ""};
      if (p.identity.empty()) return Status::InvalidArgument(where + ".identity: required");
      if (p.role != "admin" && p.role != "observer" && p.role != "publisher")
        return Status::InvalidArgument(where + ".role: '" + p.role + "' is not admin, observer or publisher");
      if (t["token"] && t["certificate_sha256"])
        return Status::InvalidArgument(where + ": either token or certificate_sha256, not both");
      if (t["certificate_sha256"]) {
        auto fingerprint = NormalizeFingerprint(t["certificate_sha256"].Scalar());
        if (!fingerprint)
          return Status::InvalidArgument(where + ".certificate_sha256: not a SHA-256 fingerprint (64 hex digits, "
                                                 "colons allowed)");
        if (!ring.certificates_.emplace(*fingerprint, p).second)
          return Status::InvalidArgument(where + ".certificate_sha256: listed twice");
        continue;
      }
      std::string token = t["token"] ? t["token"].Scalar() : "";
      if (token.size() < 32) return Status::InvalidArgument(where + ".token: shorter than 32 characters");
      ring.tokens_.emplace_back(Sm3Hex(token), p);
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(origin + ": not valid YAML: " + e.what());
  }
  return ring;
}

std::optional<std::string> NormalizeFingerprint(const std::string& text) {
  std::string hex;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (hex.size() != 64) return std::nullopt;
  return hex;
}

std::optional<Principal> TokenRing::FindCertificate(const std::string& sha256_hex) const {
  auto it = certificates_.find(sha256_hex);
  if (it == certificates_.end()) return std::nullopt;
  return it->second;
}

std::optional<Principal> TokenRing::Find(const std::string& token) const {
  // Digests have a fixed length, so the comparison time does not depend on
  // how much of a token matched.
  std::string digest = Sm3Hex(token);
  std::optional<Principal> found;
  for (const auto& [stored, p] : tokens_) {
    if (stored.size() == digest.size() && CRYPTO_memcmp(stored.data(), digest.data(), digest.size()) == 0) found = p;
  }
  return found;
}

bool IsLoopbackEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  for (const char* p : {"tcp://127.", "tcp://localhost:", "tcp://[::1]:"})
    if (endpoint.rfind(p, 0) == 0) return true;
  return false;
}

}  // namespace yilian::auth
