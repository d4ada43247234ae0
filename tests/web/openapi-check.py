#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# docs/openapi.yaml against a real dfusd-web (and behind it a real dfusd with simulated boards): every
# operation's success and error paths are sent, and each response's status, content type, headers and
# body are validated against the operation in the spec (JSON Schema 2020-12). Coverage both ways: every
# path and method of the spec was sent, and every route of web/'s route tables is in the spec.
#
# Usage: openapi-check.py URL SPEC WEB-SOURCE-DIR IMAGE OPERATOR ADMIN VIEWER
# Run by test-web (/web/openapi), which owns dfusd: a line "stop-dfusd" on stdout asks it to stop
# dfusd, and it answers "stopped" on stdin. Everything else goes to stderr.
import csv
import http.client
import io
import json
import re
import socket
import sys
import time
import urllib.parse

import jsonschema
import yaml

url, spec_path, web_dir, image_path, OPERATOR, ADMIN, VIEWER = sys.argv[1:8]
host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
with open(spec_path) as f:
    spec = yaml.safe_load(f)
with open(image_path, "rb") as f:
    IMAGE = f.read()

SPEC_URI = "urn:dfusd-openapi"
try:  # jsonschema >= 4.18 resolves through referencing; Debian's older one through RefResolver
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    _registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))

    def validator(pointer):
        return jsonschema.Draft202012Validator({"$ref": SPEC_URI + "#" + pointer}, registry=_registry)
except ImportError:
    _resolver = jsonschema.RefResolver(SPEC_URI, spec)

    def validator(pointer):
        return jsonschema.Draft202012Validator({"$ref": SPEC_URI + "#" + pointer}, resolver=_resolver)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def escape(key):
    return str(key).replace("~", "~0").replace("/", "~1")


def deref(node, pointer):
    """Follows OpenAPI's own $ref (responses, parameters, headers) within the document."""
    while isinstance(node, dict) and set(node) == {"$ref"}:
        pointer = node["$ref"][1:]
        node = spec
        for part in pointer.split("/")[1:]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, pointer


exercised = set()  # (path template, method, status)


