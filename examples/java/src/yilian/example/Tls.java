package yilian.example;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * The TLS side of a client of the broker's HTTPS API: which CAs it trusts for the broker's
 * certificate, and which client certificate it presents when the broker asks for one ({@code
 * http.tls_client_ca_file}). Host names are verified by {@code HttpClient} itself: the broker's
 * certificate must name the host (or IP address) of the URL. Stateless; safe from any thread.
 */
public final class Tls {
  private Tls() {}

  /**
   * An SSLContext for the broker.
   *
   * @param clientPkcs12 the client certificate with its private key (PKCS#12, as made by {@code
   *     openssl pkcs12 -export}), or null to present none
   * @param clientPassword its password (may be empty)
   * @param caPem PEM file of the CA certificate(s) that signed the broker's certificate, or null
   * @param truststore a PKCS#12 truststore instead of {@code caPem}, or null
   * @param truststorePassword its password (may be empty)
   *     <p>With neither {@code caPem} nor {@code truststore}, the JDK's default CAs are trusted.
   */
  public static SSLContext context(
      Path clientPkcs12, char[] clientPassword, Path caPem, Path truststore, char[] truststorePassword)
      throws IOException, GeneralSecurityException {
    KeyManager[] keyManagers = null;
    if (clientPkcs12 != null) {
      KeyStore keys = load(clientPkcs12, clientPassword);
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, clientPassword);
      keyManagers = kmf.getKeyManagers();
    }

    TrustManager[] trustManagers = null;
    KeyStore trusted = null;
    if (caPem != null) {
      trusted = KeyStore.getInstance("PKCS12");
      trusted.load(null, null);
      CertificateFactory x509 = CertificateFactory.getInstance("X.509");
      Collection<? extends Certificate> cas;
      try (InputStream in = Files.newInputStream(caPem)) {
        cas = x509.generateCertificates(in);
      }
      if (cas.isEmpty()) throw new GeneralSecurityException("no certificate in " + caPem);
      int i = 0;
      for (Certificate ca : cas) trusted.setCertificateEntry("ca-" + i++, ca);
    } else if (truststore != null) {
      trusted = load(truststore, truststorePassword);
    }
    if (trusted != null) {
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trusted);
      trustManagers = tmf.getTrustManagers();
    }

    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keyManagers, trustManagers, null);
    return context;
  }

  private static KeyStore load(Path file, char[] password) throws IOException, GeneralSecurityException {
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(file)) {
      store.load(in, password);
    }
    return store;
  }
}
