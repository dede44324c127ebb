// HTTPS on the broker's HTTP API (http.tls_cert_file, http.tls_key_file): a
// real broker with a certificate made by the openssl tool, reached by an
// HTTPS client and by `yilian stats --http https://...`, the certificate
// verified (host name included); a plain HTTP client and an untrusted
// certificate get nothing; a TLS configuration that cannot work stops the
// broker at start with a clear error; a renewed certificate is served
// without a restart, a broken or expired one is not.
#include <httplib.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>

#include "cli_run.h"
#include "testing/broker_fixture.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::CliRun;
using testing::Process;

// A self-signed certificate for 127.0.0.1 (its own CA) and its key, in
// `dir`/`name`.crt and .key.
void MakeCertificate(const std::string& dir, const std::string& name, const std::string& address = "127.0.0.1") {
  auto p = Process::Start({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/" + name + ".key", "-out",
                           dir + "/" + name + ".crt", "-days", "2", "-subj", "/CN=" + address, "-addext",
                           "subjectAltName=IP:" + address},
                          dir + "/" + name + ".out", dir + "/" + name + ".err");
  int code = -1;
  ASSERT_TRUE(p->WaitExit(30000, &code));
  ASSERT_EQ(code, 0) << testing::ReadFile(dir + "/" + name + ".err");
}

// A self-signed certificate for 127.0.0.1 that expired an hour ago (the
// openssl tool makes none), and its key, in `dir`/`name`.crt and .key.
void MakeExpiredCertificate(const std::string& dir, const std::string& name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert), -7200);
  X509_gmtime_adj(X509_getm_notAfter(cert), -3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_set_pubkey(cert, key);
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  FILE* out = std::fopen((dir + "/" + name + ".crt").c_str(), "w");
  ASSERT_NE(out, nullptr);
  PEM_write_X509(out, cert);
  std::fclose(out);
  out = std::fopen((dir + "/" + name + ".key").c_str(), "w");
  ASSERT_NE(out, nullptr);
  PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(out);
  X509_free(cert);
  EVP_PKEY_free(key);
}

class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A broker refusing a client's certificate closes the connection while
    // this process's TLS client may still write: an error, not SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    dir_ = testing::MakeTempDir("yilian-https");
    MakeCertificate(dir_, "broker");
    MakeCertificate(dir_, "other");
    MakeCertificate(dir_, "renewed");
    // Client certificates: one from the CA the broker lists, one not.
    MakeCertificate(dir_, "client");
    MakeCertificate(dir_, "intruder");
    MakeExpiredCertificate(dir_, "expired");
    // Same address, another key: a certificate the client must not trust.
    MakeCertificate(dir_, "wronghost", "127.0.0.2");
  }
  void TearDown() override { testing::RemoveTree(dir_); }

  std::string TlsYaml(const std::string& cert, const std::string& key) {
    return "  tls_cert_file: " + cert + "\n  tls_key_file: " + key + "\n";
  }

  std::string dir_;
};