def check(template, method, status, ctype, headers, body):
    """Validates one response against the spec's operation (template, method); returns the JSON body
    (or the text)."""
    op = spec["paths"][template][method.lower()]
    op_pointer = f"/paths/{escape(template)}/{method.lower()}"
    responses = op["responses"]
    where = f"{method} {template} -> {status}"
    assert str(status) in responses, f"{where}: status not in the spec ({body[:300]!r})"
    resp, resp_pointer = deref(responses[str(status)], f"{op_pointer}/responses/{status}")
    for name, h in resp.get("headers", {}).items():
        h, h_pointer = deref(h, f"{resp_pointer}/headers/{escape(name)}")
        value = headers.get(name.lower())
        if h.get("required"):
            assert value is not None, f"{where}: no {name} header"
        if value is not None:
            validator(h_pointer + "/schema").validate(value)
    media = (ctype or "").split(";")[0].strip()
    content = resp.get("content", {})
    assert media in content, f"{where}: content type {ctype!r} is not one of {list(content)}"
    schema_pointer = f"{resp_pointer}/content/{escape(media)}/schema"
    if media == "application/json":
        doc = json.loads(body)
    else:
        doc = body.decode("utf-8", errors="replace")
    errors = sorted(validator(schema_pointer).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        raise AssertionError(f"{where}: the body does not match the spec:\n"
                             + "\n".join(f"  at {list(e.absolute_path)}: {e.message}" for e in errors[:10])
                             + f"\n  body: {body[:600]!r}")
    exercised.add((template, method, status))
    return doc


def request(method, template, path=None, token=None, headers=None, body=None, expect=None, as_op=None):
    """Sends one request; the response is checked against the operation (template, as_op or method)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    conn.request(method, path or template, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    if expect is not None and r.status != expect:
        raise AssertionError(f"{method} {path or template}: {r.status}, expected {expect}: {data[:400]!r}")
    doc = check(template, as_op or method, r.status, hdrs.get("content-type"), hdrs, data)
    return r.status, hdrs, doc


def raw(template, method, text, expect):
    """A request as bytes on the wire (paths urllib would tidy, a body that is never sent)."""
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(text)
        r = http.client.HTTPResponse(s)
        r.begin()
        data = r.read(int(r.getheader("Content-Length", "0")))
    assert r.status == expect, f"{text[:60]!r}: {r.status}, expected {expect}"
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    return check(template, method, r.status, hdrs.get("content-type"), hdrs, data)


def multipart(images, options, boundary="openapiBoundary"):
    body = b""
    for img in images:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"app.hex\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + img + b"\r\n"
    if options is not None:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n").encode()
        body += options.encode() + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return {"Content-Type": "multipart/form-data; boundary=" + boundary}, body


def post(template, token, options, images=(IMAGE,), expect=None):
    headers, body = multipart(list(images), options)
    return request("POST", template, token=token, headers=headers, body=body, expect=expect)


def wait_job(jid, states=("done", "failed", "cancelled")):
    for _ in range(3000):
        _, _, job = request("GET", "/api/v1/jobs/{id}", f"/api/v1/jobs/{jid}", expect=200)
        if job["state"] in states:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {jid} did not reach {states}")


def events_snapshot(path, token=None, expect=200):
    """Opens the event stream, reads its first event; the snapshot's data must be a Snapshot."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    h = {"Accept": "text/event-stream"}
    if token:
        h["Authorization"] = "Bearer " + token
    conn.request("GET", path, headers=h)
    r = conn.getresponse()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    assert r.status == expect, f"events: {r.status}, expected {expect}"
    if r.status != 200:
        data = r.read()
        conn.close()
        return check("/api/v1/events", "GET", r.status, hdrs.get("content-type"), hdrs, data)
    lines = []  # up to the end of the first event (a "retry:" line may come on its own before)
    while True:
        line = r.readline().decode().rstrip("\r\n")
        if not line and any(x.startswith("event: ") for x in lines):
            break
        if line:
            lines.append(line)
    conn.close()
    check("/api/v1/events", "GET", 200, hdrs.get("content-type"), hdrs, "\n".join(lines).encode())
    fields = dict(line.split(": ", 1) for line in lines if not line.startswith(":") and ": " in line)
    assert fields.get("event") == "snapshot", lines
    validator("/components/schemas/Snapshot").validate(json.loads(fields["data"]))
    return fields


def server_routes():
    """What web/ answers, from its route tables: (path template, method)."""
    routes = set()
    with open(f"{web_dir}/routes-api.c") as f:
        table = f.read().split("api_routes[] = {", 1)[1].split("};", 1)[0]
    for method, path in re.findall(r'\{"(GET|POST|DELETE)", +"([^"]+)",', table):
        routes.add(("/api/v1/" + path, method))
    with open(f"{web_dir}/routes-static.c") as f:
        text = f.read()
    pages = text.split("pages[] = {", 1)[1].split("};", 1)[0]
    for path in re.findall(r'\{"(/[^"]*)", "[^"]+"\}', pages):
        routes.add((path, "GET"))
    if '"/static/"' in text:
        routes.add(("/static/{file}", "GET"))
    with open(f"{web_dir}/http.c") as f:
        dispatch = f.read().split("static enum MHD_Result dispatch(", 1)[1].split("\n}\n", 1)[0]
    for path in re.findall(r'streq\(url, "(/[^"]+)"\)', dispatch):
        routes.add((path, "GET"))
    assert len(routes) > 10, routes
    return routes


def main():
    # the spec's schemas are schemas at all (a typo in a keyword's value would otherwise pass silently)
    for name, schema in spec["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
    log("routes:", sorted(server_routes()))
    # -- reads, and who may read
    _, _, devices = request("GET", "/api/v1/devices", expect=200)
    assert [d["port"] for d in devices["devices"]] == ["1-1", "1-2"], devices
    request("GET", "/api/v1/devices", token=VIEWER, expect=200)
    request("GET", "/api/v1/devices", token="not-a-token", expect=401)
    request("PUT", "/api/v1/devices", as_op="GET", expect=405)
    request("DELETE", "/api/v1/devices", as_op="GET", expect=405)
    request("DELETE", "/api/v1/jobs", as_op="GET", expect=405)
    request("DELETE", "/api/v1/rules", as_op="GET", expect=405)
    request("GET", "/api/v1/jobs", expect=200)
    request("GET", "/api/v1/jobs", token="nope", expect=401)
    request("GET", "/api/v1/rules", expect=200)
    request("GET", "/api/v1/rules", token="nope", expect=401)

    # -- a job: 201 with Location, flashed, kept with its origin
    _, hdrs, job = post("/api/v1/jobs", OPERATOR, json.dumps({"port": "1-1", "leave": False}), expect=201)
    assert hdrs["location"] == f"/api/v1/jobs/{job['id']}", hdrs
    assert job["origin"] == "web:mes", job
    done = wait_job(job["id"])
    assert done["state"] == "done", done
    request("GET", "/api/v1/jobs/{id}", f"/api/v1/jobs/{job['id']}", token=VIEWER, expect=200)
    request("GET", "/api/v1/jobs/{id}", "/api/v1/jobs/999", expect=404)
    request("GET", "/api/v1/jobs/{id}", "/api/v1/jobs/x", expect=404)
    request("GET", "/api/v1/jobs/{id}", "/api/v1/jobs/1", token="nope", expect=401)

    # -- the ways a submission is refused
    post("/api/v1/jobs", VIEWER, "{}", expect=403)
    post("/api/v1/jobs", None, "{}", expect=403)
    post("/api/v1/jobs", "nope", "{}", expect=401)
    _, _, e = post("/api/v1/jobs", OPERATOR, json.dumps({"port": "1-1", "frobnicate": True}), expect=400)
    assert "frobnicate" in e["message"], e
    post("/api/v1/jobs", OPERATOR, '{"port": ', expect=400)
    post("/api/v1/jobs", OPERATOR, json.dumps({"origin": "me"}), expect=400)
    request("POST", "/api/v1/jobs", token=OPERATOR,
            headers={"Content-Type": "multipart/form-data; boundary=B"},
            body=b"--B\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc", expect=400)
    request("POST", "/api/v1/jobs", token=OPERATOR, headers={"Content-Type": "application/json"},
            body=b"{}", expect=415)
    post("/api/v1/jobs", OPERATOR, "{}", images=[bytes(100 * 1024)], expect=413)
    raw("/api/v1/jobs", "POST",
        b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + OPERATOR.encode()
        + b"\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 900000000\r\n\r\n--B\r\n",
        413)
    _, _, e = post("/api/v1/jobs", OPERATOR, json.dumps({"port": "1-1"}), images=[b":junk\n"], expect=422)
    log("422:", e["message"])
    post("/api/v1/jobs", OPERATOR, json.dumps({"port": "9-9"}), expect=409)
    # MaxQueuedJobs=1: a job waiting for an empty station fills the queue, the next one is busy
    _, _, waiting = post("/api/v1/jobs", OPERATOR, json.dumps({"port": "1-9", "wait": True, "part": "f405"}), expect=201)
    _, _, e = post("/api/v1/jobs", OPERATOR, json.dumps({"port": "1-2"}), expect=409)
    assert e["error"] == "busy", e
    jpath = f"/api/v1/jobs/{waiting['id']}"
    request("DELETE", "/api/v1/jobs/{id}", jpath, expect=403)
    request("DELETE", "/api/v1/jobs/{id}", jpath, token=VIEWER, expect=403)
    request("DELETE", "/api/v1/jobs/{id}", jpath, token="nope", expect=401)
    request("DELETE", "/api/v1/jobs/{id}", "/api/v1/jobs/4000", token=OPERATOR, expect=404)
    request("DELETE", "/api/v1/jobs/{id}", jpath, token=OPERATOR, expect=200)
    assert wait_job(waiting["id"])["state"] == "cancelled"
    status, _, e = request("DELETE", "/api/v1/jobs/{id}", jpath, token=OPERATOR)
    assert status == 409, (status, e)

    # -- rules
    rule_opts = json.dumps({"match-port": "1-9"})
    post("/api/v1/rules", OPERATOR, rule_opts, expect=403)
    post("/api/v1/rules", "nope", rule_opts, expect=401)
    post("/api/v1/rules", ADMIN, json.dumps({"match-port": "1-9", "frobnicate": 1}), expect=400)
    request("POST", "/api/v1/rules", token=ADMIN, headers={"Content-Type": "text/plain"}, body=b"x",
            expect=415)
    post("/api/v1/rules", ADMIN, rule_opts, images=[bytes(100 * 1024)], expect=413)
    post("/api/v1/rules", ADMIN, rule_opts, images=[b":junk\n"], expect=422)
    _, hdrs, rule = post("/api/v1/rules", ADMIN, rule_opts, expect=201)
    assert rule["options"]["origin"] == "web:boss", rule
    rpath = hdrs["location"]
    request("GET", "/api/v1/rules/{id}", rpath, expect=200)
    request("GET", "/api/v1/rules/{id}", "/api/v1/rules/77", expect=404)
    request("GET", "/api/v1/rules/{id}", rpath, token="nope", expect=401)
    _, _, rules = request("GET", "/api/v1/rules", expect=200)
    assert [r["id"] for r in rules["rules"]] == [rule["id"]], rules
    request("DELETE", "/api/v1/rules/{id}", rpath, token=OPERATOR, expect=403)
    request("DELETE", "/api/v1/rules/{id}", rpath, token="nope", expect=401)
    request("DELETE", "/api/v1/rules/{id}", rpath, token=ADMIN, expect=200)
    request("DELETE", "/api/v1/rules/{id}", rpath, token=ADMIN, expect=404)

    # -- history: JSON with its cursor, CSV, the origin of the job above in both
    _, _, h = request("GET", "/api/v1/history", expect=200)
    mine = [e for e in h["entries"] if e["id"] == job["id"]]
    assert mine and mine[0]["origin"] == "web:mes" and mine[0]["result"] == "done", h
    _, _, page = request("GET", "/api/v1/history", "/api/v1/history?limit=1", expect=200)
    assert len(page["entries"]) == 1 and "next_before" in page, page
    request("GET", "/api/v1/history",
            f"/api/v1/history?before={page['next_before']}&port=1-1&result=done&since=1"
            "&until=2100-01-01T00:00:00Z", expect=200)
    _, hdrs, text = request("GET", "/api/v1/history", headers={"Accept": "text/csv"}, expect=200)
    rows = list(csv.DictReader(io.StringIO(text, newline=""), strict=True))
    assert any(r["id"] == str(job["id"]) and r["origin"] == "web:mes" for r in rows), rows
    request("GET", "/api/v1/history", "/api/v1/history?format=csv", expect=200)
    request("GET", "/api/v1/history", "/api/v1/history?colour=red", expect=400)
    request("GET", "/api/v1/history", "/api/v1/history?limit=5000", expect=400)
    request("GET", "/api/v1/history", "/api/v1/history?result=maybe", expect=400)
    request("GET", "/api/v1/history", "/api/v1/history?since=yesterday", expect=400)
    request("GET", "/api/v1/history", token="nope", expect=401)

    # -- events, metrics, pages
    events_snapshot("/api/v1/events")
    events_snapshot("/api/v1/events?access_token=" + VIEWER)
    events_snapshot("/api/v1/events?access_token=nope", expect=401)
    request("GET", "/metrics", expect=200)
    request("GET", "/metrics", token="nope", expect=401)
    for page in ["/", "/jobs", "/rules", "/history"]:
        request("GET", page, expect=200)
    request("GET", "/", "/?kiosk", expect=200)
    request("GET", "/static/{file}", "/static/station.js", expect=200)
    request("GET", "/static/{file}", "/static/station.css", expect=200)
    request("GET", "/static/{file}", "/static/.hidden.js", expect=404)
    request("GET", "/static/{file}", "/static/nothing.js", expect=404)
    raw("/static/{file}", "GET", b"GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404)
    raw("/static/{file}", "GET", b"GET /static/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\n\r\n", 404)

    # -- dfusd gone: 503 from what needs it
    print("stop-dfusd", flush=True)
    assert sys.stdin.readline().strip() == "stopped"
    for _ in range(1000):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("GET", "/api/v1/devices")
        if conn.getresponse().status == 503:
            break
        conn.close()
        time.sleep(0.01)
    request("GET", "/api/v1/devices", expect=503)
    request("GET", "/api/v1/jobs", expect=503)
    request("GET", "/api/v1/rules", expect=503)
    request("GET", "/api/v1/history", expect=503)
    post("/api/v1/jobs", OPERATOR, "{}", expect=503)
    post("/api/v1/rules", ADMIN, rule_opts, expect=503)

    # -- coverage, both ways
    in_spec = {(p, m.upper()) for p, ops in spec["paths"].items() for m in ops
               if m in ("get", "post", "put", "delete", "patch", "head")}
    sent = {(p, m) for p, m, _ in exercised}
    assert in_spec - sent == set(), f"in the spec, never sent: {sorted(in_spec - sent)}"
    assert server_routes() - in_spec == set(), f"served, not in the spec: {sorted(server_routes() - in_spec)}"
    log(f"{len(exercised)} (operation, status) pairs checked against {spec_path}")


main()
