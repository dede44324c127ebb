#!/usr/bin/env python3
"""Holds the broker's HTTP API to its contract, docs/openapi.yaml.

Starts real yilian-broker processes on 127.0.0.1 and calls every operation of the document: each
answer's status must be one the document lists for that operation, its Content-Type one of the
documented media types, its JSON body valid against the documented schema (JSON Schema 2020-12,
strict: `additionalProperties: false`, `required` for every field the broker always prints) and
its documented response headers present; an error answer's status and `code` must be a row of
the error table of docs/http-api.md (section 5), and every metric /metrics declares a row of its
Metrics table with the same type. The error answers the document lists are provoked too
(404, 400, 401, 403, 409, 411, 413, 414, 421, 431, 408, and those of publishing). The routes
registered in broker/http/http_server.cc and the document's paths must name the same endpoints,
and GET /api/v1/openapi.yaml must return the document's bytes.

Exit 0 when everything holds; 1 with the list of failures otherwise.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse

from openapi_contract import Checker, Contract, HttpApiTables, check_document, check_routes, server_routes
from processes import Broker, Ports, WebhookReceiver, poll_until, read_raw_response, request

# Tokens of the second broker (at least 32 characters each).
ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnop"
OBSERVER_TOKEN = "observer-token-0123456789abcdefghijklm"
PUBLISHER_TOKEN = "publisher-token-0123456789abcdefghijkl"
WEBHOOK_SECRET = b"webhook-secret-0123456789abcdefghijklmnopqrstuv"

# Parts of the document that the broker under test may not serve yet. While one is missing from
# the broker the test skips it and says so; once the broker serves it, the test checks it and
# fails until its entry is removed here, so that this list cannot hide a part that went away.


def load_events(source_dir):
    with open(os.path.join(source_dir, "tests/data/valid_events.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def publish_cli(cli, broker, events):
    """Publishes over ZeroMQ with `yilian publish` (every event must be confirmed)."""
    data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode("utf-8")
    p = subprocess.run([cli, "publish", "--broker", broker.endpoint, "--timeout", "60", "-"], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("yilian publish failed: %s %s" % (p.stdout.decode(), p.stderr.decode()))


def run(args):
    contract = Contract(os.path.join(args.source_dir, "docs/openapi.yaml"))
    tables = HttpApiTables(os.path.join(args.source_dir, "docs/http-api.md"))
    checker = Checker(contract, tables)
    for p in check_document(contract) + tables.problems:
        checker.fail(p)
    routes, problems = server_routes(args.source_dir)
    route_exists = lambda method, path: any(m == method and re.fullmatch(r, path) for m, r in routes)
    http_publish = route_exists("POST", "/api/v1/events")
    long_poll = route_exists("GET", "/api/v1/updates")
    config_keys = subprocess.run([args.broker, "--help-config"], stdout=subprocess.PIPE, timeout=60).stdout.decode()
    webhooks = re.search(r"^webhook\.url$", config_keys, re.M) is not None
    skipped = set()
    for part, present in (("POST /api/v1/events", http_publish), ("GET /api/v1/updates", long_poll),
                          ("webhook.url in --help-config", webhooks)):
        if not present:
            checker.fail("the broker lacks %s, which docs/openapi.yaml documents" % part)
    for p in problems + check_routes(contract, routes, skipped):
        checker.fail(p)
    events = load_events(args.source_dir)
    for e in events:
        for problem in contract.validate({"$ref": "#/components/schemas/EnterpriseEvent"}, e):
            checker.fail("tests/data/valid_events.jsonl %s against EnterpriseEvent: %s" % (e["event_id"], problem))

    ports = Ports()
    webhook = WebhookReceiver(ports.take())
    brokers, consumers = [], []
    try:
        webhook_yaml = ("webhook:\n  url: http://127.0.0.1:%d/yilian/updates\n  secret_file: $DIR/webhook.secret\n"
                        % webhook.server.server_address[1]) if webhooks else ""
        a = Broker(args.broker, ports, "open", yaml_extra="store:\n  retention_days: 0\n" + webhook_yaml,
                   files={"webhook.secret": (WEBHOOK_SECRET, 0o600)})
        brokers.append(a)
        poll_until(lambda: request(a.http_port, "GET", "/readyz").status == 200, 30, "the broker to be ready")
        scenario_open(checker, contract, args, a, events, http_publish, long_poll, consumers)
        if webhooks:
            check_webhook(checker, contract, webhook)

        tokens = ("tokens:\n"
                  "  - {identity: ops, role: admin, token: \"%s\"}\n"
                  "  - {identity: monitor, role: observer, token: \"%s\"}\n" % (ADMIN_TOKEN, OBSERVER_TOKEN))
        if http_publish:
            tokens += "  - {identity: platform, role: publisher, token: \"%s\"}\n" % PUBLISHER_TOKEN
        b = Broker(args.broker, ports, "tokens",
                   yaml_extra=("  header_timeout_ms: 300\nsecurity:\n  tokens_file: $DIR/tokens.yaml\n"
                               "  http_read_token_required: true\n"),
                   files={"tokens.yaml": (tokens.encode(), 0o600)})
        brokers.append(b)
        scenario_tokens(checker, b, http_publish, long_poll)

        c = Broker(args.broker, ports, "archive", yaml_extra="store:\n  retention_days: 0.00002\n")
        brokers.append(c)
        scenario_archive(checker, args, c, events[0], consumers)
        for broker in brokers:
            checker.check_metrics("GET /metrics of the %s broker" % broker.name,
                                  request(broker.http_port, "GET", "/metrics").body.decode("utf-8"))
    finally:
        for c in consumers:
            if c.poll() is None:
                c.terminate()
                c.wait(20)
        for broker in brokers:
            broker.stop()
        webhook.stop()

    checker.coverage(skipped)
    checker.table_coverage()
    return checker.failures


def scenario_open(checker, contract, args, a, events, http_publish, long_poll, consumers):
    """The broker without tokens (--insecure-dev): every operation, and the errors of each."""
    call = lambda *p, **kw: checker.call(a, *p, **kw)

    # The document itself, byte for byte.
    r = call("GET", "/api/v1/openapi.yaml", expect=200)
    if r.body != contract.raw:
        checker.fail("GET /api/v1/openapi.yaml is not docs/openapi.yaml byte for byte (%d bytes, file %d)"
                     % (len(r.body), len(contract.raw)))

    call("GET", "/healthz", expect=200)
    call("GET", "/readyz", expect=200)
    call("GET", "/metrics", expect=200)
    call("GET", "/", expect=200)
    call("GET", "/index.html", expect=200)
    call("GET", "/app.js", expect=200)
    call("GET", "/style.css", expect=200)

    # Events: tax rejects the first one, everything else is processed.
    rejected = events[0]["event_id"]
    consumers.append(subprocess.Popen(
        [args.cli, "consume", "--broker", a.endpoint, "--agency", "tax", "--result", "processed",
         "--reject-pattern", "^%s$" % re.escape(rejected)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    if http_publish:
        first = call("POST", "/api/v1/events", headers={"Content-Type": "application/json"},
                     body=json.dumps(events[0]).encode(), expect=200).json()
        if first.get("status") != "ACCEPTED":
            checker.fail("POST /api/v1/events of a new event: %s" % first)
        again = call("POST", "/api/v1/events", headers={"Content-Type": "application/json"},
                     body=json.dumps(events[0]).encode(), expect=200).json()
        if again.get("status") != "DUPLICATE":
            checker.fail("POST /api/v1/events of the same event again: %s" % again)
        batch = "".join(json.dumps(e) + "\n" for e in events[1:]).encode()
        result = call("POST", "/api/v1/events", headers={"Content-Type": "application/x-ndjson"}, body=batch,
                      expect=200).json()
        if [x.get("status") for x in result.get("results", [])] != ["ACCEPTED"] * (len(events) - 1):
            checker.fail("POST /api/v1/events batch: %s" % result)
        # Refusals: a changed event under a known id, an invalid one, bad JSON, another media type.
        conflict = dict(events[0], authority="another authority")
        call("POST", "/api/v1/events", headers={"Content-Type": "application/json"},
             body=json.dumps(conflict).encode(), expect=409)
        invalid = dict(events[0], event_id="openapi-invalid-1", uscc="not-a-uscc")
        call("POST", "/api/v1/events", headers={"Content-Type": "application/json"},
             body=json.dumps(invalid).encode(), expect=422)
        call("POST", "/api/v1/events", headers={"Content-Type": "application/json"}, body=b"{not json",
             expect=400)
        call("POST", "/api/v1/events", headers={"Content-Type": "application/x-ndjson"},
             body=json.dumps(events[1]).encode() + b"\n{\"no_such_field\": 1}\n", expect=400)
        call("POST", "/api/v1/events", headers={"Content-Type": "text/plain"}, body=b"hello", expect=415)
    else:
        publish_cli(args.cli, a, events)

    def case_of(event_id):
        r = request(a.http_port, "GET", "/api/v1/cases/" + urllib.parse.quote(event_id, safe=""))
        return r.json() if r.status == 200 else None

    def tax_state(event_id):
        c = case_of(event_id)
        return next((o["state"] for o in (c or {}).get("agencies", []) if o["agency"] == "tax"), None)

    poll_until(lambda: tax_state(rejected) == "REJECTED", 30, "tax to reject %s" % rejected)

    # Reads.
    call("GET", "/api/v1/cases/{event_id}", {"event_id": rejected}, expect=200)
    call("GET", "/api/v1/cases/{event_id}", {"event_id": "no-such-event"}, expect=404)
    call("GET", "/api/v1/cases", expect=200)
    page = call("GET", "/api/v1/cases", query={"limit": 2}, expect=200).json()
    call("GET", "/api/v1/cases", query={"limit": 2, "cursor": page.get("next_cursor") or "0"}, expect=200)
    call("GET", "/api/v1/cases", query={"status": "ATTENTION", "agency": "tax", "overdue": "false",
                                        "since": "2000-01-01T00:00:00Z", "uscc": events[0]["uscc"]}, expect=200)
    for bad in ({"status": "SOMETIMES"}, {"overdue": "maybe"}, {"since": "yesterday"}, {"limit": 0},
                {"limit": "x"}):
        call("GET", "/api/v1/cases", query=bad, expect=400)
    call("GET", "/api/v1/enterprises/{uscc}", {"uscc": events[0]["uscc"]}, expect=200)
    call("GET", "/api/v1/enterprises/{uscc}", {"uscc": "000000000000000000"}, expect=404)
    call("GET", "/api/v1/stats", expect=200)
    call("GET", "/api/v1/stats", query={"window": 3600}, expect=200)
    call("GET", "/api/v1/stats", query={"window": 59}, expect=400)
    call("GET", "/api/v1/rekey", expect=200)
    # store.retention_days is 0 on this broker: the job is off.
    if call("GET", "/api/v1/archive", expect=200).json().get("state") != "off":
        checker.fail("GET /api/v1/archive with store.retention_days 0 is not \"off\"")
    call("POST", "/api/v1/archive", headers={"Content-Type": "application/json"}, body=b"{}", expect=409)

    # Operator actions (the actor is `dev`).
    json_headers = {"Content-Type": "application/json"}
    retry = "/api/v1/cases/{event_id}/agencies/{agency}/retry"
    call("POST", retry, {"event_id": rejected, "agency": "tax"}, headers=json_headers,
         body=b'{"reason":"corrected"}', expect=200)
    poll_until(lambda: tax_state(rejected) in ("REJECTED", "PROCESSED"), 30, "the retried delivery to settle")
    call("POST", retry, {"event_id": events[1]["event_id"], "agency": "tax"}, headers=json_headers, body=b"{}",
         expect=409)
    call("POST", retry, {"event_id": "no-such-event", "agency": "tax"}, headers=json_headers, body=b"{}",
         expect=404)
    call("POST", retry, {"event_id": rejected, "agency": "tax"}, headers=json_headers, body=b'{"reason": 5}',
         expect=400)
    replay = "/api/v1/agencies/{agency}/replay"
    call("POST", replay, {"agency": "tax"}, headers=json_headers,
         body=b'{"since":"2000-01-01T00:00:00Z","reason":"restored"}', expect=200)
    call("POST", replay, {"agency": "no-such-agency"}, headers=json_headers,
         body=b'{"since":"2000-01-01T00:00:00Z"}', expect=404)
    call("POST", replay, {"agency": "tax"}, headers=json_headers, body=b'{"reason":"no since"}', expect=400)
    call("POST", replay, {"agency": "tax"}, headers=json_headers, body=b'{"since":"yesterday"}', expect=400)
    resolve = "/api/v1/cases/{event_id}/resolve"
    call("POST", resolve, {"event_id": rejected}, headers=json_headers, body=b'{"reason":"done at the counter"}',
         expect=200)
    call("POST", resolve, {"event_id": rejected}, headers=json_headers, body=b'{"reason":"again"}', expect=409)
    call("POST", resolve, {"event_id": "no-such-event"}, headers=json_headers, body=b'{"reason":"x"}', expect=404)
    call("POST", resolve, {"event_id": rejected}, headers=json_headers, body=b"{}", expect=400)
    # The resolved case as the API shows it now: COMPLETED, with completed_at.
    resolved = call("GET", "/api/v1/cases/{event_id}", {"event_id": rejected}, expect=200).json()
    if resolved.get("state") != "COMPLETED" or "completed_at" not in resolved:
        checker.fail("a resolved case is not COMPLETED with completed_at: %s" % resolved)

    if long_poll:
        updates = call("GET", "/api/v1/updates", query={"after": 0, "limit": 1000}, expect=200).json()
        if not updates.get("updates"):
            checker.fail("GET /api/v1/updates?after=0 returned no updates after cases completed: %s" % updates)
        last = updates.get("last_id", "0")
        tail = call("GET", "/api/v1/updates", query={"after": last, "wait": 0}, expect=200).json()
        if tail.get("updates") or tail.get("last_id") != last:
            checker.fail("GET /api/v1/updates after the last id: %s" % tail)
        for bad in ({"limit": 0}, {"limit": 1001}, {"wait": 31}, {"after": "x"}):
            call("GET", "/api/v1/updates", query=bad, expect=400)

    # The checks every request passes before it is routed.
    call("GET", "/healthz", host="rebinding.example:%d" % a.http_port, expect=421)
    call("GET", "/api/v1/stats", host="rebinding.example", expect=421)
    call("POST", resolve, {"event_id": rejected}, headers=json_headers, chunked=True, expect=411)
    call("GET", "/api/v1/cases", headers={"Content-Length": "100000000"}, expect=413)
    call("POST", resolve, {"event_id": rejected}, headers={"Content-Type": "application/json",
                                                           "Content-Length": "100000000"}, expect=413)
    call("GET", "/api/v1/cases", headers={"Content-Length": "ten"}, expect=400)
    call("GET", "/metrics", headers={"X-Pad-%d" % i: "x" for i in range(80)}, expect=431)
    call("GET", "/api/v1/cases", headers={"X-Pad": "x" * 20000}, expect=431)
    long_target = "/api/v1/cases?uscc=" + "9" * 20000
    call("GET", "/api/v1/cases", raw=True,
         data=("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % long_target).encode(), expect=414)

    # No such endpoint: an ApiError NOT_FOUND, also for a known path with another method.
    for method, target in (("GET", "/api/v1/no-such-thing"), ("DELETE", "/api/v1/cases")):
        r = request(a.http_port, method, target)
        errors = contract.validate({"$ref": "#/components/schemas/NotFoundError"}, r.json()) if r.status == 404 else []
        if r.status != 404 or errors:
            checker.fail("%s %s: expected a NOT_FOUND ApiError, got %d %s %s" % (method, target, r.status, r.body[:200],
                                                                              errors))


def check_webhook(checker, contract, webhook):
    """The broker's webhook POSTs: a CaseUpdate each, with the documented headers and signature."""
    op = contract.doc["webhooks"]["caseUpdate"]["post"]
    try:
        poll_until(lambda: webhook.received, 30, "the broker's first webhook POST")
    except TimeoutError as e:
        checker.fail("webhook: %s" % e)
        return
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    for path, headers, body in list(webhook.received):
        label = "webhook POST %s" % path
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            checker.fail("%s: Content-Type %r" % (label, headers.get("content-type")))
        for p in op["parameters"]:
            value = headers.get(p["name"].lower())
            if value is None:
                checker.fail("%s: header %s is missing" % (label, p["name"]))
                continue
            for e in contract.validate(p["schema"], value):
                checker.fail("%s: header %s: %s" % (label, p["name"], e))
        try:
            update = json.loads(body)
        except ValueError:
            checker.fail("%s: body is not JSON: %r" % (label, body[:200]))
            continue
        for e in contract.validate(schema, update):
            checker.fail("%s: %s" % (label, e))
        if headers.get("yilian-webhook-id") != update.get("update_id"):
            checker.fail("%s: Yilian-Webhook-Id %s is not the update_id %s" %
                         (label, headers.get("yilian-webhook-id"), update.get("update_id")))
        signed = headers.get("yilian-webhook-timestamp", "").encode() + b"." + body
        expected = "v1=" + hmac.new(WEBHOOK_SECRET, signed, hashlib.sha256).hexdigest()
        if headers.get("yilian-webhook-signature") != expected:
            checker.fail("%s: the signature is not HMAC-SHA256(secret, timestamp.body)" % label)


