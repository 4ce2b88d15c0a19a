#!/usr/bin/env python3
"""Schemathesis against the running local stack (`stack.py up`), from openapi.yaml.

Makes a fresh tenant with the admin CLI, seeds one of everything a path can name (so
operations on `{id}` reach their logic, not only 404), writes a schemathesis config that
draws path ids from those seeds most of the time, runs every phase with every check on a
fixed seed, and fails unless the run passed and sent at least --min-requests requests.

    contract_fuzz.py [--max-examples N] [--seed S] [--min-requests N]

Run by `make test` (and `make contract-test`) with the interpreter of .venv-fuzz.
"""

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "target" / "dev"
OUT = ROOT / "target" / "contract-fuzz"


def facts():
    return json.loads((DEV / "dev.json").read_text())


def admin_cli(*args):
    env = {**os.environ, **facts()["function_env"]}
    out = subprocess.run(
        [str(ROOT / "target" / "debug" / "linkgate-admin"), *args],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


class Api:
    def __init__(self, base, key):
        self.base, self.key = base, key

    def call(self, method, path, body=None, expect=(200, 201, 202)):
        req = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if status not in expect:
            raise SystemExit(f"[contract] seeding {method} {path} answered {status}: {raw[:400]!r}")
        return json.loads(raw) if raw else None


def seed(api):
    """Ids for every path parameter; several of each, since the run deletes some."""
    stripe = api.call("POST", "/v1/integrations", {"provider": "stripe"})["id"]
    oauth = api.call(
        "POST", "/v1/integrations",
        {"provider": "oidc-mock", "client_id": "fuzz-client", "client_secret": "fuzz-secret"},
    )["id"]
    consumers, connections, links, tokens = [], [], [], []
    for i in range(4):
        consumer = api.call("POST", "/v1/consumers", {"name": f"Fuzz customer {i}", "email": f"c{i}@fuzz.example"})
        consumers.append(consumer["id"])
        integration = stripe if i % 2 == 0 else oauth
        made = api.call(
            "POST", f"/v1/consumers/{consumer['id']}/connections",
            {"name": f"Fuzz {i}", "integration_id": integration, "link_ttl_seconds": 3600},
        )
        connections.append(made["connection"]["id"])
        links.append(made["link"]["id"])
        tokens.append(made["link"]["url"].split("token=")[1].split("&")[0])
    active = api.call(
        "POST", "/v1/connections",
        {"name": "Fuzz import", "consumer_id": consumers[0], "integration_id": stripe,
         "credentials": {"secret_key": "rk_test_51Fuzz" + "0" * 20}},
    )
    connections.append(active["id"])
    # A receiver nobody listens on: deliveries fail and stay in the log, retryable.
    webhook = api.call("POST", "/v1/webhooks", {"url": "http://127.0.0.1:9/fuzz", "events": ["connection.created"]})["id"]
    delivery = api.call("POST", f"/v1/webhooks/{webhook}/test", {})
    return {
        "consumer": consumers,
        "connection": connections,
        "link": links,
        "token": tokens,
        "integration": [stripe, oauth, "stripe", "oidc-mock"],
        "webhook": [webhook],
        "delivery": [delivery["id"]],
    }


def config(base, key, seeds, args):
    """schemathesis.toml: every check, a fixed seed, ids drawn from the seeds 80% of the time."""
    def values(name):
        return "[" + ", ".join(json.dumps(v) for v in seeds[name]) + "]"

    bind = {
        "/v1/consumers/{id}": {"path.id": "consumer"},
        "/v1/consumers/{id}/connections": {"path.id": "consumer"},
        "/v1/connections/{id}": {"path.id": "connection"},
        "/v1/connections/{id}/credentials": {"path.id": "connection"},
        "/v1/connections/{id}/links": {"path.id": "connection"},
        "/v1/links/{id}": {"path.id": "link"},
        "/connect/{link_id}": {"path.link_id": "link", "query.token": "token"},
        "/connect/{link_id}/oauth": {"path.link_id": "link", "query.token": "token"},
        "/v1/integrations/{id}": {"path.id": "integration"},
        "/v1/integrations/{id}/logo": {"path.id": "integration"},
        "/v1/integrations/{id}/connect": {"path.id": "integration"},
        "/v1/webhooks/{id}": {"path.id": "webhook"},
        "/v1/webhooks/{id}/rotate-secret": {"path.id": "webhook"},
        "/v1/webhooks/{id}/test": {"path.id": "webhook"},
        "/v1/webhooks/{id}/deliveries": {"path.id": "webhook"},
        "/v1/webhooks/{id}/deliveries/{delivery_id}/retry": {"path.id": "webhook", "path.delivery_id": "delivery"},
    }
    lines = [
        f'base-url = "{base}"',
        f"seed = {args.seed}",
        "workers = 2",
        'headers = { Authorization = "Bearer ' + key + '" }',
        "request-timeout = 30.0",
        f"generation.max-examples = {args.max_examples}",
        "generation.database = \"none\"",
        "checks.enabled = true",
        "",
        "[reports]",
        f'directory = "{OUT}"',
        "junit.enabled = true",
        "har.enabled = true",
        "",
        "[dictionaries]",
    ]
    for name in seeds:
        lines.append(f"{name} = {{ values = {values(name)} }}")
    for path, params in bind.items():
        lines += ["", "[[operations]]", f'include-path = "{path}"', "[operations.parameters]"]
        for param, dictionary in params.items():
            lines.append(f'"{param}" = {{ dictionary = "{dictionary}", probability = 0.8 }}')
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=12)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--min-requests", type=int, default=2000)
    args = parser.parse_args()

    base = facts()["api_base_url"]
    tenant = admin_cli("seed-demo", "--name", "Contract fuzzing")
    key = tenant["api_key"]["secret"]
    seeds = seed(Api(base, key))
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        old.unlink()
    cfg = OUT / "schemathesis.toml"
    cfg.write_text(config(base, key, seeds, args))

    st = Path(sys.executable).parent / "schemathesis"
    run = subprocess.run(
        [str(st), "--config-file", str(cfg), "run", str(ROOT / "openapi.yaml")], cwd=ROOT
    )
    hars = list(OUT.glob("*.har"))
    entries = sum(len(json.loads(h.read_text())["log"]["entries"]) for h in hars)
    print(f"[contract] {entries} requests sent (at least {args.min_requests} wanted); reports in {OUT}")
    if run.returncode != 0:
        raise SystemExit(f"[contract] schemathesis found failures (exit {run.returncode})")
    if entries < args.min_requests:
        raise SystemExit(f"[contract] only {entries} requests: raise --max-examples")


if __name__ == "__main__":
    main()
