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
import datetime
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

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
    """Ids for every path parameter, several of each since the run deletes some, and cursors
    each list really issued (a cursor is opaque: only those are valid)."""
    stripe = api.call("POST", "/v1/integrations", {"provider": "stripe"})["id"]
    oauth = api.call(
        "POST", "/v1/integrations",
        {"provider": "oidc-mock", "client_id": "fuzz-client", "client_secret": "fuzz-secret"},
    )["id"]

    def connection(consumer, i, integration):
        made = api.call(
            "POST", f"/v1/consumers/{consumer}/connections",
            {"name": f"Fuzz {i}", "integration_id": integration, "link_ttl_seconds": 3600},
        )
        return made["id"], made["link"]["id"], made["link"]["url"].split("token=")[1].split("&")[0]

    consumers, connections, links = [], [], []
    for i in range(4):
        consumer = api.call("POST", "/v1/consumers", {"name": f"Fuzz customer {i}", "email": f"c{i}@fuzz.example"})
        consumers.append(consumer["id"])
        conn, link, _ = connection(consumer["id"], i, stripe if i % 2 == 0 else oauth)
        connections.append(conn)
        links.append(link)
    # Links only the connect pages use: the management routes revoke theirs.
    page_links, page_tokens = [], []
    for i, integration in enumerate((stripe, oauth)):
        consumer = api.call("POST", "/v1/consumers", {"name": f"Fuzz page customer {i}"})["id"]
        _, link, token = connection(consumer, f"page {i}", integration)
        page_links.append(link)
        page_tokens.append(token)
    active = api.call(
        "POST", "/v1/connections",
        {"name": "Fuzz import", "consumer_id": consumers[0], "integration_id": stripe,
         "credentials": {"secret_key": "rk_test_51Fuzz" + "0" * 20}},
    )
    connections.append(active["id"])
    # A second import: two connection.created events, so the events list issues a cursor.
    connections.append(api.call(
        "POST", "/v1/connections",
        {"name": "Fuzz import 2", "consumer_id": consumers[1], "integration_id": stripe,
         "credentials": {"secret_key": "rk_test_51Fuzz" + "1" * 20}},
    )["id"])
    events = [e["id"] for e in api.call("GET", "/v1/events?limit=100")["data"]]
    # A receiver nobody listens on: deliveries fail and stay in the log, retryable.
    webhooks = [
        api.call("POST", "/v1/webhooks", {"url": f"http://127.0.0.1:9/fuzz{i}", "events": ["connection.created"]})["id"]
        for i in range(2)
    ]
    deliveries = [api.call("POST", f"/v1/webhooks/{webhooks[0]}/test", {})["delivery_id"] for _ in range(2)]
    an_hour_ago = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).isoformat()
    recoveries = [api.call("POST", f"/v1/webhooks/{webhooks[0]}/recover", {"since": an_hour_ago})["id"]]
    custom_providers = [
        api.call("POST", "/v1/providers/custom", {
            "id": f"x-fuzz-{i}", "name": f"Fuzz provider {i}", "category": "crm", "auth_mode": "api_key",
            "credential_fields": [{"name": "api_key", "label": "API key", "secret": True}],
        })["id"]
        for i in range(3)
    ]

    portal_links = [api.call("POST", f"/v1/consumers/{consumers[0]}/portal-links", {}) for _ in range(3)]

    def cursor(path):
        issued = api.call("GET", f"{path}{'&' if '?' in path else '?'}limit=1")["next_cursor"]
        if not issued:
            raise SystemExit(f"[contract] {path} issued no cursor: seed more")
        return [issued]

    return {
        "consumer": consumers,
        "connection": connections,
        "link": links,
        # one link and its token per page: a token only opens its own link
        "form_link": page_links[:1],
        "form_integration": [stripe],
        "form_token": page_tokens[:1],
        "oauth_link": page_links[1:],
        "oauth_token": page_tokens[1:],
        "integration": [stripe, oauth, "stripe", "oidc-mock"],
        "webhook": webhooks,
        "delivery_webhook": webhooks[:1],
        "delivery": deliveries,
        "recovery": recoveries,
        # single use: the first opening spends each, later ones are rightly 404
        "portal": [p["id"] for p in portal_links],
        "portal_token": [p["url"].split("token=")[1] for p in portal_links],
        "consumers_cursor": cursor("/v1/consumers"),
        "consumer_connections_cursor": cursor(f"/v1/consumers/{consumers[0]}/connections"),
        "integrations_cursor": cursor("/v1/integrations"),
        "links_cursor": cursor("/v1/links"),
        "webhooks_cursor": cursor("/v1/webhooks"),
        "deliveries_cursor": cursor(f"/v1/webhooks/{webhooks[0]}/deliveries"),
        "custom_provider": custom_providers,
        "custom_providers_cursor": cursor("/v1/providers/custom"),
        "providers_cursor": cursor("/v1/providers"),
        "event": events,
        "events_cursor": cursor("/v1/events"),
    }


