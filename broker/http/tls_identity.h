// TlsIdentity: the HTTPS server's certificate (with its chain) and private
// key, read from PEM files and replaced when the files change, so a renewed
// certificate is served without a restart. Every TLS handshake takes the
// pair current at that moment (OpenSSL's certificate callback); a renewal
// whose files do not make a usable pair (a key that does not match, a file
// half written, a certificate already expired) is refused and the current
// pair stays.
//
// Ownership: the SSL_CTX given to Attach must not outlive this object.
// Concurrency: ReloadIfChanged from one thread at a time; handshakes on any
// thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace yilian::http {

class TlsIdentity {
 public:
  // Reads both files; fails with what is wrong with them.
  static Result<std::unique_ptr<TlsIdentity>> Load(const std::string& cert_file, const std::string& key_file);
  ~TlsIdentity();
  TlsIdentity(const TlsIdentity&) = delete;
  TlsIdentity& operator=(const TlsIdentity&) = delete;

  // Makes every handshake on `ctx` use the current pair.
  void Attach(SSL_CTX* ctx);

  // Makes every handshake on `ctx` ask for a client certificate and refuse
  // the connection without one signed by a CA in `ca_file` (PEM). Fails if
  // the file holds no certificate.
  static Status RequireClientCertificates(SSL_CTX* ctx, const std::string& ca_file);

  enum class Reload { kUnchanged, kReloaded, kRefused };
  // Looks at both files; if either changed since the last look, reads them
  // again and takes the new pair if it is usable. `detail` says what was
  // taken (subject, expiry) or why it was refused.
  Reload ReloadIfChanged(std::string* detail);

  // "subject, valid until ..." of the pair in use.
  std::string Describe() const;

 private:
  struct Pair;
  struct Stamp;
  TlsIdentity(std::string cert_file, std::string key_file);
  static Result<std::shared_ptr<const Pair>> Read(const std::string& cert_file, const std::string& key_file,
                                                  bool refuse_expired);
  std::shared_ptr<const Pair> Current() const;
  static int SelectCertificate(SSL* ssl, void* self);

  const std::string cert_file_;
  const std::string key_file_;
  std::unique_ptr<Stamp> seen_;     // the files as last read
  std::unique_ptr<Stamp> pending_;  // the files as last looked at
  mutable std::mutex mu_;
  std::shared_ptr<const Pair> current_;
};

}  // namespace yilian::http
