#!/usr/bin/env python3
"""The local stand-in for API Gateway's HTTP API: routes from template.yaml, payload format
2.0 events, functions invoked through the local Lambda service's Invoke API.

As API Gateway does: a body that is not UTF-8 text goes base64-encoded, a request no route
takes goes to the `$default` route, a body over 10 MB is a 413, a function that fails (an
error, a timeout, a response Lambda refuses, a throttle, an event over Lambda's 6 MB) is
`500 {"message":"Internal Server Error"}`, and an integration that takes more than 30 s is
`503 {"message":"Service Unavailable"}` (the function itself runs on to its own timeout).
Callers are never refused a connection: the listen backlog takes a burst of 1,024.

    api_gateway.py --port 9000 --lambda-url http://127.0.0.1:9010
"""

import argparse
import base64
import json
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack  # noqa: E402  (the template reader)

# API Gateway's own limits and answers (HTTP API quotas: 10 MB payload, 30 s integration).
MAX_BODY = 10 * 1024 * 1024
TIMEOUT_SECONDS = 30
BACKLOG = 1024
TEXT_TYPES = re.compile(
    r"^(text/|application/(json|[\w.+-]+\+json|x-www-form-urlencoded|xml|javascript)\b)", re.I
)


def gateway_answer(status, message):
    return status, {"content-type": "application/json"}, [], json.dumps({"message": message}).encode()


class Routes:
    """The template's routes: exact (literal) paths win over parameters, as in API Gateway."""

    def __init__(self, template):
        self.table = []
        self.default = None
        for method, path, function in stack.routes(template):
            if path == stack.DEFAULT_ROUTE:
                self.default = function
                continue
            segments = path.strip("/").split("/")
            params = sum(1 for s in segments if s.startswith("{"))
            self.table.append((params, method, path, segments, function))
        self.table.sort(key=lambda r: r[0])

    def match(self, method, path):
        """(route key, function, path parameters), or None."""
        got = path.strip("/").split("/") if path != "/" else [""]
        if path != "/" and (path.endswith("/") or "//" in path):
            got = None  # API Gateway does not match a route with empty segments
        for _, m, template_path, want, function in self.table if got else ():
            if m != method or len(want) != len(got):
                continue
            params = {}
            for w, g in zip(want, got):
                if w.startswith("{") and w.endswith("}"):
                    params[w[1:-1]] = urllib.parse.unquote(g)
                elif w != g:
                    break
            else:
                return f"{m} {template_path}", function, params
        if self.default:
            return stack.DEFAULT_ROUTE, self.default, {}
        return None