TEST_F(HttpsTest, TheApiAndTheCliSpeakHttpsWithTheCertificateVerified) {
  BrokerProcess broker(TlsYaml(dir_ + "/broker.crt", dir_ + "/broker.key"));
  broker.Start();
  const int port = broker.http_port();
  const std::string origin = "https://127.0.0.1:" + std::to_string(port);

  httplib::Client trusted(origin);
  trusted.enable_server_certificate_verification(true);
  trusted.set_ca_cert_path((dir_ + "/broker.crt").c_str());
  std::string last;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        auto ready = trusted.Get("/readyz");
        last = ready ? std::to_string(ready->status) : httplib::to_string(ready.error());
        return ready && ready->status == 200;
      },
      10000))
      << last;
  auto stats = trusted.Get("/api/v1/stats");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->status, 200);
  EXPECT_NE(stats->body.find("\"cases\""), std::string::npos) << stats->body;
  EXPECT_NE(testing::ReadFile(broker.log_path()).find("HTTP API and dashboard on https://127.0.0.1:"),
            std::string::npos);

  // Not trusted: another self-signed certificate as the CA.
  httplib::Client untrusted(origin);
  untrusted.enable_server_certificate_verification(true);
  untrusted.set_ca_cert_path((dir_ + "/other.crt").c_str());
  auto refused = untrusted.Get("/readyz");
  EXPECT_FALSE(refused);
  EXPECT_EQ(refused.error(), httplib::Error::SSLServerVerification);

  // Plain HTTP to the HTTPS port gets no answer.
  httplib::Client plain("127.0.0.1", port);
  plain.set_read_timeout(5);
  auto cleartext = plain.Get("/readyz");
  EXPECT_TRUE(!cleartext || cleartext->status != 200);

  // The CLI mirrors: verified with --http-ca, refused without it (the
  // certificate is not from a system CA), refused with --http-ca on plain
  // HTTP.
  CliRun ok = testing::RunCli(dir_, {"stats", "--http", origin, "--http-ca", dir_ + "/broker.crt"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("\"cases\""), std::string::npos) << ok.out;
  CliRun unverified = testing::RunCli(dir_, {"stats", "--http", origin});
  EXPECT_EQ(unverified.exit_code, 2);
  EXPECT_NE(unverified.err.find("not trusted; pass its CA with --http-ca"), std::string::npos) << unverified.err;
  CliRun mixed = testing::RunCli(
      dir_, {"stats", "--http", "127.0.0.1:" + std::to_string(port), "--http-ca", dir_ + "/broker.crt"});
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("--http-ca needs --http https://HOST:PORT"), std::string::npos) << mixed.err;
  EXPECT_EQ(broker.Stop(), 0);
}

TEST_F(HttpsTest, ACertificateForAnotherHostIsRefusedByTheCli) {
  BrokerProcess broker(TlsYaml(dir_ + "/wronghost.crt", dir_ + "/wronghost.key"));
  broker.Start();
  const std::string origin = "https://127.0.0.1:" + std::to_string(broker.http_port());
  CliRun run = testing::RunCli(dir_, {"stats", "--http", origin, "--http-ca", dir_ + "/wronghost.crt"});
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_NE(run.err.find("SSLServerVerification"), std::string::npos) << run.err;
}

