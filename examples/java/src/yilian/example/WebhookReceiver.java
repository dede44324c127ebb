package yilian.example;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Receives the broker's case updates ({@code webhook.url}): each a POST of one {@code
 * yilian.v1.CaseUpdate} in JSON, signed with the shared secret. It answers
 *
 * <ul>
 *   <li>{@code 204} for an update whose signature verifies and whose timestamp is at most 5 minutes
 *       old, after handling it (printing it, appending it to the {@code --out} file): the broker
 *       then stores it as acknowledged and never sends it again;
 *   <li>{@code 204} again, without handling it twice, for an update id it has handled before: after
 *       a broker restart an update whose answer was lost is sent again;
 *   <li>{@code 401} for a missing or wrong signature or a stale timestamp, {@code 400} for a signed
 *       body that is not a case update; the broker retries those with backoff.
 * </ul>
 *
 * <p>Concurrency: the broker posts updates of different enterprises in parallel (one at a time per
 * enterprise), so requests are answered on a small pool; handling is serialized by one lock.
 *
 * <p>Limitations of the example: the handled ids live in memory, so a restart of the receiver
 * forgets them; a real platform records the {@code update_id} in the same transaction as its effect
 * (a unique key), and answers 2xx only after that commit.
 */
public final class WebhookReceiver {
  static final String USAGE =
      """
      usage: WebhookReceiver --secret-file FILE [options]
        --secret-file FILE   the HMAC key: the same file as the broker's webhook.secret_file
                             (env YILIAN_WEBHOOK_SECRET_FILE)
        --listen HOST:PORT   address to listen on (default 127.0.0.1:8090; port 0: a free one)
        --path PATH          the path of webhook.url (default /yilian/updates)
        --out FILE           append one JSON line per handled update to FILE
        --port-file FILE     write the port listened on to FILE once listening
        --max-age-seconds N  refuse timestamps older (or further ahead) than this (default 300)
      Stops on SIGTERM or Ctrl-C, printing how many updates it handled and refused.
      """;
  private static final int MAX_BODY_BYTES = 1 << 20;

  private final WebhookSignature signature;
  private final Path out;  // null: print only
  private final Object lock = new Object();
  private final Set<String> handledIds = new HashSet<>();  // guarded by lock
  private int handled;  // guarded by lock
  private int duplicates;  // guarded by lock
  private int refused;  // guarded by lock