# Path parameters drawn from the seeds 80% of the time (the rest reach the 404s); cursors
# always (a made-up cursor is rightly a 400).
BINDINGS = {
    "/v1/consumers": {"query.cursor": ("consumers_cursor", 1.0)},
    "/v1/consumers/{id}": {"path.id": ("consumer", 0.8)},
    "/v1/consumers/{id}/connections": {
        "path.id": ("consumer", 0.8), "query.cursor": ("consumer_connections_cursor", 1.0)},
    "/v1/connections/{id}": {"path.id": ("connection", 0.8)},
    "/v1/connections/{id}/credentials": {"path.id": ("connection", 0.8)},
    "/v1/connections/{id}/links": {"path.id": ("connection", 0.8)},
    "/v1/links": {"query.cursor": ("links_cursor", 1.0)},
    "/v1/links/{id}": {"path.id": ("link", 0.8)},
    "/connect/{link_id}": {
        "path.link_id": ("form_link", 0.8), "query.token": ("form_token", 0.8),
        "body.token": ("form_token", 0.8), "body.integration_id": ("form_integration", 0.8)},
    "/connect/{link_id}/oauth": {"path.link_id": ("oauth_link", 0.8), "query.token": ("oauth_token", 0.8)},
    "/v1/integrations": {"query.cursor": ("integrations_cursor", 1.0)},
    "/v1/integrations/{id}": {"path.id": ("integration", 0.8)},
    "/v1/integrations/{id}/logo": {"path.id": ("integration", 0.8)},
    "/v1/integrations/{id}/connect": {"path.id": ("integration", 0.8)},
    "/v1/webhooks": {"query.cursor": ("webhooks_cursor", 1.0)},
    "/v1/webhooks/{id}": {"path.id": ("webhook", 0.8)},
    "/v1/webhooks/{id}/rotate-secret": {"path.id": ("webhook", 0.8)},
    "/v1/webhooks/{id}/test": {"path.id": ("webhook", 0.8)},
    "/v1/webhooks/{id}/deliveries": {
        "path.id": ("webhook", 0.8), "query.cursor": ("deliveries_cursor", 1.0)},
    "/v1/webhooks/{id}/deliveries/{delivery_id}/retry": {
        "path.id": ("delivery_webhook", 0.8), "path.delivery_id": ("delivery", 0.8)},
    "/v1/webhooks/{id}/recover": {"path.id": ("webhook", 0.8)},
    "/v1/webhooks/{id}/recoveries/{recovery_id}": {
        "path.id": ("delivery_webhook", 0.8), "path.recovery_id": ("recovery", 0.8)},
    "/v1/providers/custom": {"query.cursor": ("custom_providers_cursor", 1.0)},
    "/v1/providers": {"query.cursor": ("providers_cursor", 1.0)},
    "/v1/events": {"query.cursor": ("events_cursor", 1.0)},
    "/v1/events/{id}": {"path.id": ("event", 0.8)},
    "/v1/providers/custom/{id}": {"path.id": ("custom_provider", 0.8)},
    "/v1/consumers/{id}/portal-links": {"path.id": ("consumer", 0.8)},
    "/portal/{portal_id}": {"path.portal_id": ("portal", 0.8), "query.token": ("portal_token", 0.8)},
    "/console/{page}/{id}": {"path.id": ("consumer", 0.8)},
}

