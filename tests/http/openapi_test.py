#!/usr/bin/env python3
"""Holds the broker's HTTP API to its contract, docs/openapi.yaml.

Starts real yilian-broker processes on 127.0.0.1 and calls every operation of the document: each
answer's status must be one the document lists for that operation, its Content-Type one of the
documented media types, its JSON body valid against the documented schema (JSON Schema 2020-12,
strict: `additionalProperties: false`, `required` for every field the broker always prints) and
its documented response headers present. The error answers the document lists are provoked too
(404, 400, 401, 403, 409, 411, 413, 414, 421, 431, 408, and those of publishing). The routes
registered in broker/http/http_server.cc and the document's paths must name the same endpoints,
and GET /api/v1/openapi.yaml must return the document's bytes.

Exit 0 when everything holds; 1 with the list of failures otherwise.
"""

import argparse
import copy
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import jsonschema
import yaml

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Tokens of the second broker (at least 32 characters each).
ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnop"
OBSERVER_TOKEN = "observer-token-0123456789abcdefghijklm"
PUBLISHER_TOKEN = "publisher-token-0123456789abcdefghijkl"
WEBHOOK_SECRET = b"webhook-secret-0123456789abcdefghijklmnopqrstuv"

# Parts of the document that the broker under test may not serve yet. While one is missing from
# the broker the test skips it and says so; once the broker serves it, the test checks it and
# fails until its entry is removed here, so that this list cannot hide a part that went away.
AWAITED = {
    "POST /api/v1/events",  # and the publisher role in the tokens file
    "GET /api/v1/updates",
    "webhooks",  # the webhook.* configuration and the POSTs it makes
    "Stats.webhook_backlog",  # comes with the webhook
}