  WebhookReceiver(WebhookSignature signature, Path out) {
    this.signature = signature;
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    Args a = Args.parse(args, USAGE);
    String secretFile = a.get("--secret-file", System.getenv("YILIAN_WEBHOOK_SECRET_FILE"));
    String listen = a.get("--listen", "127.0.0.1:8090");
    String path = a.get("--path", "/yilian/updates");
    String outFile = a.get("--out", null);
    String portFile = a.get("--port-file", null);
    long maxAge = a.getLong("--max-age-seconds", 300);
    a.rejectUnknown();
    if (secretFile == null || secretFile.isEmpty()) {
      a.usageError("--secret-file (or YILIAN_WEBHOOK_SECRET_FILE) is required");
    }
    int colon = listen.lastIndexOf(':');
    if (colon < 0) a.usageError("--listen must be HOST:PORT");

    byte[] secret = Files.readAllBytes(Path.of(secretFile));
    if (secret.length < 32) a.usageError("the secret in " + secretFile + " is shorter than 32 bytes");
    WebhookReceiver receiver =
        new WebhookReceiver(new WebhookSignature(secret, maxAge), outFile == null ? null : Path.of(outFile));

    InetSocketAddress address =
        new InetSocketAddress(listen.substring(0, colon), Integer.parseInt(listen.substring(colon + 1)));
    HttpServer server = HttpServer.create(address, 64);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    server.setExecutor(pool);
    server.createContext(path, receiver::handle);
    server.start();
    int port = server.getAddress().getPort();
    if (portFile != null) {
      Path tmp = Path.of(portFile + ".tmp");
      Files.writeString(tmp, port + "\n");
      Files.move(tmp, Path.of(portFile), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
    System.out.println("listening on http://" + listen.substring(0, colon) + ":" + port + path);
    System.out.flush();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.stop(1);
                  pool.shutdown();
                  System.out.println(receiver.summary());
                }));
    Thread.currentThread().join();  // until SIGTERM / Ctrl-C
  }

  void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      if (!exchange.getRequestMethod().equals("POST")) {
        exchange.getResponseHeaders().set("Allow", "POST");
        answer(exchange, 405, "method not allowed");
        return;
      }
      byte[] body;
      try (InputStream in = exchange.getRequestBody()) {
        body = in.readNBytes(MAX_BODY_BYTES + 1);
      }
      if (body.length > MAX_BODY_BYTES) {
        answer(exchange, 413, "body too large");
        return;
      }
      var headers = exchange.getRequestHeaders();
      String id = headers.getFirst("Yilian-Webhook-Id");
      WebhookSignature.Verdict verdict =
          signature.verify(
              headers.getFirst("Yilian-Webhook-Timestamp"),
              headers.getFirst("Yilian-Webhook-Signature"),
              body,
              Instant.now().getEpochSecond());
      if (!verdict.ok()) {
        refuse(exchange, 401, id, verdict.reason());
        return;
      }

      // Signed: now the body may be trusted. The id header is not covered by the signature, so
      // the update_id inside the body is the one used, and the header must agree with it.
      Map<String, Object> update;
      try {
        update = Json.parseObject(new String(body, StandardCharsets.UTF_8));
      } catch (Json.ParseException e) {
        refuse(exchange, 400, id, "not a JSON object: " + e.getMessage());
        return;
      }
      String updateId = Json.text(update, "update_id");
      if (updateId.isEmpty() || !updateId.equals(id)) {
        refuse(exchange, 400, id, "Yilian-Webhook-Id does not match the body's update_id '" + updateId + "'");
        return;
      }

      synchronized (lock) {
        if (handledIds.contains(updateId)) {
          duplicates++;
          System.out.println("update " + updateId + " again: handled before, acknowledged again");
        } else {
          record(update);  // throws on a write error: answered 500, so the broker sends it again
          handledIds.add(updateId);
          handled++;
        }
      }
      exchange.sendResponseHeaders(204, -1);
    } catch (IOException | RuntimeException e) {
      System.out.println("error handling a request: " + e);
      try {
        answer(exchange, 500, "internal error");
      } catch (IOException | RuntimeException ignored) {
        // The response may have started already; the broker retries either way.
      }
    }
  }

  /** Prints one update and appends it to the out file. Called with the lock held. */
  private void record(Map<String, Object> update) throws IOException {
    String updateId = Json.text(update, "update_id");
    String kind = Json.text(update, "kind");
    String eventId = Json.text(update, "case", "event_id");
    String uscc = Json.text(update, "case", "uscc");
    String state = Json.text(update, "case", "state");
    StringBuilder line =
        new StringBuilder(String.format("update %s %s case %s uscc %s %s", updateId, kind, eventId, uscc, state));
    // The agencies that are not done: who refused, or who is late.
    List<String> open = new ArrayList<>();
    for (Object agency : Json.list(update, "case", "agencies")) {
      String agencyState = Json.text(agency, "state");
      if (!agencyState.equals("PROCESSED")) {
        String reason = Json.text(agency, "reason");
        open.add(Json.text(agency, "agency") + " " + agencyState + (reason.isEmpty() ? "" : " (" + reason + ")"));
      }
    }
    if (!Json.text(update, "agency").isEmpty()) line.append(" agency ").append(Json.text(update, "agency"));
    if (!open.isEmpty()) line.append(": ").append(String.join(", ", open));
    System.out.println(line);
    System.out.flush();

    if (out == null) return;
    String json =
        "{\"update_id\":" + Json.quote(updateId)
            + ",\"kind\":" + Json.quote(kind)
            + ",\"event_id\":" + Json.quote(eventId)
            + ",\"uscc\":" + Json.quote(uscc)
            + ",\"state\":" + Json.quote(state)
            + ",\"signature\":\"verified\""
            + ",\"received_at\":" + Json.quote(Instant.now().toString())
            + "}\n";
    try (Writer w =
        Files.newBufferedWriter(out, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
      w.write(json);
    }
  }

  private void refuse(HttpExchange exchange, int status, String id, String reason) throws IOException {
    synchronized (lock) {
      refused++;
    }
    System.out.println("refused update " + (id == null ? "(no id)" : id) + ": " + reason + " (HTTP " + status + ")");
    answer(exchange, status, reason);
  }

  private static void answer(HttpExchange exchange, int status, String message) throws IOException {
    byte[] body = ("{\"error\":" + Json.quote(message) + "}").getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream o = exchange.getResponseBody()) {
      o.write(body);
    }
  }

  String summary() {
    synchronized (lock) {
      return "handled " + handled + " update(s), " + duplicates + " duplicate(s), refused " + refused + " request(s)";
    }
  }
}