# Where a schema-valid request is rightly a 400 for a reason JSON Schema cannot state, the
# positive-data check also accepts 400 (its default list otherwise).
STATEFUL_400 = {
    # `state` and `code` are single-use secrets we and the provider issued: none generated is valid.
    "/oauth/callback": {"GET"},
    # What a body may hold depends on the provider of the integration it names (the OAuth
    # app's `client_id`/`client_secret`, `redirect_url` for OAuth; the provider's own
    # credential fields otherwise), and an `int_`/`csm_` id in a body must name one of the
    # tenant's: the schema cannot know either.
    "/v1/integrations/{id}": {"PATCH"},
    "/v1/integrations": {"POST"},
    "/v1/integrations/{id}/connect": {"POST"},
    "/v1/credentials": {"POST"},
    "/v1/connections": {"POST"},
    "/v1/consumers/{id}/connections": {"POST"},
    # A link's `scopes` must be among what its connection's integration allows.
    "/v1/connections/{id}/links": {"POST"},
    # A webhook URL's host must resolve to public addresses when it is saved (SSRF guard):
    # DNS decides, not the schema.
    "/v1/webhooks": {"POST"},
    "/v1/webhooks/{id}": {"PATCH"},
    # A branding logo's bytes must be the image its data URL names (or an SVG that parses),
    # and a colour must contrast with white: content, which a pattern cannot check.
    "/v1/settings": {"PATCH"},
    # A provider definition's rules depend on its auth mode and on each other (placeholders
    # declared by fields, URLs to public hosts once filled, patterns that compile, an SVG
    # the allow-list keeps): content, which a schema cannot state.
    "/v1/providers/custom": {"POST"},
    "/v1/providers/custom/{id}": {"PATCH"},
    # `until` must be later than `since`: two parameters' relation, which a schema cannot state.
    "/v1/events": {"GET"},
    # A recovery's `since` must be in the past and within the deliveries' 30 days, relative
    # to the moment of the request: a schema's date-time cannot say when.
    "/v1/webhooks/{id}/recover": {"POST"},
    # The console is a browser's: its forms carry a CSRF token only a page served to the
    # browser's cookie knows (none generated is valid), and without a session cookie a page
    # is a 303 to the sign-in form.
    "/console": {"GET"},
    "/console/{page}": {"GET", "POST"},
    "/console/{page}/{id}": {"GET", "POST"},
}
# A cursor is opaque: only one a list issued is valid (the fuzzing phase sends those; the
# coverage phase's made-up edge values are rightly refused).
for _path in ("/v1/consumers", "/v1/consumers/{id}/connections", "/v1/integrations", "/v1/links",
              "/v1/webhooks", "/v1/webhooks/{id}/deliveries", "/v1/providers/custom", "/v1/providers",
              "/v1/events"):
    STATEFUL_400.setdefault(_path, set()).add("GET")
POSITIVE_WITH_400 = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
# The connect form's fields are the link's provider's (`f_<name>`, any string to the schema):
# missing or invalid ones re-render the form with 422; and earlier steps of a run may have
# used or revoked the link (410). Both are documented answers to a well-formed submission.
EXTRA = {
    ("/connect/{link_id}", "POST"): ["410", "422"],
    # the stateful phase may revoke or use a link before it opens its pages
    ("/connect/{link_id}", "GET"): ["410"],
    ("/connect/{link_id}/oauth", "GET"): ["410"],
}

