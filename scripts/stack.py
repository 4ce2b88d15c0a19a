#!/usr/bin/env python3
"""The local stack: template.yaml played on this machine, as strict as AWS where we can make
it so (docs/local-stack.md).

- moto stands in for AWS (scripts/moto_server.py): the table, key, bus and queues are created
  from the template, every call a function makes is checked against the IAM role SAM would
  give it, and TTL deletes expired items;
- the Lambda service (scripts/lambda_service.py) runs every function's real binary with the
  environment, credentials, timeout and concurrency the template gives it;
- the local API Gateway (scripts/api_gateway.py) routes by the template's HttpApi events;
- the event-source pumps feed the table stream and the SQS queues to their functions, with
  the template's filters, batch sizes and retries (scripts/stream_pump.py, queue_pump.py);
- oidc-provider-mock is the OAuth provider, behind a proxy tests can make misbehave;
- a demo tenant is seeded.

    stack.py dev    start everything, print how to use it, stop it all on Ctrl-C
    stack.py up     start everything in the background (for tests), then return
    stack.py down   stop whatever `up` or `dev` started
    stack.py resources
                    create the template's resources in a moto server already listening
                    on LINKGATE_MOTO_PORT and print the functions' environment as JSON
                    (the benchmark harness runs its own moto)
    stack.py policies [--template FILE]
                    each function's IAM role as the running stack resolves it, from FILE
                    (default template.yaml), as JSON
    stack.py cfn    the CloudFormation `sam deploy` submits for template.yaml, as JSON

Facts for scripts and tests land in target/dev/dev.json.
"""

import argparse
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import deployment
from deployment import (  # noqa: F401  (the names other scripts import from here)
    DEFAULT_ROUTE,
    HOST,
    LOCAL_PARAMETERS,
    MOTO_URL,
    REGION,
    ROOT,
    TEMPLATE,
    API_URL,
    API_PORT,
    MOTO_PORT,
    CfnLoader,
    Resolver,
    load_template,
    routes,
)

DEV_DIR = ROOT / "target" / "dev"
PIDS = DEV_DIR / "pids.json"
CREATED = DEV_DIR / "created.json"
LOCAL_ENV_FILE = DEV_DIR / "local-env.json"
# Every authorisation of a function's AWS call since `up` (see iam_report.py).
IAM_LOG = DEV_DIR / "iam.jsonl"
# Every answer the local API Gateway gave since `up`: route and status (see status_coverage.py).
STATUSES = DEV_DIR / "statuses.jsonl"
VENV_BIN = Path(sys.executable).parent

# The Lambda service: the Lambda Invoke API the gateway and the event-source pumps call.
LAMBDA_PORT = int(os.environ.get("LINKGATE_LAMBDA_PORT", "9010"))
# Fixed: the local-only catalog provider `oidc-mock` names these URLs.
OIDC_PORT = 9400
OIDC_PROXY_PORT = 9401
# Fixed: the local-only catalog providers `key-mock` and `basic-mock` name this URL.
KEY_PROVIDER_PORT = 9402
# Short enough that "slow provider" tests stay quick; long enough for a loaded laptop.
OIDC_TOKEN_MAX_AGE = 240
LAMBDA_URL = f"http://{HOST}:{LAMBDA_PORT}"
# Seconds after an item's `ttl` the local TTL deletes it (DynamoDB: usually minutes, at most
# days; what matters is that it happens, after the time, never before).
TTL_DELAY = float(os.environ.get("LINKGATE_TTL_DELAY", "5"))

# Settings that only make sense on a developer machine: the moto endpoint, and a short
# API-key cache so a revoked key is refused within seconds. (Credentials are each
# function's own, from the Lambda service.)
LOCAL_ENV = {
    "AWS_ENDPOINT_URL": MOTO_URL,
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_LAMBDA_LOG_FORMAT": "text",
    "LINKGATE_API_KEY_CACHE_SECONDS": "2",
    # Settings and integrations are read on every request, so a change shows at once.
    "LINKGATE_TENANT_CACHE_SECONDS": "0",
    "LINKGATE_OAUTH_TIMEOUT_SECONDS": "2",
    # Webhooks: a schedule of seconds, not hours, so retries can be watched; receivers on
    # this machine's loopback (and only there) are allowed.
    "LINKGATE_WEBHOOK_RETRY_SCHEDULE": "0,1,1,1,2",
    "LINKGATE_WEBHOOK_TIMEOUT_SECONDS": "3",
    "LINKGATE_WEBHOOK_ALLOWED_PRIVATE": "127.0.0.1",
    # An endpoint failing for 15 s (not 5 days) is disabled, so a test can watch it happen.
    "LINKGATE_WEBHOOK_DISABLE_AFTER_SECONDS": "15",
    # Provider calls stay on this machine: a catalogue provider's credential check answers
    # "unreachable" here with or without a network, so tests give the same results
    # everywhere; the local providers (key-mock, basic-mock, oidc-mock) still answer.
    "LINKGATE_OUTBOUND_PUBLIC": "off",
}
# The account's own credentials (not a function's): tests, the admin CLI, the stack.
ACCOUNT_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def log(msg):
    print(f"[stack] {msg}", file=sys.stderr, flush=True)


