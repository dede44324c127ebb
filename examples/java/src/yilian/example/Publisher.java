package yilian.example;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;

/**
 * Publishes sample registrations to the broker over HTTP(S) ({@code POST /api/v1/events}), as a
 * registration platform written in Java would: one ESTABLISHED event per enterprise, the first as
 * {@code application/json}, the others as one {@code application/x-ndjson} batch. Authenticates
 * with a publisher's bearer token, a client certificate, or both. Prints each event's {@code
 * PublishAck}.
 *
 * <p>The broker answers only after the events are committed, and publishing is idempotent by
 * {@code event_id}: on a timeout, a lost connection, {@code 503} (store unavailable, standby
 * broker) or {@code 429} (rate), the same body is posted again after a backoff that honours {@code
 * Retry-After}. An event stored by a request whose answer was lost is then confirmed as {@code
 * DUPLICATE}.
 *
 * <p>Exit status: 0 when every event is ACCEPTED or DUPLICATE, 1 otherwise, 2 on a usage error.
 */
public final class Publisher {
  static final String USAGE =
      """
      usage: Publisher --url URL [options]
        --url URL            the broker's HTTP API, e.g. https://127.0.0.1:7780 (env YILIAN_URL)
        --token-file FILE    file holding a bearer token of role publisher (env YILIAN_TOKEN: the token)
        --cert FILE.p12      client certificate and key, PKCS#12 (env YILIAN_CERT); its password
                             in env YILIAN_CERT_PASSWORD (default: empty)
        --ca FILE.pem        CA certificate(s) that signed the broker's certificate (env YILIAN_CA)
        --truststore FILE    a PKCS#12 truststore instead of --ca; password in env
                             YILIAN_TRUSTSTORE_PASSWORD (without either: the JDK's default CAs)
        --enterprises N      enterprises, one ESTABLISHED event each (default 3): the first is
                             posted alone, the others as one batch
        --seed N             makes the event ids (java-SEED-N), USCCs and names (default: the
                             current time); the same seed publishes the same events again
        --region CODE        six-digit region code of the USCCs (default 350206)
        --timeout-ms N       time a request may take before it is posted again (default 10000)
        --attempts N         posts of one body at most (default 8)
      """;

  private final URI eventsUri;
  private final HttpClient client;
  private final String token;  // null: no Authorization header
  private final Duration timeout;
  private final int attempts;

  Publisher(URI eventsUri, HttpClient client, String token, Duration timeout, int attempts) {
    this.eventsUri = eventsUri;
    this.client = client;
    this.token = token;
    this.timeout = timeout;
    this.attempts = attempts;
  }

  public static void main(String[] args) throws Exception {
    Args a = Args.parse(args, USAGE);
    String url = a.get("--url", System.getenv("YILIAN_URL"));
    String token = System.getenv("YILIAN_TOKEN");
    String tokenFile = a.get("--token-file", null);
    if (tokenFile != null) token = Files.readString(Path.of(tokenFile), StandardCharsets.UTF_8).strip();
    if (token != null && token.isEmpty()) token = null;
    String cert = a.get("--cert", System.getenv("YILIAN_CERT"));
    String ca = a.get("--ca", System.getenv("YILIAN_CA"));
    String truststore = a.get("--truststore", null);
    int enterprises = a.getInt("--enterprises", 3, 1, 1000);
    long seed = a.getLong("--seed", System.currentTimeMillis() / 1000);
    String region = a.get("--region", "350206");
    if (!region.matches("[0-9]{6}")) a.usageError("--region must be 6 digits");
    int timeoutMs = a.getInt("--timeout-ms", 10_000, 100, 600_000);
    int attempts = a.getInt("--attempts", 8, 1, 1000);
    a.rejectUnknown();
    if (url == null || url.isEmpty()) a.usageError("--url (or YILIAN_URL) is required");
    if (!url.startsWith("https://") && !url.startsWith("http://")) {
      a.usageError("--url must start with https:// or http://");
    }

    HttpClient.Builder builder =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofMillis(timeoutMs));
    if (url.startsWith("https://")) {
      SSLContext tls =
          Tls.context(
              cert == null ? null : Path.of(cert),
              env("YILIAN_CERT_PASSWORD"),
              ca == null ? null : Path.of(ca),
              truststore == null ? null : Path.of(truststore),
              env("YILIAN_TRUSTSTORE_PASSWORD"));
      builder.sslContext(tls);
    } else if (cert != null) {
      a.usageError("--cert needs an https:// URL");
    }
    URI events = URI.create(url.replaceAll("/+$", "") + "/api/v1/events");
    Publisher publisher = new Publisher(events, builder.build(), token, Duration.ofMillis(timeoutMs), attempts);