# DELETE revokes these and keeps them readable, as `revoked` (the documented answer, and
# what an audit needs): a GET after it rightly answers 200, not the 404 of "use after free".
KEPT_AFTER_DELETE = {("/v1/connections/{id}", "GET"), ("/v1/links/{id}", "GET")}


def _params(doc, item, method):
    """An operation's parameters, references resolved."""
    out = []
    for p in item.get("parameters", []) + item[method].get("parameters", []):
        if "$ref" in p:
            p = doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        out.append(p)
    return out


def config(base, key, seeds, args):
    """schemathesis.toml: every check and phase, a fixed seed, ids and cursors from the seeds."""
    lines = [
        f'base-url = "{base}"',
        f"seed = {args.seed}",
        # One worker: CPython 3.11's AST constructor keeps a global recursion counter
        # (gh-106905), and hypothesis parses lambda sources from both worker threads at
        # once, which intermittently failed CI with "AST constructor recursion depth
        # mismatch". A second worker also bought little on two cores shared with the stack.
        "workers = 1",
        'headers = { Authorization = "Bearer ' + key + '" }',
        "request-timeout = 30.0",
        f"generation.max-examples = {args.max_examples}",
        'generation.database = "none"',
        # no state carried between runs: the seed alone decides what is sent
        "cache.enabled = false",
        "checks.enabled = true",
        # A create replayed with an Idempotency-Key the fuzzer used before answers the first
        # request's 201 again (as Stripe does), naming a resource a later step may have
        # deleted: "created, then not found" is then the documented behaviour, not a bug.
        "checks.ensure_resource_availability.enabled = false",
        "",
        "[reports]",
        f'directory = "{OUT}"',
        "junit.enabled = true",
        "har.enabled = true",
        "",
        "[dictionaries]",
    ]
    for name, values in seeds.items():
        lines.append(f"{name} = {{ values = {json.dumps(values)} }}")
    # One [[operations]] entry per operation (the first that matches applies).
    doc = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    for path, item in doc["paths"].items():
        for method in item:
            if method not in ("get", "post", "patch", "delete", "put"):
                continue
            params = BINDINGS.get(path, {})
            extra = EXTRA.get((path, method.upper()), [])
            stateful = method.upper() in STATEFUL_400.get(path, set()) or bool(extra)
            kept = (path, method.upper()) in KEPT_AFTER_DELETE
            if not params and not stateful and not kept:
                continue
            # One filter: include-path and include-method together match either.
            lines += ["", "[[operations]]", f'include-name = "{method.upper()} {path}"']
            if params:
                lines.append("[operations.parameters]")
                for param, (dictionary, probability) in params.items():
                    if param.startswith("query.") and not any(
                        p.get("name") == param[6:] for p in _params(doc, item, method)
                    ):
                        continue
                    if param.startswith("body.") and "requestBody" not in item[method]:
                        continue
                    lines.append(f'"{param}" = {{ dictionary = "{dictionary}", probability = {probability} }}')
            if stateful:
                lines += ["[operations.checks.positive_data_acceptance]",
                          f"expected-statuses = {json.dumps(POSITIVE_WITH_400 + extra)}"]
            if kept:
                lines += ["[operations.checks.use_after_free]", "enabled = false"]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=20)
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
    hars = list(OUT.glob("har-*.json"))
    entries = sum(len(json.loads(h.read_text())["log"]["entries"]) for h in hars)
    print(f"[contract] {entries} requests sent (at least {args.min_requests} wanted); reports in {OUT}")
    if run.returncode != 0:
        raise SystemExit(f"[contract] schemathesis found failures (exit {run.returncode})")
    if entries < args.min_requests:
        raise SystemExit(f"[contract] only {entries} requests: raise --max-examples")


if __name__ == "__main__":
    main()