def function_env(resolver):
    """Globals' variables and logging settings, the local settings and the account's
    credentials: what the benchmark gives every function, and what the tests and the admin
    CLI use as the account."""
    glob = (resolver.template.get("Globals") or {}).get("Function") or {}
    env = {k: str(v) for k, v in resolver.resolve((glob.get("Environment") or {}).get("Variables") or {}).items()}
    logging = resolver.resolve(glob.get("LoggingConfig") or {})
    if "ApplicationLogLevel" in logging:
        env["AWS_LAMBDA_LOG_LEVEL"] = logging["ApplicationLogLevel"]
    env.update(LOCAL_ENV)
    env.update(ACCOUNT_CREDENTIALS)
    return env


LOCAL_RESOURCE_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::Events::EventBus",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::SQS::Queue",
}


def create_resources(resolver):
    """Creates the template's resources in moto; answers what only moto could name (key ids,
    stream ARNs) for deployment.build."""
    ddb, events, kms, sqs = deployment.aws_client("dynamodb"), deployment.aws_client("events"), deployment.aws_client("kms"), deployment.aws_client("sqs")
    created = {}
    redrive = {}  # set once every queue exists: a queue's DLQ may come after it
    for logical, res in resolver.resources.items():
        kind = res["Type"]
        if kind not in LOCAL_RESOURCE_TYPES:
            continue  # functions, API and log groups are the Lambda service's and gateway's business
        props = resolver.resolve(res.get("Properties") or {})
        if kind == "AWS::DynamoDB::Table":
            args = {k: props[k] for k in ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode") if k in props}
            if props.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if props.get("StreamSpecification"):
                args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            table = ddb.create_table(**args)["TableDescription"]
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                ddb.update_time_to_live(TableName=props["TableName"], TimeToLiveSpecification=ttl)
            created[logical] = props["TableName"]
            if table.get("LatestStreamArn"):
                created[f"{logical}.StreamArn"] = table["LatestStreamArn"]
        elif kind == "AWS::Events::EventBus":
            events.create_event_bus(Name=props["Name"])
            created[logical] = props["Name"]
        elif kind == "AWS::KMS::Key":
            key_id = kms.create_key(Description=props.get("Description", logical))["KeyMetadata"]["KeyId"]
            resolver.created[logical] = key_id
            created[logical] = key_id
        elif kind == "AWS::SQS::Queue":
            attributes = {k: str(props[k]) for k in ("MessageRetentionPeriod", "VisibilityTimeout", "DelaySeconds") if k in props}
            url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
            if props.get("RedrivePolicy"):
                redrive[url] = json.dumps(props["RedrivePolicy"])
            created[logical] = props["QueueName"]
        elif kind == "AWS::KMS::Alias":
            kms.create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
            created[logical] = props["AliasName"]
    for url, policy in redrive.items():
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    # Links are emailed from the template's SES identity, which a deployment has verified;
    # moto's SES refuses a sender it was not told about, just as SES would.
    identity = resolver.params.get("SesIdentity")
    if identity:
        deployment.aws_client("sesv2").create_email_identity(EmailIdentity=identity)
        created["SesIdentity"] = identity
    return created


def feed_queue(rule):
    return f"linkgate-local-{rule}-feed"[:80]


def create_rule_feeds(deployed):
    """EventBridge rules with Lambda targets: locally each rule targets a feed queue that
    scripts/queue_pump.py drains into the Lambda service, as EventBridge invokes a target."""
    events, sqs = deployment.aws_client("events"), deployment.aws_client("sqs")
    for rule in deployed["rules"]:
        queue = feed_queue(rule["logical"])
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=rule["name"], EventBusName=rule["bus"], EventPattern=json.dumps(rule["pattern"]))
        events.put_targets(Rule=rule["name"], EventBusName=rule["bus"], Targets=[{"Id": "feed", "Arn": arn}])


