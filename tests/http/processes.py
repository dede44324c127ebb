"""Brokers and HTTP for the tests of tests/http: free ports, a yilian-broker process with its own
directory and configuration, one HTTP request per connection (or raw bytes), and a local receiver
of webhook POSTs. Used by openapi_test.py."""

import http.client
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

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


class Broker:
    """One yilian-broker process with its own directory, ports and configuration."""

    def __init__(self, binary, ports, name, yaml_extra="", files=None):
        self.name = name
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
