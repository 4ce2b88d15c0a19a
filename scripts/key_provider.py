#!/usr/bin/env python3
"""A loopback provider that takes API keys and basic credentials, for credential checks.

The local-only catalog providers `key-mock` and `basic-mock` send their verification
requests here (see `verify` in shared/catalog/providers.json):

    GET /v1/workspaces/<ws>/me   Authorization: Bearer <key>; 200 for an accepted key, else 401
    GET /v1/me                   Authorization: Basic; 200 for demo / demo-password, else 401

    POST /oauth/token            the OAuth 2.0 client-credentials grant (RFC 6749 §4.4), the
                                 client by HTTP Basic or in the form: a token for an accepted
                                 client, else 401 invalid_client (oidc-provider-mock has no
                                 such grant)

Accepted: the key `lg_valid_key_123` (and any key starting `lg_valid_`), the user `demo` with
`demo-password`, clients `lg_client_…` with the secret `lg-client-secret`. Tests arm faults per credential (the key, or the basic user name), so each
test's provider misbehaves for it alone, and read back the calls made with it:

    POST   /_faults        {"credential", "mode": "slow"|"status"|"redirect", "seconds"?, "status"?}
    DELETE /_faults/<credential>
    GET    /_calls/<credential>   the checks seen with it, oldest first (method, path, scheme)
"""

import argparse
import base64
import json
import secrets
import threading
import urllib.parse
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
FAULTS = {}  # credential -> fault
CALLS = {}  # credential -> calls
BASIC_USERS = {"demo": "demo-password"}


def client_accepted(client_id, secret):
    return client_id.startswith("lg_client_") and secret == "lg-client-secret"


def key_accepted(key):
    return key == "lg_valid_key_123" or key.startswith("lg_valid_")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def answer(self, status, body=None, headers=()):
        raw = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def credential(self):
        """(scheme, credential, verdict) from the Authorization header."""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            key = auth[7:]
            return "bearer", key, key_accepted(key)
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return "basic", "", False
            return "basic", user, BASIC_USERS.get(user) == password
        return "none", "", False

    def check(self, scheme_wanted):
        scheme, credential, ok = self.credential()
        with LOCK:
            CALLS.setdefault(credential, []).append(
                {"method": self.command, "path": self.path, "scheme": scheme,
                 "user_agent": self.headers.get("User-Agent", "")})
            fault = FAULTS.get(credential)
        if fault:
            mode = fault.get("mode")
            if mode == "slow":
                time.sleep(float(fault.get("seconds", 5)))
            elif mode == "status":
                return self.answer(int(fault.get("status", 500)), {"error": "armed fault"})
            elif mode == "redirect":
                return self.answer(302, {}, [("Location", "http://127.0.0.1:9402/v1/elsewhere")])
        if scheme != scheme_wanted or not ok:
            return self.answer(401, {"error": "unauthorized"})
        return self.answer(200, {"ok": True})

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts == ["_health"]:
            return self.answer(200, {"ok": True})
        if len(parts) == 2 and parts[0] == "_calls":
            with LOCK:
                return self.answer(200, CALLS.get(parts[1], []))
        if parts == ["v1", "me"]:
            return self.check("basic")
        if len(parts) == 4 and parts[:2] == ["v1", "workspaces"] and parts[3] == "me":
            return self.check("bearer")
        return self.answer(404, {"error": "not found"})

    do_HEAD = do_GET

    def token(self, body):
        """The client-credentials grant: the client from HTTP Basic or the form."""
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        first = lambda name: (form.get(name) or [""])[0]
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                raw_id, _, raw_secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                raw_id, raw_secret = "", ""
            client_id = urllib.parse.unquote_plus(raw_id)
            secret = urllib.parse.unquote_plus(raw_secret)
            client_auth = "basic"
        else:
            client_id, secret = first("client_id"), first("client_secret")
            client_auth = "post" if secret else "none"
        with LOCK:
            CALLS.setdefault(client_id, []).append(
                {"method": "POST", "path": self.path, "grant_type": first("grant_type"),
                 "client_auth": client_auth, "scope": first("scope") or None})
            fault = FAULTS.get(client_id)
        if fault and fault.get("mode") == "status":
            return self.answer(int(fault.get("status", 500)), {"error": "temporarily_unavailable"})
        if first("grant_type") != "client_credentials":
            return self.answer(400, {"error": "unsupported_grant_type"})
        if not client_accepted(client_id, secret):
            return self.answer(401, {"error": "invalid_client"})
        answer = {"access_token": f"cc-{secrets.token_hex(12)}", "token_type": "Bearer",
                  "expires_in": 3600}
        if first("scope"):
            answer["scope"] = first("scope")
        return self.answer(200, answer)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/oauth/token":
            return self.token(body)
        if self.path == "/_faults":
            fault = json.loads(body or b"{}")
            with LOCK:
                FAULTS[fault["credential"]] = fault
            return self.answer(200, fault)
        return self.do_GET()

    def do_DELETE(self):
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "_faults":
            with LOCK:
                FAULTS.pop(parts[1], None)
            return self.answer(200, {})
        return self.answer(404, {"error": "not found"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=9402)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
