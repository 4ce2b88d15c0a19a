#!/usr/bin/env python3
"""A fault-injecting proxy in front of the local OAuth provider's token endpoint.

The local-only catalog provider `oidc-mock` sends its token calls here; by default they are
forwarded unchanged to oidc-provider-mock. Tests arm faults per OAuth client id (every test
tenant registers its own), so they can make the provider slow, down, busy or refusing for
their connection alone, and read back what our functions sent (grant type, PKCE verifier):

    POST   /_faults           {"client_id", "mode": "status"|"down"|"slow", "status"?,
                               "body"?, "retry_after"?, "seconds"?, "times"?}
    DELETE /_faults/<client>  disarm
    GET    /_calls/<client>   the token calls seen, oldest first
"""

import argparse
import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
FAULTS = {}  # client id -> list of armed faults, used in order
CALLS = {}  # client id -> list of calls


def client_of(headers, form):
    auth = headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            return urllib.parse.unquote_plus(user)
        except ValueError:
            pass
    return form.get("client_id", [""])[0]


def next_fault(client):
    with LOCK:
        armed = FAULTS.get(client) or []
        if not armed:
            return None
        fault = armed[0]
        if fault.get("times") is not None:
            fault["times"] -= 1
            if fault["times"] <= 0:
                armed.pop(0)
        return fault


class Handler(BaseHTTPRequestHandler):
    upstream = "http://127.0.0.1:9400"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, payload, content_type="application/json", extra=None):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/_calls/"):
            client = urllib.parse.unquote(self.path[len("/_calls/"):])
            with LOCK:
                return self.reply(200, CALLS.get(client, []))
        self.reply(404, {"error": "not_found"})

    def do_DELETE(self):
        if self.path.startswith("/_faults/"):
            client = urllib.parse.unquote(self.path[len("/_faults/"):])
            with LOCK:
                FAULTS.pop(client, None)
            return self.reply(200, {"ok": True})
        self.reply(404, {"error": "not_found"})

    def do_POST(self):
        raw = self.body()
        if self.path == "/_faults":
            fault = json.loads(raw)
            with LOCK:
                FAULTS.setdefault(fault["client_id"], []).append(fault)
            return self.reply(200, {"ok": True})
        form = urllib.parse.parse_qs(raw.decode(errors="replace"))
        client = client_of(self.headers, form)
        with LOCK:
            CALLS.setdefault(client, []).append({
                "path": self.path,
                "grant_type": form.get("grant_type", [""])[0],
                "code_verifier": form.get("code_verifier", [None])[0],
                "redirect_uri": form.get("redirect_uri", [None])[0],
                # how the client authenticated: HTTP Basic, or its secret in the form
                "client_auth": "basic" if self.headers.get("Authorization", "").startswith("Basic ")
                else ("post" if "client_secret" in form else "none"),
                "at": time.time(),
            })
        fault = next_fault(client)
        if fault:
            mode = fault["mode"]
            if mode == "down":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if mode == "slow":
                time.sleep(float(fault.get("seconds", 5)))
            elif mode == "status":
                extra = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
                return self.reply(int(fault["status"]), fault.get("body", {"error": "temporarily_unavailable"}), extra=extra)
        request = urllib.request.Request(
            self.upstream + self.path, data=raw, method="POST",
            headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                self.reply(r.status, r.read(), r.headers.get("Content-Type", "application/json"))
        except urllib.error.HTTPError as e:
            self.reply(e.code, e.read(), e.headers.get("Content-Type", "application/json"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9401)
    parser.add_argument("--upstream", default="http://127.0.0.1:9400")
    args = parser.parse_args()
    Handler.upstream = args.upstream
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
