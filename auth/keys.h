// Identities and roles of the peers of a broker: CURVE key pairs, the
// broker's keys file (public key -> identity and role), and HTTP bearer
// tokens. Parsing and lookups only; the broker's ZAP handler
// (broker/server/security.cc) and its loop enforce them.
//
// Roles: "publisher" (publishes events, over ZeroMQ or HTTP; receives case
// updates), "agency:<id>"
// (consumes that agency's deliveries and nothing else), "admin" (operator
// actions), "observer" (reads: case updates and the HTTP API).
// Thread-safety: plain values; a KeyRing is read by one thread at a time.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace yilian::auth {

struct Principal {
  std::string identity;
  std::string role;  // publisher | agency:<id> | admin | observer
  bool IsAgency(const std::string& agency) const { return role == "agency:" + agency; }
  bool CanPublish() const { return role == "publisher"; }
  bool CanWatch() const { return role == "publisher" || role == "observer" || role == "admin"; }
  bool IsAdmin() const { return role == "admin"; }
};

// A CURVE key pair, Z85 text (40 characters each).
struct KeyPair {
  std::string public_key;
  std::string secret_key;
};

// A new random key pair.
Result<KeyPair> GenerateKeyPair();
// Writes NAME.key (public and secret, mode 0600) and NAME.pub (mode 0644)
// in `dir`, those modes whatever the umask.
Status WriteKeyPair(const std::string& dir, const std::string& name, const KeyPair& pair);
// Reads a key pair file written by WriteKeyPair ("public: ..." and
// "secret: ..." lines). Refuses a file group or others may read or write
// (common/file_modes.h).
Result<KeyPair> ReadKeyPair(const std::string& path);
// A public key given as a file with a "public: ..." line or as Z85 text;
// a file of that name wins over the text. Such a file must not be writable
// by group or others.
Result<std::string> ReadPublicKey(const std::string& text_or_path);
bool IsZ85Key(const std::string& key);

// The broker's keys file (YAML):
//   keys:
//     - identity: platform
//       role: publisher
//       public: "<Z85 public key>"
// Several keys may share an identity (rotation). Load refuses a file group
// or others may write: they could add a key with any role.
class KeyRing {
 public:
  static Result<KeyRing> Load(const std::string& path);
  static Result<KeyRing> Parse(const std::string& yaml_text, const std::string& origin);
  // Principal for a Z85 public key, if listed.
  std::optional<Principal> Find(const std::string& z85_public_key) const;
  std::size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, Principal> keys_;  // by Z85 public key
};

// HTTP credentials (YAML): bearer tokens, and HTTPS client certificates by
// their SHA-256 fingerprint:
//   tokens:
//     - identity: ops-1
//       role: admin              # admin | observer | publisher
//       token: "<at least 32 characters>"
//     - identity: platform
//       role: publisher
//       certificate_sha256: "3F:A1:..."   # 64 hex digits, colons optional
// Tokens are kept as SM3 digests and compared in constant time (a
// fingerprint is no secret). Load refuses a file group or others may read
// or write.
class TokenRing {
 public:
  static Result<TokenRing> Load(const std::string& path);
  static Result<TokenRing> Parse(const std::string& yaml_text, const std::string& origin);
  std::optional<Principal> Find(const std::string& token) const;
  // `sha256_hex`: lower-case hex, no colons.
  std::optional<Principal> FindCertificate(const std::string& sha256_hex) const;
  std::size_t size() const { return tokens_.size(); }
  std::size_t certificates() const { return certificates_.size(); }

 private:
  std::vector<std::pair<std::string, Principal>> tokens_;  // SM3 hex -> principal
  std::map<std::string, Principal> certificates_;          // SHA-256 hex -> principal
};

// A certificate fingerprint as written by people or tools ("3F:A1:...")
// in the form the HTTP server compares (lower-case hex, no colons);
// nullopt unless it is 64 hex digits.
std::optional<std::string> NormalizeFingerprint(const std::string& text);

// True for endpoints that only the local machine can reach.
bool IsLoopbackEndpoint(const std::string& endpoint);

}  // namespace yilian::auth
