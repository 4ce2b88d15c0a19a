#!/usr/bin/env python3
"""The local OAuth provider: oidc-provider-mock (PyPI), plus the RFC 7009 token revocation
endpoint it lacks, so revoking a connection is tested against a provider that really forgets
the grant.

    POST /oauth2/revoke   token=…&token_type_hint=refresh_token|access_token
                          client authentication: HTTP Basic, or client_id in the body

Revoking a refresh token ends its grant (RFC 7009 §2.1's SHOULD): every refresh token of
that client and user, and the user's access tokens (the mock does not record which client an
access token went to; each test signs in as its own user). Only the client a refresh token
was issued to may revoke it. An unknown token is no error (RFC 7009 §2.2). Everything else is the mock,
unchanged, with the options of its command line that the stack uses.
"""

import argparse
import base64
import logging
import os
import sys
import urllib.parse
from datetime import timedelta

import flask
import oidc_provider_mock
import uvicorn


def client_of(request):
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            return urllib.parse.unquote_plus(user)
        except ValueError:
            return None
    return request.form.get("client_id") or None


def error(status, code):
    return flask.jsonify({"error": code}), status


def revoke():
    storage = flask.g.oidc_provider_mock_storage
    client = client_of(flask.request)
    if not client:
        return error(401, "invalid_client")
    token = flask.request.form.get("token")
    if not token:
        return error(400, "invalid_request")
    hint = flask.request.form.get("token_type_hint")
    if hint not in (None, "", "refresh_token", "access_token"):
        return error(400, "unsupported_token_type")
    refresh = storage.get_refresh_token(token)
    if refresh is not None:
        if refresh.client_id != client:
            return error(400, "invalid_grant")
        for other in list(storage.refresh_tokens()):
            if other.client_id == client and other.user_id == refresh.user_id:
                storage.remove_refresh_token(other.token)
        for access in list(storage.access_tokens()):
            if access.user_id == refresh.user_id:
                storage.remove_access_token(access.token)
    elif storage.get_access_token(token) is not None:
        storage.remove_access_token(token)
    return "", 200


def build(token_max_age):
    app = oidc_provider_mock.app(access_token_max_age=timedelta(seconds=token_max_age))
    app.add_url_rule("/oauth2/revoke", "revoke", revoke, methods=["POST"])
    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=9400)
    parser.add_argument("--token-max-age", type=int, default=3600)
    args = parser.parse_args()
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    uvicorn.run(build(args.token_max_age), interface="wsgi", host=args.host, port=args.port,
                log_config=None)


if __name__ == "__main__":
    main()
