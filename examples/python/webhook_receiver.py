#!/usr/bin/env python3
"""A registration platform's webhook receiver for yilian's case updates, Python 3 stdlib only.

The broker POSTs each case update (webhook.url) as one yilian.v1.CaseUpdate in JSON, signed with
the shared secret (docs/http-api.md, section 4.2). This receiver answers

- 204 for an update whose signature verifies and whose timestamp is at most --max-age-seconds
  from its clock, after appending it as one JSON line to --out: the broker then stores it as
  acknowledged and never sends it again;
- 204 again, without recording it twice, for an update id it has recorded before (an update whose
  answer was lost is sent again, also after a broker restart);
- 401 for a missing or wrong signature or a stale timestamp, 400 for a signed body that is not a
  case update; the broker retries those with backoff.

Each refused request is logged as a line starting with "refused ". On SIGTERM or Ctrl-C it prints
how many updates it recorded, took again and refused.

Concurrency: the broker posts updates of different enterprises in parallel, so requests are served
on threads; recording is serialized by one lock. Limitation: the recorded ids live in memory (and
in the --out file), so a restarted receiver forgets them; a real platform records the update_id in
the same transaction as its effect and answers 2xx after that commit.

  examples/python/webhook_receiver.py --secret-file webhook.secret --listen 127.0.0.1:8090 \\
      --out updates.jsonl
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import signal
import sys
import threading
import time

MAX_BODY_BYTES = 1 << 20


def read_secret(path):
    """The HMAC key: the file's bytes without one final newline, as the broker reads it."""
    with open(path, "rb") as f:
        secret = f.read()
    if secret.endswith(b"\n"):
        secret = secret[:-1]
    return secret


def verify(secret, timestamp, signature, body, now, max_age):
    """Returns None when the request is signed by the secret and fresh, else the reason."""
    if not timestamp or not signature:
        return "missing Yilian-Webhook-Timestamp or Yilian-Webhook-Signature"
    try:
        sent = int(timestamp)
    except ValueError:
        return "Yilian-Webhook-Timestamp is not a number"
    if abs(now - sent) > max_age:
        return "timestamp %d is more than %d s from this clock" % (sent, max_age)
    expected = "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    # Constant time: the comparison takes as long wherever the first difference is.
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return "the signature does not match"
    return None


class Receiver:
    def __init__(self, secret, out, max_age):
        self.secret = secret
        self.out = out
        self.max_age = max_age
        self.lock = threading.Lock()
        self.recorded_ids = set()  # guarded by lock
        self.recorded = self.again = self.refused = 0  # guarded by lock

    def handle(self, headers, body):
        """Returns the HTTP status for one POST."""
        update_id = headers.get("Yilian-Webhook-Id", "")
        reason = verify(self.secret, headers.get("Yilian-Webhook-Timestamp"),
                        headers.get("Yilian-Webhook-Signature"), body, int(time.time()), self.max_age)
        if reason:
            return self.refuse(401, update_id, reason)
        # Signed: the body may be trusted now. The id header is not covered by the signature, so
        # the body's update_id is the one used, and the header must agree with it.
        try:
            update = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            return self.refuse(400, update_id, "not JSON: %s" % e)
        if not isinstance(update, dict) or not update.get("update_id") or update["update_id"] != update_id:
            return self.refuse(400, update_id, "Yilian-Webhook-Id does not match the body's update_id")
        with self.lock:
            if update_id in self.recorded_ids:
                self.again += 1
                return 204
            if self.out:
                with open(self.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(update, ensure_ascii=False, separators=(",", ":")) + "\n")
            self.recorded_ids.add(update_id)
            self.recorded += 1
        case = update.get("case", {})
        print("update %s %s case %s %s" % (update_id, update.get("kind"), case.get("event_id"), case.get("state")),
              flush=True)
        return 204

    def refuse(self, status, update_id, reason):
        with self.lock:
            self.refused += 1
        print("refused %s (%d): %s" % (update_id or "-", status, reason), flush=True)
        return status

    def summary(self):
        with self.lock:
            return "recorded %d update(s), %d sent again, %d request(s) refused" % (
                self.recorded, self.again, self.refused)


def make_handler(receiver, path):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            if self.path != path:
                return self.answer(404)
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return self.answer(411)
            if length < 0 or length > MAX_BODY_BYTES:
                return self.answer(413)
            body = self.rfile.read(length)
            try:
                status = receiver.handle(self.headers, body)
            except OSError as e:  # the out file: answered 500, so the broker sends it again
                print("error recording an update: %s" % e, flush=True)
                status = 500
            self.answer(status)

        def answer(self, status):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass  # one line per update is printed by the receiver itself

    return Handler


def main():
    parser = argparse.ArgumentParser(description="Receives yilian's signed case updates (webhook.url).")
    parser.add_argument("--secret-file", required=True,
                        help="the HMAC key: the same file as the broker's webhook.secret_file")
    parser.add_argument("--listen", default="127.0.0.1:8090",
                        help="HOST:PORT to listen on (default 127.0.0.1:8090; port 0: a free one)")
    parser.add_argument("--path", default="/yilian/updates", help="the path of webhook.url")
    parser.add_argument("--out", help="append one JSON line per recorded update to this file")
    parser.add_argument("--port-file", help="write the port listened on to this file once listening")
    parser.add_argument("--max-age-seconds", type=int, default=300,
                        help="refuse timestamps further than this from this clock (default 300)")
    args = parser.parse_args()

    secret = read_secret(args.secret_file)
    if len(secret) < 32:
        parser.error("the secret in %s is shorter than 32 bytes" % args.secret_file)
    host, _, port = args.listen.rpartition(":")
    receiver = Receiver(secret, args.out, args.max_age_seconds)
    server = http.server.ThreadingHTTPServer((host, int(port)), make_handler(receiver, args.path))
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    print("listening on http://%s:%d%s" % (host, port, args.path), flush=True)

    def stop(*_):
        threading.Thread(target=server.shutdown).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    print(receiver.summary(), flush=True)


if __name__ == "__main__":
    sys.exit(main())
