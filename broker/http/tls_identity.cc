#include "http/tls_identity.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <tuple>
#include <utility>

#include "common/file_modes.h"

namespace yilian::http {

// The pair in use; shared with the handshakes that read it while a renewal
// replaces it.
struct TlsIdentity::Pair {
  X509* cert = nullptr;
  STACK_OF(X509)* chain = nullptr;  // the certificates after the first in the file
  EVP_PKEY* key = nullptr;
  std::string description;

  Pair() = default;
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  ~Pair() {
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

// What stat says of both files: a renewal changes at least one of these.
struct TlsIdentity::Stamp {
  struct File {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    long long mtime_ns = 0;
    bool operator==(const File& o) const {
      return std::tie(exists, dev, ino, size, mtime_ns) == std::tie(o.exists, o.dev, o.ino, o.size, o.mtime_ns);
    }
  };
  File cert, key;
  bool operator==(const Stamp& o) const { return cert == o.cert && key == o.key; }
  bool operator!=(const Stamp& o) const { return !(*this == o); }

  static File Of(const std::string& path) {
    File f;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return f;
    f.exists = true;
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    f.size = st.st_size;
    f.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    return f;
  }
};

namespace {

std::string NameOf(const X509_NAME* name) {
  BIO* out = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(out, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  std::string text(data, static_cast<std::size_t>(n));
  BIO_free(out);
  return text;
}

std::string TimeOf(const ASN1_TIME* t) {
  BIO* out = BIO_new(BIO_s_mem());
  ASN1_TIME_print(out, t);
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  std::string text(data, static_cast<std::size_t>(n));
  BIO_free(out);
  return text;
}

}  // namespace

TlsIdentity::TlsIdentity(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)), seen_(std::make_unique<Stamp>()),
      pending_(std::make_unique<Stamp>()) {}

TlsIdentity::~TlsIdentity() = default;

Result<std::unique_ptr<TlsIdentity>> TlsIdentity::Load(const std::string& cert_file, const std::string& key_file) {
  std::unique_ptr<TlsIdentity> identity(new TlsIdentity(cert_file, key_file));
  Stamp stamp{Stamp::Of(cert_file), Stamp::Of(key_file)};
  // At start an expired certificate is served (with a warning from the
  // caller's log); only a renewal must not make things worse.
  auto pair = Read(cert_file, key_file, /*refuse_expired=*/false);
  if (!pair.ok()) return pair.status();
  identity->current_ = std::move(pair.value());
  *identity->seen_ = stamp;
  *identity->pending_ = stamp;
  return identity;
}

Result<std::shared_ptr<const TlsIdentity::Pair>> TlsIdentity::Read(const std::string& cert_file,
                                                                   const std::string& key_file, bool refuse_expired) {
  auto fail = [](std::string why) {
    ERR_clear_error();
    return Status::InvalidArgument(std::move(why));
  };
  auto pair = std::make_shared<Pair>();
  BIO* in = BIO_new_file(cert_file.c_str(), "r");
  if (in == nullptr) return fail("cannot read the certificate file '" + cert_file + "'");
  pair->cert = PEM_read_bio_X509(in, nullptr, nullptr, nullptr);
  if (pair->cert != nullptr) {
    pair->chain = sk_X509_new_null();
    while (X509* next = PEM_read_bio_X509(in, nullptr, nullptr, nullptr)) sk_X509_push(pair->chain, next);
  }
  BIO_free(in);
  ERR_clear_error();  // the end of the file reads as an error
  if (pair->cert == nullptr) return fail("'" + cert_file + "' holds no PEM certificate");

  // Whoever could replace the key (and the certificate, which is public)
  // could stand in for this server. A file that cannot be examined is
  // reported by the read below.
  if (Status s = files::CheckTrustedFile(key_file, "private key file", files::Trust::kNoOthersWrite);
      !s.ok() && s.code() != StatusCode::kIoError)
    return s;
  in = BIO_new_file(key_file.c_str(), "r");
  if (in == nullptr) return fail("cannot read the key file '" + key_file + "'");
  pair->key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  if (pair->key == nullptr) return fail("'" + key_file + "' holds no unencrypted PEM private key");
  if (X509_check_private_key(pair->cert, pair->key) != 1)
    return fail("the key in '" + key_file + "' does not match the certificate in '" + cert_file + "'");

  const ASN1_TIME* not_after = X509_get0_notAfter(pair->cert);
  if (refuse_expired && X509_cmp_current_time(not_after) <= 0)
    return fail("the certificate in '" + cert_file + "' expired on " + TimeOf(not_after));
  pair->description = NameOf(X509_get_subject_name(pair->cert)) + ", valid until " + TimeOf(not_after);
  return std::shared_ptr<const Pair>(std::move(pair));
}

std::shared_ptr<const TlsIdentity::Pair> TlsIdentity::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::string TlsIdentity::Describe() const { return Current()->description; }

int TlsIdentity::SelectCertificate(SSL* ssl, void* self) {
  std::shared_ptr<const Pair> pair = static_cast<TlsIdentity*>(self)->Current();
  // SSL_use_cert_and_key takes its own references: the pair may be
  // replaced and freed while this connection lives.
  return SSL_use_cert_and_key(ssl, pair->cert, pair->key, pair->chain, /*override=*/1) == 1 ? 1 : 0;
}

void TlsIdentity::Attach(SSL_CTX* ctx) { SSL_CTX_set_cert_cb(ctx, &TlsIdentity::SelectCertificate, this); }

Status TlsIdentity::RequireClientCertificates(SSL_CTX* ctx, const std::string& ca_file) {
  // Whoever could add a CA here could issue themselves a client certificate.
  // A file that cannot be examined is reported by the read below.
  if (Status s = files::CheckTrustedFile(ca_file, "client CA file", files::Trust::kNoOthersWrite);
      !s.ok() && s.code() != StatusCode::kIoError)
    return s;
  // The CAs' names go to the client in the handshake, so it knows which of
  // its certificates to send.
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
  if (names == nullptr || SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    ERR_clear_error();
    return Status::InvalidArgument("cannot read client CA certificates from '" + ca_file +
                                   "' (missing, unreadable or no PEM certificate)");
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // A client that resumes a session (a TLS 1.2 session id or ticket, a
  // TLS 1.3 PSK) is not asked for its certificate again: the session keeps
  // the one verified when it was made. OpenSSL resumes only within a
  // session id context and, when certificates are verified and none is
  // set, aborts every resumption with an internal_error alert: each second
  // connection of a client that caches sessions (Java's HttpClient,
  // browsers) would fail.
  static constexpr unsigned char kSessionContext[] = "yilian-http";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  return Status::Ok();
}

TlsIdentity::Reload TlsIdentity::ReloadIfChanged(std::string* detail) {
  Stamp now{Stamp::Of(cert_file_), Stamp::Of(key_file_)};
  if (now == *seen_) return Reload::kUnchanged;
  // Read only files that have stayed as they are since the last look: a
  // renewal that writes the certificate and then the key is read once,
  // after both.
  if (now != *pending_) {
    *pending_ = now;
    return Reload::kUnchanged;
  }
  *seen_ = now;
  auto pair = Read(cert_file_, key_file_, /*refuse_expired=*/true);
  if (!pair.ok()) {
    *detail = pair.status().message();
    return Reload::kRefused;
  }
  *detail = pair.value()->description;
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(pair.value());
  return Reload::kReloaded;
}

}  // namespace yilian::http