def scenario_archive(checker, args, c, event, consumers):
    """A broker with a 1.7 s retention: one case settles, the job moves it, the API answers 410 for it."""
    call = lambda *p, **kw: checker.call(c, *p, **kw)
    publish_cli(args.cli, c, [event])
    path = "/api/v1/cases/" + urllib.parse.quote(event["event_id"], safe="")
    agencies = [o["agency"] for o in request(c.http_port, "GET", path).json().get("agencies", [])]
    for agency in agencies:
        consumers.append(subprocess.Popen([args.cli, "consume", "--broker", c.endpoint, "--agency", agency],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    # A watcher takes the case updates: a case whose updates no one took stays live.
    consumers.append(subprocess.Popen([args.cli, "watch", "--broker", c.endpoint], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    poll_until(lambda: request(c.http_port, "GET", path).json().get("state") == "COMPLETED", 30, "the case to complete")
    settled = time.monotonic()
    poll_until(lambda: time.monotonic() > settled + 2.5, 10, "the retention to pass")

    def archived():
        s = request(c.http_port, "GET", "/api/v1/archive").json()
        return s.get("state") == "idle" and int(s.get("events_archived", "0")) >= 1

    # The watcher's acknowledgement may come after the first run: ask again until the case moved.
    def run_and_check():
        if not archived():
            call("POST", "/api/v1/archive", headers={"Content-Type": "application/json"}, body=b"{}", expect=202)
        return archived()

    poll_until(run_and_check, 30, "the archive job to move the case")
    call("GET", "/api/v1/archive", expect=200)
    call("GET", "/api/v1/cases/{event_id}", {"event_id": event["event_id"]}, expect=410)


def scenario_tokens(checker, b, http_publish, long_poll):
    """The broker with tokens, reads requiring one: 401 and 403 where the document lists them."""
    call = lambda *p, **kw: checker.call(b, *p, **kw)
    bearer = lambda token: {"Authorization": "Bearer " + token}
    json_headers = {"Content-Type": "application/json"}
    call("GET", "/healthz", expect=200)
    call("GET", "/api/v1/openapi.yaml", expect=401)
    call("GET", "/api/v1/openapi.yaml", headers=bearer(OBSERVER_TOKEN), expect=200)
    call("GET", "/api/v1/cases", expect=401)
    call("GET", "/api/v1/cases", headers=bearer("x" * 40), expect=401)
    call("GET", "/api/v1/cases", headers=bearer(OBSERVER_TOKEN), expect=200)
    call("GET", "/api/v1/cases/{event_id}", {"event_id": "e-1"}, expect=401)
    call("GET", "/api/v1/enterprises/{uscc}", {"uscc": "u-1"}, expect=401)
    call("GET", "/api/v1/stats", expect=401)
    call("GET", "/api/v1/stats", headers=bearer(ADMIN_TOKEN), expect=200)
    call("GET", "/api/v1/rekey", expect=401)
    call("GET", "/api/v1/rekey", headers=bearer(OBSERVER_TOKEN), expect=200)
    if http_publish:
        call("GET", "/api/v1/rekey", headers=bearer(PUBLISHER_TOKEN), expect=403)
    retry = "/api/v1/cases/{event_id}/agencies/{agency}/retry"
    call("POST", retry, {"event_id": "e-1", "agency": "tax"}, headers=json_headers, body=b"{}", expect=401)
    call("POST", retry, {"event_id": "e-1", "agency": "tax"}, headers=dict(json_headers, **bearer(OBSERVER_TOKEN)),
         body=b"{}", expect=403)
    call("POST", retry, {"event_id": "e-1", "agency": "tax"}, headers=dict(json_headers, **bearer(ADMIN_TOKEN)),
         body=b"{}", expect=404)
    call("POST", "/api/v1/agencies/{agency}/replay", {"agency": "tax"},
         headers=dict(json_headers, **bearer(OBSERVER_TOKEN)), body=b'{"since":"2000-01-01T00:00:00Z"}', expect=403)
    call("POST", "/api/v1/agencies/{agency}/replay", {"agency": "tax"}, headers=json_headers,
         body=b'{"since":"2000-01-01T00:00:00Z"}', expect=401)
    call("POST", "/api/v1/cases/{event_id}/resolve", {"event_id": "e-1"},
         headers=dict(json_headers, **bearer(OBSERVER_TOKEN)), body=b'{"reason":"x"}', expect=403)
    call("POST", "/api/v1/cases/{event_id}/resolve", {"event_id": "e-1"}, headers=json_headers,
         body=b'{"reason":"x"}', expect=401)
    call("GET", "/api/v1/archive", expect=401)
    call("GET", "/api/v1/archive", headers=bearer(OBSERVER_TOKEN), expect=200)
    call("POST", "/api/v1/archive", headers=json_headers, body=b"{}", expect=401)
    call("POST", "/api/v1/archive", headers=dict(json_headers, **bearer(OBSERVER_TOKEN)), body=b"{}", expect=403)
    call("POST", "/api/v1/archive", headers=dict(json_headers, **bearer(ADMIN_TOKEN)), body=b"{}", expect=202)
    if long_poll:
        call("GET", "/api/v1/updates", expect=401)
        call("GET", "/api/v1/updates", headers=bearer(OBSERVER_TOKEN), expect=200)
    if http_publish:
        event = json.dumps({"event_id": "e-1"}).encode()
        call("POST", "/api/v1/events", headers=json_headers, body=event, expect=401)
        call("POST", "/api/v1/events", headers=dict(json_headers, **bearer(OBSERVER_TOKEN)), body=event, expect=403)
        call("POST", "/api/v1/events", headers=dict(json_headers, **bearer(ADMIN_TOKEN)), body=event, expect=403)
        call("POST", "/api/v1/events", headers=dict(json_headers, **bearer(PUBLISHER_TOKEN)), body=event, expect=422)
    # A request whose headers never end: 408 after http.header_timeout_ms (300 ms here).
    with socket.create_connection(("127.0.0.1", b.http_port), timeout=30) as s:
        s.sendall(b"GET /api/v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        checker.check("GET", "/api/v1/stats", "/api/v1/stats (headers unfinished)", read_raw_response(s), 408)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True, help="the yilian-broker binary")
    parser.add_argument("--cli", required=True, help="the yilian binary")
    parser.add_argument("--source-dir", required=True, help="the source tree (docs/, web/, broker/http/)")
    args = parser.parse_args()
    failures = run(args)
    if failures:
        print("\n%d failure(s):" % len(failures))
        for f in failures:
            print("  " + f)
        return 1
    print("\ndocs/openapi.yaml holds: every operation called, every answer documented and valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