def event_for(method, target, headers, body, client_ip, route_key, params, request_id):
    """The payload format 2.0 event API Gateway builds for this request."""
    parsed = urllib.parse.urlsplit(target)
    raw_path = parsed.path
    lowered = {}
    for name, value in headers.items():
        name = name.lower()
        lowered[name] = f"{lowered[name]},{value}" if name in lowered else value
    cookies = lowered.pop("cookie", None)
    query = {}
    for k, v in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": parsed.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "localhost").split(":")[0],
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": urllib.parse.unquote(raw_path),
                "protocol": "HTTP/1.1",
                "sourceIp": client_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = [c.strip() for c in cookies.split(";") if c.strip()]
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body:
        text = None
        if TEXT_TYPES.match(lowered.get("content-type", "")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                pass
        if text is None:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def invoke(lambda_url, function, event, timeout):
    """(status, headers, cookies, body) from the function's response, as API Gateway answers."""
    try:
        raw = stack.invoke_function(function, json.dumps(event), timeout, lambda_url)
    except (stack.FunctionError, urllib.error.HTTPError) as e:
        # the function failed or Lambda refused; API Gateway's log says why, so does ours
        print(f"[gateway] {function}: 500, {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return gateway_answer(500, "Internal Server Error")
    except (TimeoutError, urllib.error.URLError) as e:
        if isinstance(e, urllib.error.URLError) and not isinstance(e.reason, TimeoutError):
            print(f"[gateway] {function}: 500, Lambda unreachable: {e}", file=sys.stderr, flush=True)
            return gateway_answer(500, "Internal Server Error")
        print(f"[gateway] {function}: 503, the integration timed out", file=sys.stderr, flush=True)
        return gateway_answer(503, "Service Unavailable")
    try:
        resp = json.loads(raw)
        status = int(resp["statusCode"])
    except (ValueError, KeyError, TypeError):
        return gateway_answer(500, "Internal Server Error")
    headers = {k.lower(): str(v) for k, v in (resp.get("headers") or {}).items()}
    for k, values in (resp.get("multiValueHeaders") or {}).items():
        headers[k.lower()] = ",".join(values)
    body = resp.get("body") or ""
    body = base64.b64decode(body) if resp.get("isBase64Encoded") else body.encode()
    return status, headers, list(resp.get("cookies") or []), body


class Gateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "linkgate-local-gateway"
    routes: Routes
    lambda_url: str
    timeout: float = TIMEOUT_SECONDS
    # One JSON line per answered request ({"route", "status"}): which documented statuses the
    # test suites reached (scripts/status_coverage.py).
    record = None
    record_lock = threading.Lock()

    def handle_one_request(self):
        # Any method at all: API Gateway hands unknown ones to the $default route too.
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self.serve()
            self.wfile.flush()
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    def read_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks, size = [], 0
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                size += n
                if size > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(n))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            # read it all the same, so the caller gets the 413 rather than a broken pipe
            while length > 0:
                length -= len(self.rfile.read(min(length, 1 << 20)) or b"\0" * length)
            return None
        return self.rfile.read(length) if length else b""

    def serve(self):
        request_id = base64.b64encode(secrets.token_bytes(12)).decode()
        body = self.read_body()
        if body is None:
            self.close_connection = True
            answer = gateway_answer(413, "Request Entity Too Large")
        else:
            path = urllib.parse.urlsplit(self.path).path or "/"
            found = self.routes.match(self.command, path)
            route_key = None
            if found is None:
                answer = gateway_answer(404, "Not Found")
            else:
                route_key, function, params = found
                event = event_for(self.command, self.path, self.headers, body,
                                  self.client_address[0], route_key, params, request_id)
                answer = invoke(self.lambda_url, function, event, self.timeout)
        status, headers, cookies, payload = answer
        if self.record and body is not None:
            line = json.dumps({"route": route_key, "method": self.command, "status": status})
            with self.record_lock, open(self.record, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        self.send_response_only(status)
        for name, value in headers.items():
            if name not in ("content-length", "connection", "transfer-encoding", "date"):
                self.send_header(name, value)
        for cookie in cookies:
            self.send_header("set-cookie", cookie)
        self.send_header("apigw-requestid", request_id)
        self.send_header("date", formatdate(usegmt=True))
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_request(self, code="-", size="-"):
        # as the template's access log: the path, never the query (it carries link tokens)
        path = urllib.parse.urlsplit(self.path).path
        sys.stderr.write(f"[gateway] {self.address_string()} {self.command} {path} {code}\n")

    def log_message(self, fmt, *args):
        sys.stderr.write(f"[gateway] {self.address_string()} {fmt % args}\n")


class Server(ThreadingHTTPServer):
    # Python's default backlog of 5 reset callers in a burst; API Gateway never does.
    request_queue_size = BACKLOG
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=stack.HOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-url", required=True, help="cargo lambda watch's address")
    parser.add_argument("--record", help="append each answer's route and status to this file")
    parser.add_argument("--template", default=str(stack.TEMPLATE))
    parser.add_argument("--integration-timeout", type=float, default=TIMEOUT_SECONDS,
                        help="seconds before a function's answer is given up on (API Gateway: 30)")
    args = parser.parse_args()
    Gateway.record = args.record
    Gateway.routes = Routes(stack.load_template(args.template))
    Gateway.lambda_url = args.lambda_url.rstrip("/")
    Gateway.timeout = args.integration_timeout
    server = Server((args.host, args.port), Gateway)
    server.serve_forever()


if __name__ == "__main__":
    main()