def poll_until(fn, timeout_s, what):
    """Calls fn until it returns something true, for at most timeout_s; returns that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %ss waiting for %s" % (timeout_s, what))
        time.sleep(0.05)


class Ports:
    """Free TCP ports on 127.0.0.1, each handed out once."""

    def __init__(self):
        self.given = set()

    def take(self):
        while True:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in self.given:
                self.given.add(port)
                return port


# ---------------------------------------------------------------------------
# The document


class Contract:
    """docs/openapi.yaml, with helpers to find an operation's responses and validate against them."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.raw = f.read()
        self.doc = yaml.safe_load(self.raw)

    def resolve(self, node):
        """Follows a local $ref of the document (responses, parameters, headers)."""
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            node = self.pointer(node["$ref"])
        return node

    def pointer(self, ref):
        if not ref.startswith("#/"):
            raise ValueError("only local references are used: " + ref)
        node = self.doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def operations(self):
        """(METHOD, path template) of every operation of paths."""
        for path, item in self.doc["paths"].items():
            for method in HTTP_METHODS:
                if method in item:
                    yield method.upper(), path

    def operation(self, method, template):
        return self.doc["paths"][template][method.lower()]

    def response(self, operation, status):
        """The documented response for an HTTP status (exact code, then NXX), or None."""
        responses = operation["responses"]
        for key in (str(status), "%dXX" % (status // 100)):
            if key in responses:
                return self.resolve(responses[key])
        return None

    def validator(self, schema):
        """A 2020-12 validator of `schema` whose #/components/... references resolve in this document."""
        root = copy.deepcopy(schema)
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        root["components"] = self.doc["components"]
        return jsonschema.Draft202012Validator(root)

    def validate(self, schema, instance):
        """The error messages of instance against schema (empty: valid)."""
        errors = sorted(self.validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(body)", e.message) for e in errors]


def check_document(contract):
    """Static checks of the document itself."""
    problems = []
    doc = contract.doc
    if doc.get("openapi") != "3.1.0":
        problems.append("openapi must be 3.1.0, is %r" % doc.get("openapi"))
    for name, schema in doc["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            problems.append("components/schemas/%s is not a valid JSON Schema: %s" % (name, e.message))

    # Every reference resolves; every object schema is closed.
    def walk(node, where):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    contract.pointer(ref)
                except (KeyError, ValueError):
                    problems.append("%s: $ref %s does not resolve" % (where, ref))
            if node.get("type") == "object" and node.get("additionalProperties") is not False:
                problems.append("%s: an object schema without additionalProperties: false" % where)
            for key, value in node.items():
                walk(value, where + "/" + str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, "%s/%d" % (where, i))

    walk(doc, "#")
    for method, template in contract.operations():
        op = contract.operation(method, template)
        if not any(str(code).startswith("2") for code in op["responses"]):
            problems.append("%s %s documents no 2xx answer" % (method, template))
        for name in re.findall(r"{([^}]+)}", template):
            params = [contract.resolve(p) for p in op.get("parameters", [])]
            if not any(p["in"] == "path" and p["name"] == name for p in params):
                problems.append("%s %s: path parameter {%s} is not declared" % (method, template, name))
    return problems


# ---------------------------------------------------------------------------
# The routes of the code


ROUTE_CALL = re.compile(r"\bs\.(Get|Post|Put|Delete|Patch|Options)\(\s*([^,]+),")


def server_routes(source_dir):
    """(METHOD, regex) of every route registered in http_server.cc, with the dashboard's files."""
    with open(os.path.join(source_dir, "broker/http/http_server.cc"), encoding="utf-8") as f:
        code = f.read()
    routes, problems = [], []
    for method, arg in ROUTE_CALL.findall(code):
        arg = arg.strip()
        raw = re.fullmatch(r'R"\((.*)\)"', arg)
        plain = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', arg)
        if raw:
            routes.append((method.upper(), raw.group(1)))
        elif plain:
            routes.append((method.upper(), plain.group(1)))
        elif arg == "path":
            pass  # the dashboard's files, below
        else:
            problems.append("http_server.cc registers a route this test cannot read: s.%s(%s, ...)" % (method, arg))
    # The dashboard: every file of web/ at /<name>, index.html also at /.
    for name in sorted(os.listdir(os.path.join(source_dir, "web"))):
        routes.append(("GET", re.escape("/" + name)))
        if name == "index.html":
            routes.append(("GET", "/"))
    return routes, problems


def sample_path(template):
    """A concrete path for a template: {x} -> x-1."""
    return re.sub(r"{([^}]+)}", lambda m: m.group(1) + "-1", template)


def check_routes(contract, routes, skipped):
    problems = []
    documented = list(contract.operations())
    for method, regex in routes:
        if not any(m == method and re.fullmatch(regex, sample_path(t)) for m, t in documented):
            problems.append("route %s %s of http_server.cc is not in docs/openapi.yaml" % (method, regex))
    for method, template in documented:
        if "%s %s" % (method, template) in skipped:
            continue
        if not any(m == method and re.fullmatch(r, sample_path(template)) for m, r in routes):
            problems.append("%s %s of docs/openapi.yaml has no route in http_server.cc" % (method, template))
    return problems


# ---------------------------------------------------------------------------
# Brokers


class Broker:
    """One yilian-broker process with its own directory, ports and configuration."""

    def __init__(self, binary, ports, name, yaml_extra="", files=None):
        self.dir = tempfile.mkdtemp(prefix="yilian-openapi-%s-" % name)
        self.zmq_port = ports.take()
        self.http_port = ports.take()
        self.endpoint = "tcp://127.0.0.1:%d" % self.zmq_port
        for fname, (content, mode) in (files or {}).items():
            path = os.path.join(self.dir, fname)
            with open(path, "wb") as f:
                f.write(content)
            os.chmod(path, mode)
        config = os.path.join(self.dir, "broker.yaml")
        with open(config, "w", encoding="utf-8") as f:
            f.write("heartbeat:\n  interval_ms: 200\n  liveness: 3\nhttp:\n  listen: 127.0.0.1:%d\n" % self.http_port)
            f.write(yaml_extra.replace("$DIR", self.dir))
        self.log = os.path.join(self.dir, "broker.log")
        argv = [binary, "--config", config, "--data-dir", os.path.join(self.dir, "data"), "--listen", self.endpoint,
                "--log-file", self.log, "--insecure-dev"]
        self.stderr = open(os.path.join(self.dir, "broker.stderr"), "wb")
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.stderr)

        def up():
            if self.process.poll() is not None:
                raise RuntimeError("broker %s exited with %s: %s" % (name, self.process.returncode, self.tail()))
            return os.path.exists(self.log) and "HTTP API and dashboard on" in self.read_log()

        poll_until(up, 30, "broker %s to serve HTTP" % name)

    def read_log(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def tail(self):
        with open(os.path.join(self.dir, "broker.stderr"), encoding="utf-8", errors="replace") as f:
            return f.read()[-2000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def request(port, method, target, headers=None, body=None, host=None, chunked=False, timeout=30):
    """One HTTP request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or "127.0.0.1:%d" % port)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            conn.send(b"2\r\n{}\r\n0\r\n\r\n")
        elif body is not None:
            if not any(n.lower() == "content-length" for n in (headers or {})):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        else:
            conn.endheaders()
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def raw_request(port, data, timeout=30):
    """Sends bytes as they are and reads the answer until the server closes or it is complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_raw_response(s)


def read_raw_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return Response(status, headers, body)


# ---------------------------------------------------------------------------
# Calling operations and checking the answers


class Checker:
    def __init__(self, contract):
        self.contract = contract
        self.failures = []
        self.seen = {}  # (METHOD, template) -> set of statuses

    def fail(self, message):
        self.failures.append(message)
        print("FAIL: " + message, flush=True)

    def call(self, broker, method, template, params=None, query=None, expect=None, **kw):
        """Calls one documented operation and checks the answer against the document."""
        path = re.sub(r"{([^}]+)}", lambda m: urllib.parse.quote(str(params[m.group(1)]), safe=""), template)
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        if kw.pop("raw", None) is not None:
            r = raw_request(broker.http_port, kw["data"])
        else:
            r = request(broker.http_port, method, target, **kw)
        self.check(method, template, target, r, expect)
        return r

    def check(self, method, template, target, r, expect):
        label = "%s %s -> %d" % (method, target[:120], r.status)
        print(label, flush=True)
        self.seen.setdefault((method, template), set()).add(r.status)
        if expect is not None and r.status not in (expect if isinstance(expect, (set, tuple)) else {expect}):
            self.fail("%s: expected %s; body %s" % (label, expect, r.body[:300]))
        op = self.contract.operation(method, template)
        response = self.contract.response(op, r.status)
        if response is None:
            self.fail("%s: status %d is not documented for %s %s" % (label, r.status, method, template))
            return
        for name, header in (response.get("headers") or {}).items():
            header = self.contract.resolve(header)
            value = r.headers.get(name.lower())
            if value is None:
                if header.get("required"):
                    self.fail("%s: documented header %s is missing" % (label, name))
                continue
            for e in self.contract.validate(header["schema"], value):
                self.fail("%s: header %s: %s" % (label, name, e))
        content = response.get("content")
        if not content:
            return
        media = r.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in content:
            self.fail("%s: Content-Type %r is not documented (%s)" % (label, media, ", ".join(content)))
            return
        schema = content[media].get("schema")
        if schema is None:
            return
        if media == "application/json":
            try:
                body = r.json()
            except ValueError as e:
                self.fail("%s: body is not JSON (%s): %r" % (label, e, r.body[:200]))
                return
        else:
            body = r.body.decode("utf-8")
        for e in self.contract.validate(schema, body):
            self.fail("%s: %s" % (label, e))

    def coverage(self, skipped):
        """Every operation answered at least once with a documented 2xx."""
        for method, template in self.contract.operations():
            if "%s %s" % (method, template) in skipped:
                print("skipped %-6s %s: not served by this broker yet (AWAITED)" % (method, template))
                continue
            statuses = self.seen.get((method, template), set())
            if not any(200 <= s < 300 for s in statuses):
                self.fail("%s %s was never answered 2xx by the test (got %s)" % (method, template, sorted(statuses)))
            op = self.contract.operation(method, template)
            untried = sorted(k for k in op["responses"] if not any(str(s) == k for s in statuses))
            print("covered %-6s %-50s answered %s; documented, not provoked: %s" %
                  (method, template, sorted(statuses), ", ".join(untried) or "-"))


# ---------------------------------------------------------------------------
# The scenario


class WebhookReceiver:
    """A local HTTP server taking the broker's webhook POSTs; answers 200."""

    def __init__(self, port):
        self.received = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


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
    checker = Checker(contract)
    for p in check_document(contract):
        checker.fail(p)
    routes, problems = server_routes(args.source_dir)
    route_exists = lambda method, path: any(m == method and re.fullmatch(r, path) for m, r in routes)
    http_publish = route_exists("POST", "/api/v1/events")
    long_poll = route_exists("GET", "/api/v1/updates")
    config_keys = subprocess.run([args.broker, "--help-config"], stdout=subprocess.PIPE, timeout=60).stdout.decode()
    webhooks = re.search(r"^webhook\.url$", config_keys, re.M) is not None
    served = {"POST /api/v1/events": http_publish, "GET /api/v1/updates": long_poll, "webhooks": webhooks,
              "Stats.webhook_backlog": webhooks}
    skipped = set()
    for part in sorted(AWAITED):
        if served[part]:
            checker.fail("%s is served now: remove it from AWAITED in %s" % (part, os.path.basename(__file__)))
        else:
            skipped.add(part)
            print("AWAITED, skipped: %s" % part)
    if "Stats.webhook_backlog" in skipped:
        contract.doc["components"]["schemas"]["Stats"]["required"].remove("webhook_backlog")
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
        a = Broker(args.broker, ports, "open", yaml_extra=webhook_yaml,
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
    finally:
        for c in consumers:
            if c.poll() is None:
                c.terminate()
                c.wait(20)
        for broker in brokers:
            broker.stop()
        webhook.stop()

    checker.coverage(skipped)
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