# --- processes ------------------------------------------------------------------------


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((HOST, port)) != 0


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child that exited but was not reaped yet is a zombie, not alive
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def wait_for(url, timeout, what, pid=None, logname=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if pid is not None and not alive(pid):
            tail = (DEV_DIR / f"{logname}.log").read_text(errors="replace")[-3000:] if logname else ""
            raise SystemExit(f"[stack] {what} exited before it came up:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except Exception as e:  # not listening yet
            last = e
            time.sleep(0.3)
    raise SystemExit(f"[stack] {what} did not come up at {url} within {timeout}s: {last}")


def spawn(name, cmd, env):
    DEV_DIR.mkdir(parents=True, exist_ok=True)
    logf = open(DEV_DIR / f"{name}.log", "w")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
    )
    return proc.pid


def save_pids(pids):
    DEV_DIR.mkdir(parents=True, exist_ok=True)
    PIDS.write_text(json.dumps(pids))


def group_alive(pgid):
    """Whether any process of the group is left; reaps the leader if it is our child."""
    try:
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def down():
    if not PIDS.exists():
        return
    pids = json.loads(PIDS.read_text())
    for name, pid in pids.items():
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 10
    for name, pid in pids.items():
        while group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    PIDS.unlink(missing_ok=True)
    log("stopped")


class FunctionError(Exception):
    """The function failed (Lambda's `X-Amz-Function-Error`): its error payload."""

    def __init__(self, payload):
        super().__init__(payload[:500])
        self.payload = payload


def invoke_function(function, body, timeout, lambda_url=LAMBDA_URL, asynchronous=False):
    """One invocation through the Lambda service's Invoke API: the function's answer (None
    for an accepted asynchronous one). Raises FunctionError when the function failed,
    urllib.error.HTTPError when Lambda refused the invocation (throttled, too large, unknown),
    URLError or TimeoutError when the service is unreachable or slow."""
    req = urllib.request.Request(
        f"{lambda_url}/2015-03-31/functions/{function}/invocations",
        data=body.encode() if isinstance(body, str) else body,
        method="POST",
        headers={"content-type": "application/json",
                 "x-amz-invocation-type": "Event" if asynchronous else "RequestResponse"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        payload = r.read()
        if r.headers.get("X-Amz-Function-Error"):
            raise FunctionError(payload)
        return None if asynchronous else payload


def request(method, url, headers=None, body=None, timeout=600):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def build_functions():
    subprocess.run(["cargo", "build", "--quiet", "--bins"], cwd=ROOT, check=True)


def compile_deployment(template=TEMPLATE):
    """The deployment of `template`, resolved against what the running stack created."""
    created = json.loads(CREATED.read_text()) if CREATED.exists() else {}
    return deployment.build(template, created=created)


def up():
    down()  # whatever a previous run left behind
    for port, what in ((OIDC_PORT, "the OAuth provider"), (OIDC_PROXY_PORT, "the OAuth proxy"),
                       (KEY_PROVIDER_PORT, "the API-key provider")):
        if not port_free(port):
            raise SystemExit(f"[stack] port {port} for {what} is taken by another program; stop it")
    for port, what, setting in (
        (MOTO_PORT, "moto", "MOTO"), (API_PORT, "the API", "API"), (LAMBDA_PORT, "the Lambda service", "LAMBDA")
    ):
        if not port_free(port):
            raise SystemExit(
                f"[stack] port {port} for {what} is taken by another program; stop it or set "
                f"LINKGATE_{setting}_PORT"
            )
    DEV_DIR.mkdir(parents=True, exist_ok=True)
    template = load_template()
    resolver = Resolver(template, LOCAL_PARAMETERS)

    log("building functions")
    build_functions()

    pids = {}
    base_env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    deployment_file = deployment.DEPLOYMENT_FILE
    deployment_file.unlink(missing_ok=True)
    IAM_LOG.unlink(missing_ok=True)
    # the functions' logs are this run's alone (a test reads them all for secrets)
    shutil.rmtree(DEV_DIR / "lambda", ignore_errors=True)
    for old in DEV_DIR.glob("runtime-*.log"):
        old.unlink()
    pids["moto"] = spawn(
        "moto",
        [sys.executable, str(ROOT / "scripts" / "moto_server.py"), "-H", HOST, "-p", str(MOTO_PORT),
         "--region", REGION, "--ttl-delay", str(TTL_DELAY)],
        base_env,
    )
    # A real OAuth provider, and the proxy tests use to make it slow, down or refusing.
    pids["oidc"] = spawn(
        "oidc",
        [sys.executable, str(ROOT / "scripts" / "oauth_provider.py"), "-H", HOST, "-p", str(OIDC_PORT),
         "--token-max-age", str(OIDC_TOKEN_MAX_AGE)],
        base_env,
    )
    pids["oidc-proxy"] = spawn(
        "oidc-proxy",
        [sys.executable, str(ROOT / "scripts" / "oauth_proxy.py"), "--port", str(OIDC_PROXY_PORT),
         "--upstream", f"http://{HOST}:{OIDC_PORT}"],
        base_env,
    )
    # A provider that takes API keys and basic credentials, for credential checks.
    pids["key-provider"] = spawn(
        "key-provider",
        [sys.executable, str(ROOT / "scripts" / "key_provider.py"), "-H", HOST, "-p", str(KEY_PROVIDER_PORT)],
        base_env,
    )
    save_pids(pids)
    wait_for(f"{MOTO_URL}/moto-api/", 60, "moto", pids["moto"], "moto")
    wait_for(f"http://{HOST}:{KEY_PROVIDER_PORT}/_health", 30, "the API-key provider", pids["key-provider"], "key-provider")
    wait_for(f"http://{HOST}:{OIDC_PORT}/.well-known/openid-configuration", 60, "oidc-provider-mock", pids["oidc"], "oidc")
    wait_for(f"http://{HOST}:{OIDC_PROXY_PORT}/_calls/warmup", 30, "the OAuth proxy", pids["oidc-proxy"], "oidc-proxy")
    created = create_resources(resolver)
    CREATED.write_text(json.dumps(created, indent=2))
    log(f"created from template.yaml: {', '.join(f'{k}={v}' for k, v in created.items())}")

    # What `sam deploy` would make of the template, now that moto named the key and stream.
    deployed = deployment.build(TEMPLATE, created=created)
    deployment_file.write_text(json.dumps(deployed, indent=2))
    create_rule_feeds(deployed)
    LOCAL_ENV_FILE.write_text(json.dumps(LOCAL_ENV, indent=2))
    # moto checks the functions' calls against their roles from here on
    status, raw = request("POST", f"{MOTO_URL}/_local/iam/load", {"Content-Type": "application/json"},
                          json.dumps({"deployment": str(deployment_file), "log": str(IAM_LOG)}).encode())
    if status != 200:
        raise SystemExit(f"[stack] moto did not take the IAM roles: {status} {raw[:300]!r}")
    fenv = function_env(resolver)

    pids["lambda"] = spawn(
        "lambda",
        [sys.executable, str(ROOT / "scripts" / "lambda_service.py"), "--port", str(LAMBDA_PORT),
         "--deployment", str(deployment_file), "--local-env", str(LOCAL_ENV_FILE)],
        base_env,
    )
    save_pids(pids)
    wait_for(f"{LAMBDA_URL}/health", 60, "the Lambda service", pids["lambda"], "lambda")
    STATUSES.unlink(missing_ok=True)
    pids["gateway"] = spawn(
        "gateway",
        [sys.executable, str(ROOT / "scripts" / "api_gateway.py"), "--port", str(API_PORT), "--lambda-url", LAMBDA_URL,
         "--record", str(STATUSES)],
        base_env,
    )
    save_pids(pids)
    wait_for(f"{API_URL}/health", 30, "the local API Gateway", pids["gateway"], "gateway")

    # Start every function once so the first real request is not a cold start.
    for method, path, binary in routes(template):
        if path == DEFAULT_ROUTE:
            method, path = "GET", "/warmup"
        url = API_URL + re.sub(r"\{[^}]+\}", "warmup", path)
        status, _ = request(method, url)
        if status >= 500:
            raise SystemExit(f"[stack] {binary} answered {status} to {method} {path}; see {DEV_DIR}/lambda/{binary}.log")

    # Lambda's event source mappings and EventBridge's rule targets, played by pumps.
    pids["pump"] = spawn("pump", [sys.executable, str(ROOT / "scripts" / "stream_pump.py")], base_env)
    pids["queue-pump"] = spawn("queue-pump", [sys.executable, str(ROOT / "scripts" / "queue_pump.py")], base_env)
    save_pids(pids)

    admin_env = {**os.environ, **fenv}
    seeded = json.loads(
        subprocess.run(
            [str(ROOT / "target" / "debug" / "linkgate-admin"), "seed-demo"],
            cwd=ROOT, env=admin_env, check=True, capture_output=True, text=True,
        ).stdout
    )
    key = seeded["api_key"]["secret"]
    link, portal = demo_link(key)
    console = json.loads(
        subprocess.run(
            [str(ROOT / "target" / "debug" / "linkgate-admin"), "console-link", "--tenant", seeded["tenant"]["id"],
             "--role", "admin", "--ttl-seconds", "3600", "--base-url", API_URL],
            cwd=ROOT, env=admin_env, check=True, capture_output=True, text=True,
        ).stdout
    )
    facts = {
        "api_base_url": API_URL,
        "api_key": key,
        "tenant_id": seeded["tenant"]["id"],
        "api_key_id": seeded["api_key"]["id"],
        "aws_endpoint_url": MOTO_URL,
        "lambda_url": LAMBDA_URL,
        "region": REGION,
        "table": fenv["LINKGATE_TABLE"],
        "event_bus": fenv["LINKGATE_EVENT_BUS"],
        "connect_link": link,
        "portal_link": portal,
        "console_link": console["url"],
        "oauth_provider_url": f"http://{HOST}:{OIDC_PORT}",
        "oauth_proxy_url": f"http://{HOST}:{OIDC_PROXY_PORT}",
        "function_env": fenv,
        "functions": {name: deployment.lambda_environment(fn, LOCAL_ENV)
                      for name, fn in deployed["functions"].items()},
        "routes": [{"method": m, "path": p, "function": b} for m, p, b in routes(template)],
        "curl": (
            f"curl -s -X POST {API_URL}/v1/consumers -H 'Authorization: Bearer {key}' "
            f"-H 'Content-Type: application/json' "
            f"-d '{{\"name\": \"Acme Ltd\", \"email\": \"ops@acme.example\", \"internal_reference\": \"acme-1\"}}'"
        ),
    }
    (DEV_DIR / "dev.json").write_text(json.dumps(facts, indent=2))
    return facts


def demo_link(key):
    """A demo customer with a connect link that offers two API-key integrations, and a link
    to the customer's portal."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(path, body):
        status, raw = request("POST", API_URL + path, headers, json.dumps(body).encode())
        if status != 201:
            raise SystemExit(f"[stack] seeding {path} answered {status}: {raw[:500]!r}")
        return json.loads(raw)

    for provider in ("stripe", "datadog"):
        post("/v1/integrations", {"provider": provider})
    # OAuth against the local provider: its sign-in form takes any user name.
    post("/v1/integrations", {"provider": "oidc-mock", "client_id": "linkgate-demo", "client_secret": "demo-secret"})
    consumer = post("/v1/consumers", {"name": "Demo customer", "email": "demo@customer.example", "internal_reference": "demo-1"})
    connection = post(f"/v1/consumers/{consumer['id']}/connections", {"name": "Demo connection", "link_ttl_seconds": 604800})
    portal = post(f"/v1/consumers/{consumer['id']}/portal-links", {"ttl_seconds": 3600})
    return connection["link"]["url"], portal["url"]


def banner(facts):
    print(
        f"""
Linkgate is running locally.

  API          {facts['api_base_url']}
  API key      {facts['api_key']}   (tenant {facts['tenant_id']}, role admin)
  AWS (moto)   {facts['aws_endpoint_url']}   table {facts['table']}, bus {facts['event_bus']}
  OAuth        {facts['oauth_provider_url']}   (oidc-provider-mock; its token endpoint via {facts['oauth_proxy_url']})
  Facts        target/dev/dev.json     Logs  target/dev/*.log, target/dev/lambda/<function>.log

Try it:
  {facts['curl']}
  curl -s {facts['api_base_url']}/v1/consumers -H 'Authorization: Bearer {facts['api_key']}'

Open this connect link in a browser (a demo customer's, valid for 7 days; Stripe and Datadog
are enabled, so any rk_test_… key or a 32-hex Datadog key completes it, and so is the local
OAuth provider, whose sign-in form takes any user name):
  {facts['connect_link']}

The same customer's portal, where they see, disconnect and reconnect their connections
(single use, valid for an hour; POST /v1/consumers/{{id}}/portal-links makes another):
  {facts['portal_link']}

The operator console (consumers, connection timelines, links, webhooks with retry and
recover, settings), signed in as the demo tenant's admin by this one-time link (valid for an
hour; `target/debug/linkgate-admin console-link --tenant {facts['tenant_id']}` makes another,
or sign in at {facts['api_base_url']}/console with the API key above):
  {facts['console_link']}

Functions are rebuilt when their sources change. Ctrl-C stops everything.
""",
        flush=True,
    )


def exclusive():
    """One stack per checkout: a second `make dev` or `make test` would fight over ports."""
    DEV_DIR.mkdir(parents=True, exist_ok=True)
    handle = open(DEV_DIR / "stack.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit("[stack] another `make dev` or `make test` is running in this checkout; stop it first (make stop)")
    return handle


def rate_seconds(expression):
    """`rate(5 minutes)` → 300; the schedules the template uses."""
    m = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if not m:
        raise deployment.UnsupportedTemplate(f"schedule {expression!r} is not played locally")
    return int(m.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[m.group(2).rstrip("s")]


def sources_stamp():
    """The newest modification time among the sources the functions are built from."""
    newest = 0.0
    for top in ("shared", "functions", "Cargo.toml", "Cargo.lock"):
        path = ROOT / top
        files = [path] if path.is_file() else path.rglob("*")
        for f in files:
            if f.is_file() and "target" not in f.parts:
                newest = max(newest, f.stat().st_mtime)
    return newest


def dev_loop(stop):
    """While `make dev` runs: EventBridge Scheduler's part (the template's schedules), and
    rebuilding the functions when their sources change (the Lambda service starts fresh
    environments for a rebuilt binary)."""
    schedules = deployment.load()["schedules"]
    due = {s["logical"]: time.monotonic() + rate_seconds(s["expression"]) for s in schedules}
    built = sources_stamp()
    checked = time.monotonic()
    while not stop["now"]:
        time.sleep(0.5)
        now = time.monotonic()
        for s in schedules:
            if now >= due[s["logical"]]:
                due[s["logical"]] += rate_seconds(s["expression"])
                sweep = json.dumps({"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
                try:
                    invoke_function(s["function"], sweep, 300, asynchronous=True)
                    log(f"{s['function']}: scheduled run started")
                except Exception as e:
                    log(f"{s['function']}: scheduled run not started: {e}")
        if now - checked >= 2:
            checked = now
            stamp = sources_stamp()
            if stamp > built:
                built = stamp
                log("sources changed: rebuilding the functions")
                if subprocess.run(["cargo", "build", "--quiet", "--bins"], cwd=ROOT).returncode == 0:
                    log("rebuilt; the next invocations start fresh")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["dev", "up", "down", "routes", "resources", "policies", "cfn"])
    parser.add_argument("--template", default=str(TEMPLATE), help="for `policies`: the template to read")
    args = parser.parse_args()
    if args.command == "down":
        down()
    elif args.command == "resources":
        resolver = Resolver(load_template(), LOCAL_PARAMETERS)
        created = create_resources(resolver)
        print(json.dumps({"created": created, "function_env": function_env(resolver)}, indent=2))
    elif args.command == "routes":
        print(json.dumps(routes(load_template()), indent=2))
    elif args.command == "cfn":
        # what `sam deploy` submits with the template's defaults (for checkov)
        print(json.dumps(deployment.sam_transform(load_template(Path(args.template)), {}), indent=1))
    elif args.command == "policies":
        functions = compile_deployment(Path(args.template))["functions"]
        print(json.dumps({name: {k: fn[k] for k in ("name", "access_key", "principal", "statements")}
                          for name, fn in functions.items()}, indent=2))
    elif args.command == "up":
        lock = exclusive()  # held until `up` returns; the lock only guards start-up
        try:
            facts = up()
        except BaseException:
            down()
            raise
        log(f"up: {facts['api_base_url']} (facts in target/dev/dev.json)")
    else:
        stop = {"now": False}

        def handler(signum, frame):
            stop["now"] = True

        lock = exclusive()  # held for as long as the stack runs
        signal.signal(signal.SIGTERM, handler)
        try:
            banner(up())
            signal.signal(signal.SIGINT, handler)
            dev_loop(stop)
        finally:
            down()


if __name__ == "__main__":
    main()
