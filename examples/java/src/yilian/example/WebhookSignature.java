package yilian.example;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies the signature the broker puts on each case-update webhook:
 *
 * <pre>
 * Yilian-Webhook-Timestamp: &lt;Unix seconds&gt;
 * Yilian-Webhook-Signature: v1=&lt;hex HMAC-SHA256(secret, "&lt;timestamp&gt;.&lt;body&gt;")&gt;
 * </pre>
 *
 * over the body's bytes exactly as received. The comparison takes the same time wherever the
 * signatures differ ({@link MessageDigest#isEqual}), and a timestamp further than {@code maxAgeSeconds}
 * from now is refused, so a captured request cannot be replayed later. Immutable; safe from any
 * thread (each call uses its own {@code Mac}).
 */
public final class WebhookSignature {
  /** What {@link #verify} found: {@code ok}, or why not. */
  public record Verdict(boolean ok, String reason) {
    static Verdict refused(String reason) {
      return new Verdict(false, reason);
    }
  }

  private final byte[] secret;
  private final long maxAgeSeconds;

  /** {@code secret}: the bytes of the broker's {@code webhook.secret_file}. */
  public WebhookSignature(byte[] secret, long maxAgeSeconds) {
    this.secret = secret.clone();
    this.maxAgeSeconds = maxAgeSeconds;
  }

  /** The signature header value for {@code timestamp} and {@code body}: {@code v1=<hex>}. */
  public String sign(String timestamp, byte[] body) {
    return "v1=" + hex(mac(timestamp, body));
  }

  /**
   * Checks the two headers (either may be null when absent) against {@code body} at {@code
   * nowSeconds}. The header may list several signatures separated by commas ({@code v1=...,
   * v1=...}, while a secret is being changed); one that matches is enough.
   */
  public Verdict verify(String timestampHeader, String signatureHeader, byte[] body, long nowSeconds) {
    if (timestampHeader == null || signatureHeader == null) return Verdict.refused("no timestamp or signature header");
    long timestamp;
    try {
      timestamp = Long.parseLong(timestampHeader.strip());
    } catch (NumberFormatException e) {
      return Verdict.refused("timestamp is not a number");
    }
    if (nowSeconds - timestamp > maxAgeSeconds) {
      return Verdict.refused("timestamp is more than " + maxAgeSeconds + " s old");
    }
    if (timestamp - nowSeconds > maxAgeSeconds) {
      return Verdict.refused("timestamp is more than " + maxAgeSeconds + " s ahead");
    }

    byte[] expected = mac(timestampHeader.strip(), body);
    boolean matched = false;
    for (String part : signatureHeader.split(",")) {
      String p = part.strip();
      if (!p.startsWith("v1=")) continue;
      byte[] given = unhex(p.substring(3));
      // Constant time in the contents; every candidate is compared, matched or not.
      if (given != null && MessageDigest.isEqual(expected, given)) matched = true;
    }
    return matched ? new Verdict(true, "verified") : Verdict.refused("signature does not match");
  }

  private byte[] mac(String timestamp, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      mac.update(timestamp.getBytes(StandardCharsets.US_ASCII));
      mac.update((byte) '.');
      return mac.doFinal(body);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
    }
  }

  static String hex(byte[] bytes) {
    StringBuilder s = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) s.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
    return s.toString();
  }

  /** The bytes of a hex string (either case), or null when it is not one. */
  static byte[] unhex(String s) {
    if (s.length() % 2 != 0) return null;
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) {
      int hi = Character.digit(s.charAt(2 * i), 16);
      int lo = Character.digit(s.charAt(2 * i + 1), 16);
      if (hi < 0 || lo < 0) return null;
      out[i] = (byte) (hi << 4 | lo);
    }
    return out;
  }
}
