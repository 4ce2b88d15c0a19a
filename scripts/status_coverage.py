#!/usr/bin/env python3
"""Every status openapi.yaml and the dialects' documents (compat/) document must have been
answered by some test.

The local API Gateway records each answer's route and status (target/dev/statuses.jsonl)
while the Rust suite, the SDK's tests and schemathesis run against it; this compares those
with the document. A documented status no test reaches is either untested or wrong.
`500 internal` is documented everywhere and must never be reached, so it is not asked for;
nor are the 409s only a lost race produces (RACE_ONLY), nor the answers to an outage of a
service the whole stack shares (OUTAGE_ONLY), which tests reach by invoking the function
binary alone with that service unreachable.

    status_coverage.py [--statuses FILE]
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "post", "put", "patch", "delete")

# 409s that only a lost race produces: optimistic writes retried WRITE_ATTEMPTS times in a row
# against concurrent writers (the form's submit: the connection changed between page and
# submit). No test can reach them deterministically; they stay documented because clients
# must handle them.
RACE_ONLY = {
    ("DELETE /v1/connections/{id}", 409),
    ("PATCH /v1/integrations/{id}", 409),
    ("PATCH /v1/providers/custom/{id}", 409),
    ("PATCH /v1/settings", 409),
    ("PATCH /v1/webhooks/{id}", 409),
    ("POST /v1/webhooks/{id}/rotate-secret", 409),
    ("POST /connect/{link_id}", 409),
    # OpenInt: a customer named for the first time by two requests at once (the consumer
    # created with the connection loses to the other's), answered as a retryable conflict.
    ("POST /compat/openint/v2/connection", 409),
    ("POST /compat/openint/connection", 409),
    ("POST /compat/openint/v1/customer/{customer_id}/token", 409),
}

# Outages of a service every test shares: making it fail behind the gateway would fail every
# test running beside. tests/tests/reminders.rs invokes the real function with SES's
# endpoint closed and checks this answer (and that nothing was recorded).
OUTAGE_ONLY = {
    ("POST /v1/links/{id}/send", 503),
}
EXEMPT = RACE_ONLY | OUTAGE_ONLY


def documented(doc, prefix=""):
    out = {}
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                out[f"{method.upper()} {prefix}{path}"] = {int(s) for s in item[method]["responses"] if s.isdigit()}
    return out


def every_document():
    """openapi.yaml's routes, and each dialect's (compat/<name>.openapi.yaml, whose paths
    sit under /compat/<name>)."""
    routes = documented(yaml.safe_load((ROOT / "openapi.yaml").read_text()))
    for path in sorted((ROOT / "compat").glob("*.openapi.yaml")):
        name = path.name.removesuffix(".openapi.yaml")
        routes.update(documented(yaml.safe_load(path.read_text()), f"/compat/{name}"))
    return routes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statuses", default=str(ROOT / "target" / "dev" / "statuses.jsonl"))
    args = parser.parse_args()
    routes = every_document()
    seen = defaultdict(set)
    for line in Path(args.statuses).read_text().splitlines():
        r = json.loads(line)
        if r["route"]:
            seen[r["route"]].add(r["status"])
    missing, undocumented = [], []
    for route, statuses in sorted(routes.items()):
        for status in sorted(statuses - {500}):
            if status not in seen.get(route, set()) and (route, status) not in EXEMPT:
                missing.append(f"  {route}: {status}")
        for status in sorted(seen.get(route, set()) - statuses):
            undocumented.append(f"  {route}: {status}")
    total = sum(len(s - {500}) for s in routes.values()) - len(EXEMPT)
    print(f"[statuses] {total - len(missing)} of {total} documented statuses reached by the tests")
    if undocumented:
        print("[statuses] answered but not documented:\n" + "\n".join(undocumented))
    if missing:
        print("[statuses] documented but never reached:\n" + "\n".join(missing))
    if missing or undocumented:
        sys.exit(1)


if __name__ == "__main__":
    main()
