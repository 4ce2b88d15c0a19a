"""What the dialect tests share: the running local stack (`stack.py up`, facts in
target/dev/dev.json), a fresh tenant from the admin CLI, and plain HTTP to our native API."""

import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def facts():
    return json.loads((ROOT / "target" / "dev" / "dev.json").read_text())


def admin_cli(*args):
    env = {**os.environ, **facts()["function_env"]}
    out = subprocess.run(
        [str(ROOT / "target" / "debug" / "linkgate-admin"), *args],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(method, url, body=None, headers=None, form=None):
    """One request, redirects not followed: the status, headers and body as they came."""
    data, hdrs = None, dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("content-type", "application/json")
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["content-type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with OPENER.open(req, timeout=30) as r:
            return Reply(r.status, dict(r.headers), r.read().decode())
    except urllib.error.HTTPError as e:
        return Reply(e.code, dict(e.headers), e.read().decode())


class Tenant:
    """A new tenant with an admin key, and our API as it answers it."""

    def __init__(self, name):
        seeded = admin_cli("seed-demo", "--name", name)
        self.id = seeded["tenant"]["id"]
        self.key_id = seeded["api_key"]["id"]
        self.key = seeded["api_key"]["secret"]
        self.base = facts()["api_base_url"]

    def uuid(self, prefixed):
        """Our id `ten_0193…` as the UUID other APIs name it by."""
        h = prefixed.split("_", 1)[1]
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def api(self, method, path, body=None):
        return http(method, self.base + path, body, {"authorization": f"Bearer {self.key}"})

    def backdate_link(self, link_id):
        """Moves a link's expiry into the past (moto never deletes expired TTL items, and
        expiry is read from `expires_at` anyway)."""
        import boto3

        f = facts()
        ddb = boto3.client(
            "dynamodb", endpoint_url=f["aws_endpoint_url"], region_name=f["region"],
            aws_access_key_id="test", aws_secret_access_key="test",
        )
        ddb.update_item(
            TableName=f["table"],
            Key={"pk": {"S": f"LINK#{link_id}"}, "sk": {"S": "LINK"}},
            UpdateExpression="SET expires_at = :past",
            ExpressionAttributeValues={":past": {"S": "2020-01-01T00:00:00.000Z"}},
        )