    System.out.println(
        "publishing " + enterprises + " ESTABLISHED event(s) to " + events + " (seed " + seed + ", "
            + (token != null ? "bearer token" : "no token") + ", "
            + (cert != null ? "client certificate" : "no client certificate") + ")");
    boolean ok = publisher.publishSingle(SampleEvents.established(region, seed, 1), region, seed, 1);
    if (enterprises > 1) {
      List<String> lines = new ArrayList<>();
      for (int n = 2; n <= enterprises; n++) lines.add(SampleEvents.established(region, seed, n));
      ok &= publisher.publishBatch(lines, region, seed, 2);
    }
    System.exit(ok ? 0 : 1);
  }

  /** Posts one event as application/json; prints its PublishAck. True when it is stored. */
  boolean publishSingle(String eventJson, String region, long seed, int n) throws InterruptedException {
    Optional<HttpResponse<String>> r = post(eventJson, "application/json");
    if (r.isEmpty()) return false;
    Map<String, Object> body = parseOrReport(r.get());
    if (body == null) return false;
    if (!body.containsKey("status")) return apiError(r.get().statusCode(), body);
    return printAck(body, SampleEvents.uscc(region, seed, n));
  }

  /**
   * Posts events as one application/x-ndjson batch (all stored in one transaction, or none);
   * prints each event's PublishAck, in line order. True when every one is stored.
   */
  boolean publishBatch(List<String> eventLines, String region, long seed, int firstN) throws InterruptedException {
    Optional<HttpResponse<String>> r = post(String.join("\n", eventLines) + "\n", "application/x-ndjson");
    if (r.isEmpty()) return false;
    Map<String, Object> body = parseOrReport(r.get());
    if (body == null) return false;
    if (!body.containsKey("results")) return apiError(r.get().statusCode(), body);
    List<Object> results = Json.list(body, "results");
    boolean ok = results.size() == eventLines.size();
    if (!ok) System.out.println("batch: " + results.size() + " results for " + eventLines.size() + " events");
    for (int i = 0; i < results.size(); i++) {
      // Results come in line order; correlation_id is the line number (1-based).
      Object ack = results.get(i);
      String line = Json.text(ack, "correlation_id");
      int index = line.matches("[1-9][0-9]{0,8}") ? Integer.parseInt(line) - 1 : i;
      ok &= printAck(ack, SampleEvents.uscc(region, seed, firstN + index));
    }
    return ok;
  }

  /**
   * Posts {@code body}, again after a backoff while the answer is a timeout, a lost connection,
   * 503 or 429: safe, since the broker stores an event once by its event_id. Empty when every
   * attempt failed.
   */
  Optional<HttpResponse<String>> post(String body, String contentType) throws InterruptedException {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(eventsUri)
            .timeout(timeout)
            .header("Content-Type", contentType)
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
    if (token != null) request.header("Authorization", "Bearer " + token);
    long backoffMs = 500;
    for (int attempt = 1; ; attempt++) {
      String why;
      long waitMs = backoffMs;
      try {
        HttpResponse<String> r =
            client.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (r.statusCode() != 503 && r.statusCode() != 429) return Optional.of(r);
        why = "HTTP " + r.statusCode() + " " + errorSummary(r.body());
        waitMs = Math.max(waitMs, retryAfterMs(r));
      } catch (SSLHandshakeException e) {
        // A certificate the other side does not accept: no retry mends that.
        System.out.println(
            "TLS handshake failed: " + e.getMessage() + " (check --ca, --cert and the broker's certificate)");
        return Optional.empty();
      } catch (IOException e) {  // HttpTimeoutException, ConnectException, a reset connection, ...
        why = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
      }
      if (attempt >= attempts) {
        System.out.println("giving up after " + attempt + " attempts: " + why);
        return Optional.empty();
      }
      System.err.println(
          "attempt " + attempt + " failed (" + why + "); posting the same body again in " + waitMs + " ms");
      Thread.sleep(waitMs);
      backoffMs = Math.min(backoffMs * 2, 30_000);
    }
  }

  /** Retry-After in ms: whole seconds or an HTTP date; 0 when absent or unreadable. */
  static long retryAfterMs(HttpResponse<?> r) {
    Optional<String> value = r.headers().firstValue("Retry-After");
    if (value.isEmpty()) return 0;
    String v = value.get().strip();
    try {
      return Math.max(0, Long.parseLong(v)) * 1000;
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
        return Math.max(0, at.toInstant().toEpochMilli() - System.currentTimeMillis());
      } catch (RuntimeException notDate) {
        return 0;
      }
    }
  }

  /** The ack of one event, on one line; its validation errors below it. True for ACCEPTED/DUPLICATE. */
  static boolean printAck(Object ack, String uscc) {
    String status = Json.text(ack, "status");
    String eventId = Json.text(ack, "event_id");
    boolean stored = status.equals("ACCEPTED") || status.equals("DUPLICATE");
    StringBuilder line = new StringBuilder(String.format("%-9s %s uscc %s", status, eventId, uscc));
    if (stored) {
      List<String> agencies = new ArrayList<>();
      for (Object agency : Json.list(ack, "agencies")) agencies.add(agency.toString());
      line.append(" sequence ").append(Json.text(ack, "sequence"));
      if (!agencies.isEmpty()) line.append(" agencies ").append(String.join(",", agencies));
    } else {
      line.append(' ').append(Json.text(ack, "error")).append(": ").append(Json.text(ack, "message"));
      if (Json.text(ack, "error").equals("STALE_REVISION")) {
        line.append(" (current revision ").append(Json.text(ack, "current_revision")).append(')');
      }
    }
    System.out.println(line);
    for (Object e : Json.list(ack, "errors")) {
      System.out.println(
          "          " + Json.text(e, "path") + " " + Json.text(e, "code") + ": " + Json.text(e, "message"));
    }
    return stored;
  }

  /** An ApiError answer (401, 403, 413, 415, 400, ...): the request was refused as a whole. */
  static boolean apiError(int status, Map<String, Object> body) {
    System.out.println(
        "request refused: HTTP " + status + " " + Json.text(body, "code") + ": " + Json.text(body, "message"));
    return false;
  }

  static Map<String, Object> parseOrReport(HttpResponse<String> r) {
    try {
      return Json.parseObject(r.body());
    } catch (Json.ParseException e) {
      System.out.println(
          "HTTP " + r.statusCode() + ", a body that is not a JSON object (" + e.getMessage() + "): " + r.body());
      return null;
    }
  }

  /** "CODE: message" of an ApiError body, or the first result's error of a batch; for log lines. */
  static String errorSummary(String body) {
    try {
      Map<String, Object> o = Json.parseObject(body);
      if (o.containsKey("code")) return Json.text(o, "code") + ": " + Json.text(o, "message");
      Object first = Json.list(o, "results").stream().findFirst().orElse(o);
      return Json.text(first, "error") + ": " + Json.text(first, "message");
    } catch (Json.ParseException e) {
      return body.length() > 200 ? body.substring(0, 200) + "..." : body;
    }
  }

  private static char[] env(String name) {
    String v = System.getenv(name);
    return v == null ? new char[0] : v.toCharArray();
  }
}