TEST_F(HttpsTest, ARenewedCertificateIsServedWithoutARestartAndABrokenOrExpiredOneIsNot) {
  // The broker reads live.crt and live.key; the test replaces them as a
  // renewal would, file by file.
  auto install = [&](const std::string& from, const std::string& to) {
    testing::WriteFile(dir_ + "/" + to, testing::ReadFile(dir_ + "/" + from));
  };
  install("broker.crt", "live.crt");
  install("broker.key", "live.key");
  BrokerProcess broker(TlsYaml(dir_ + "/live.crt", dir_ + "/live.key"));
  broker.Start();
  const std::string origin = "https://127.0.0.1:" + std::to_string(broker.http_port());
  // True when a client that trusts only `ca` gets an answer.
  auto trusted_by = [&](const std::string& ca) {
    httplib::Client client(origin);
    client.enable_server_certificate_verification(true);
    client.set_ca_cert_path((dir_ + "/" + ca).c_str());
    auto ready = client.Get("/readyz");
    return ready && ready->status == 200;
  };
  auto log_has = [&](const std::string& text) {
    return testing::ReadFile(broker.log_path()).find(text) != std::string::npos;
  };
  ASSERT_TRUE(testing::PollUntil([&] { return trusted_by("broker.crt"); }, 10000));
  EXPECT_TRUE(log_has("HTTPS certificate: CN=127.0.0.1, valid until"));

  // Half a renewal: the new certificate with the old key. Refused, and the
  // old pair is still served.
  install("renewed.crt", "live.crt");
  ASSERT_TRUE(testing::PollUntil([&] { return log_has("does not match the certificate"); }, 10000))
      << testing::ReadFile(broker.log_path());
  EXPECT_TRUE(log_has("HTTPS certificate files changed but were not taken"));
  EXPECT_TRUE(trusted_by("broker.crt"));
  EXPECT_FALSE(trusted_by("renewed.crt"));

  // The key follows, renamed over the old one as renewal tools do: the
  // renewed pair is served from the next handshake on.
  install("renewed.key", "live.key.new");
  ASSERT_EQ(std::rename((dir_ + "/live.key.new").c_str(), (dir_ + "/live.key").c_str()), 0);
  ASSERT_TRUE(testing::PollUntil([&] { return trusted_by("renewed.crt"); }, 10000))
      << testing::ReadFile(broker.log_path());
  EXPECT_FALSE(trusted_by("broker.crt"));
  EXPECT_TRUE(log_has("HTTPS certificate renewed from '" + dir_ + "/live.crt'"));
  CliRun cli = testing::RunCli(dir_, {"stats", "--http", origin, "--http-ca", dir_ + "/renewed.crt"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;

  // An expired pair is refused; the renewed one stays.
  install("expired.key", "live.key");
  install("expired.crt", "live.crt");
  ASSERT_TRUE(testing::PollUntil([&] { return log_has("' expired on "); }, 10000))
      << testing::ReadFile(broker.log_path());
  EXPECT_TRUE(trusted_by("renewed.crt"));
  EXPECT_EQ(broker.Stop(), 0);
}

TEST_F(HttpsTest, ClientsWithoutACertificateFromTheListedCaAreRefused) {
  BrokerProcess broker(TlsYaml(dir_ + "/broker.crt", dir_ + "/broker.key") + "  tls_client_ca_file: " + dir_ +
                       "/client.crt\n");
  broker.Start();
  const std::string origin = "https://127.0.0.1:" + std::to_string(broker.http_port());
  // GET /readyz presenting `name`.crt and .key (none if empty).
  auto ready_with = [&](const std::string& name) {
    httplib::Client client = name.empty() ? httplib::Client(origin)
                                          : httplib::Client(origin, dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key");
    client.enable_server_certificate_verification(true);
    client.set_ca_cert_path((dir_ + "/broker.crt").c_str());
    auto res = client.Get("/readyz");
    return res && res->status == 200;
  };
  ASSERT_TRUE(testing::PollUntil([&] { return ready_with("client"); }, 10000));
  EXPECT_FALSE(ready_with(""));          // no certificate: the handshake is refused
  EXPECT_FALSE(ready_with("intruder"));  // signed by a CA the broker does not list
  EXPECT_NE(testing::ReadFile(broker.log_path())
                .find("HTTPS clients must present a certificate signed by a CA in '" + dir_ + "/client.crt'"),
            std::string::npos);

  // The CLI mirrors present one with --http-cert and --http-key.
  const std::string ca = dir_ + "/broker.crt";
  CliRun ok = testing::RunCli(dir_, {"stats", "--http", origin, "--http-ca", ca, "--http-cert", dir_ + "/client.crt",
                                     "--http-key", dir_ + "/client.key"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("\"cases\""), std::string::npos) << ok.out;
  CliRun none = testing::RunCli(dir_, {"stats", "--http", origin, "--http-ca", ca});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("the broker may require a client certificate (--http-cert, --http-key)"), std::string::npos)
      << none.err;
  CliRun wrong = testing::RunCli(dir_, {"stats", "--http", origin, "--http-ca", ca, "--http-cert",
                                        dir_ + "/intruder.crt", "--http-key", dir_ + "/intruder.key"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find("is --http-cert signed by a CA the broker accepts?"), std::string::npos) << wrong.err;
  CliRun half = testing::RunCli(dir_, {"stats", "--http", origin, "--http-ca", ca, "--http-cert", dir_ + "/client.crt"});
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.err.find("--http-cert needs --http-key"), std::string::npos) << half.err;
  EXPECT_EQ(broker.Stop(), 0);
}

// A client that resumes its TLS session, as Java's HttpClient and browsers do
// on each new connection, is served: the session keeps the certificate
// verified when it was made. (Without a session id context, OpenSSL answered
// every resumption with an internal_error alert.)
TEST_F(HttpsTest, AClientWithACertificateMayResumeItsTlsSession) {
  BrokerProcess broker(TlsYaml(dir_ + "/broker.crt", dir_ + "/broker.key") + "  tls_client_ca_file: " + dir_ +
                       "/client.crt\n");
  broker.Start();
  const std::string address = "127.0.0.1:" + std::to_string(broker.http_port());
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    // GET /healthz with `openssl s_client`, saving the session to a file
    // (-sess_out) or resuming it from there (-sess_in); its output.
    auto get = [&](const std::string& session_flag) {
      const std::string out = dir_ + "/s_client" + version + session_flag + ".out";
      auto p = Process::Start(
          {"/bin/sh", "-c",
           "printf 'GET /healthz HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' | "
           "/usr/bin/openssl s_client -ign_eof " +
               version + " -connect " + address + " -CAfile " + dir_ + "/broker.crt -cert " + dir_ +
               "/client.crt -key " + dir_ + "/client.key " + session_flag + " " + dir_ + "/session" + version},
          out, out + ".err");
      int code = -1;
      EXPECT_TRUE(p->WaitExit(20000, &code));
      return testing::ReadFile(out);
    };
    const std::string first = get("-sess_out");
    EXPECT_NE(first.find("HTTP/1.1 200"), std::string::npos) << version << ":\n" << first;
    const std::string resumed = get("-sess_in");
    EXPECT_NE(resumed.find("Reused, TLSv1."), std::string::npos) << version << ":\n" << resumed;
    EXPECT_NE(resumed.find("HTTP/1.1 200"), std::string::npos) << version << ":\n" << resumed;
  }
  EXPECT_EQ(broker.Stop(), 0);
}

// The broker binary itself, not the fixture: it must exit at start.
int StartBrokerExpectingFailure(const std::string& dir, const std::string& yaml, std::string* log) {
  std::string config = dir + "/bad.yaml";
  testing::WriteFile(config, "http:\n  listen: 127.0.0.1:" + std::to_string(testing::FreeTcpPort()) + "\n" + yaml);
  static int runs = 0;
  std::string base = dir + "/bad-" + std::to_string(++runs);
  auto p = Process::Start({testing::BrokerBinary(), "--config", config, "--data-dir", base + "-data", "--listen",
                           "tcp://127.0.0.1:" + std::to_string(testing::FreeTcpPort()), "--insecure-dev"},
                          base + ".out", base + ".err");
  int code = -1;
  EXPECT_TRUE(p->WaitExit(20000, &code)) << "the broker did not exit";
  *log = testing::ReadFile(base + ".out") + testing::ReadFile(base + ".err");
  return code;
}

TEST_F(HttpsTest, ATlsConfigurationThatCannotWorkStopsTheBrokerWithAClearError) {
  std::string log;
  // A key that is not the certificate's.
  EXPECT_NE(StartBrokerExpectingFailure(dir_, TlsYaml(dir_ + "/broker.crt", dir_ + "/other.key"), &log), 0);
  EXPECT_NE(log.find("HTTPS: the key in '" + dir_ + "/other.key' does not match the certificate in '" + dir_ +
                     "/broker.crt'"),
            std::string::npos)
      << log;
  // A missing file.
  EXPECT_NE(StartBrokerExpectingFailure(dir_, TlsYaml(dir_ + "/missing.crt", dir_ + "/broker.key"), &log), 0);
  EXPECT_NE(log.find("HTTPS: cannot read the certificate file '" + dir_ + "/missing.crt'"), std::string::npos) << log;
  // Only one of the two keys.
  EXPECT_NE(StartBrokerExpectingFailure(dir_, "  tls_cert_file: " + dir_ + "/broker.crt\n", &log), 0);
  EXPECT_NE(log.find("http.tls_key_file"), std::string::npos) << log;
  EXPECT_NE(log.find("HTTPS needs both"), std::string::npos) << log;
  // Client certificates without HTTPS, and from a file that is not there.
  EXPECT_NE(StartBrokerExpectingFailure(dir_, "  tls_client_ca_file: " + dir_ + "/client.crt\n", &log), 0);
  EXPECT_NE(log.find("http.tls_client_ca_file"), std::string::npos) << log;
  EXPECT_NE(log.find("needs HTTPS"), std::string::npos) << log;
  EXPECT_NE(StartBrokerExpectingFailure(dir_,
                                        TlsYaml(dir_ + "/broker.crt", dir_ + "/broker.key") +
                                            "  tls_client_ca_file: " + dir_ + "/missing-ca.crt\n",
                                        &log),
            0);
  EXPECT_NE(log.find("HTTPS: cannot read client CA certificates from '" + dir_ + "/missing-ca.crt'"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace yilian
