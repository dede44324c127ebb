"""docs/openapi.yaml as the tests read it: the document, its static checks, the routes of
broker/http/http_server.cc compared with its paths, and the check of one answer against it.
Used by openapi_test.py."""

import copy
import os
import re
import urllib.parse

import jsonschema
import yaml

from processes import raw_request, request

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

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


class Checker:
    def __init__(self, contract, tables):
        self.contract = contract
        self.tables = tables  # HttpApiTables of docs/http-api.md
        self.failures = []
        self.seen = {}  # (METHOD, template) -> set of statuses
        self.errors_seen = set()  # (status, code) of the error answers
        self.metrics_seen = {}  # name -> type, of every /metrics scraped

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
            self.check_error_code(label, r.status, body)
        else:
            body = r.body.decode("utf-8")
        for e in self.contract.validate(schema, body):
            self.fail("%s: %s" % (label, e))

    def check_error_code(self, label, status, body):
        """An error answer's status and code must be a row of docs/http-api.md section 5."""
        if status < 400 or not isinstance(body, dict) or "code" not in body:
            return
        self.errors_seen.add((status, body["code"]))
        if (status, body["code"]) not in self.tables.errors:
            self.fail("%s: %d %s is not a row of the error table of docs/http-api.md section 5"
                      % (label, status, body["code"]))

    def check_metrics(self, label, exposition):
        """Every family /metrics declares must be in docs/http-api.md's Metrics table, with its type."""
        for name, kind in metric_families(exposition).items():
            self.metrics_seen[name] = kind
            documented = self.tables.metrics.get(name)
            if documented is None:
                self.fail("%s: metric %s (%s) is not in the Metrics table of docs/http-api.md" % (label, name, kind))
            elif documented != kind:
                self.fail("%s: metric %s is a %s; docs/http-api.md says %s" % (label, name, kind, documented))

    def table_coverage(self):
        """What of docs/http-api.md's tables the test saw (the rest is listed, not failed: a family with
        labels appears only once it has a sample, and some errors cannot be provoked from outside)."""
        print("error table rows answered: %s" % ", ".join("%d %s" % e for e in sorted(self.errors_seen)))
        print("error table rows not provoked: %s" %
              (", ".join("%d %s" % e for e in sorted(self.tables.errors - self.errors_seen)) or "-"))
        print("metrics exposed and documented: %d of %d; not exposed by these brokers: %s" %
              (len(self.metrics_seen), len(self.tables.metrics),
               ", ".join(sorted(set(self.tables.metrics) - set(self.metrics_seen))) or "-"))
        if not self.metrics_seen:
            self.fail("no /metrics answer was checked against docs/http-api.md")
        if not self.errors_seen:
            self.fail("no error answer was checked against docs/http-api.md section 5")

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


class HttpApiTables:
    """The two tables of docs/http-api.md that the broker's answers are held to: section 5's errors
    (HTTP status and `code`) and the Metrics table (name and type)."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.errors = set()  # (status, code)
        self.metrics = {}  # name -> type
        self.problems = []
        errors = self.section(text, "## 5. Errors")
        metrics = self.section(text, "## Metrics")
        for cells in self.rows(errors):
            status, code = cells[0], cells[1].strip("`")
            if not re.fullmatch(r"[1-5]\d\d", status) or not re.fullmatch(r"[A-Z_]+", code):
                self.problems.append("docs/http-api.md section 5: cannot read the row %s" % " | ".join(cells))
                continue
            self.errors.add((int(status), code))
        for cells in self.rows(metrics):
            name, kind = cells[0].strip("`"), cells[1]
            if not re.fullmatch(r"yilian_[a-z_]+", name) or kind not in ("counter", "gauge", "histogram"):
                self.problems.append("docs/http-api.md Metrics: cannot read the row %s" % " | ".join(cells))
                continue
            self.metrics[name] = kind
        if not self.errors:
            self.problems.append("docs/http-api.md: no error table found in section 5")
        if not self.metrics:
            self.problems.append("docs/http-api.md: no metrics table found")

    @staticmethod
    def section(text, heading):
        start = text.find("\n" + heading + "\n")
        if start < 0:
            return ""
        end = text.find("\n## ", start + len(heading) + 2)
        return text[start:end if end >= 0 else len(text)]

    @staticmethod
    def rows(section):
        """The body rows of the section's first table, as lists of cells."""
        rows, in_table = [], False
        for line in section.splitlines():
            if line.startswith("|"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if in_table and not all(re.fullmatch(r":?-+:?", c) for c in cells):
                    rows.append(cells)
                in_table = True
            elif in_table:
                break
        return rows[1:] if rows and rows[0][0] in ("HTTP", "metric") else rows


def metric_families(exposition):
    """name -> type of every family a Prometheus text exposition declares with # TYPE."""
    families = {}
    for line in exposition.splitlines():
        m = re.fullmatch(r"# TYPE (\S+) (\S+)", line.strip())
        if m:
            families[m.group(1)] = m.group(2)
    return families
