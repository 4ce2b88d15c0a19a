#!/usr/bin/env python3
"""The local stack: a moto server standing in for AWS, the table and bus created from
template.yaml, every function run by `cargo lambda watch` behind a local API Gateway
(scripts/api_gateway.py) that routes by the template, and a seeded demo tenant.

    stack.py dev    start everything, print how to use it, stop it all on Ctrl-C
    stack.py up     start everything in the background (for tests), then return
    stack.py down   stop whatever `up` or `dev` started
    stack.py resources
                    create the template's resources in a moto server already listening
                    on LINKGATE_MOTO_PORT and print the functions' environment as JSON
                    (the benchmark harness runs its own moto)

Facts for scripts and tests land in target/dev/dev.json.
"""

import argparse
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DEV_DIR = ROOT / "target" / "dev"
PIDS = DEV_DIR / "pids.json"
# Every answer the local API Gateway gave since `up`: route and status (see status_coverage.py).
STATUSES = DEV_DIR / "statuses.jsonl"
VENV_BIN = Path(sys.executable).parent

REGION = os.environ.get("AWS_REGION", "us-east-1")
MOTO_PORT = int(os.environ.get("LINKGATE_MOTO_PORT", "5055"))
API_PORT = int(os.environ.get("LINKGATE_API_PORT", "9000"))
# cargo lambda watch: the Lambda Invoke API the gateway and the event-source pumps call.
LAMBDA_PORT = int(os.environ.get("LINKGATE_LAMBDA_PORT", "9010"))
HOST = "127.0.0.1"
# Fixed: the local-only catalog provider `oidc-mock` names these URLs.
OIDC_PORT = 9400
OIDC_PROXY_PORT = 9401
# Short enough that "slow provider" tests stay quick; long enough for a loaded laptop.
OIDC_TOKEN_MAX_AGE = 240
MOTO_URL = f"http://{HOST}:{MOTO_PORT}"
API_URL = f"http://{HOST}:{API_PORT}"
LAMBDA_URL = f"http://{HOST}:{LAMBDA_PORT}"
# What routes() calls the API's `$default` route (an HttpApi event without Path and Method).
DEFAULT_ROUTE = "$default"

# Template parameters for the local stage. `local` lets redirect URLs use http on loopback.
LOCAL_PARAMETERS = {
    "Stage": "local",
    "PublicBaseUrl": API_URL,
    "LogLevel": "INFO",
    "LogRetentionDays": "1",
    "AWS::Region": REGION,
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "linkgate-local",
}

# Settings that only make sense on a developer machine: fake credentials, the moto
# endpoint, and a short API-key cache so a revoked key is refused within seconds.
LOCAL_ENV = {
    "AWS_ENDPOINT_URL": MOTO_URL,
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
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
}


def log(msg):
    print(f"[stack] {msg}", file=sys.stderr, flush=True)


# --- template.yaml --------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, !GetAtt...) as their long form."""


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template():
    with open(TEMPLATE, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


class Resolver:
    """Evaluates the intrinsic functions the template uses, for the local stage."""

    def __init__(self, template, params):
        self.template = template
        self.created = {}  # physical ids only known once created (KMS key ids)
        self.params = dict(params)
        for name, spec in (template.get("Parameters") or {}).items():
            self.params.setdefault(name, str(spec.get("Default", "")))
        self.resources = template.get("Resources") or {}

    def physical_name(self, logical):
        res = self.resources[logical]
        props = res.get("Properties") or {}
        kind = res["Type"]
        if kind == "AWS::DynamoDB::Table":
            return self.resolve(props["TableName"])
        if kind == "AWS::Events::EventBus":
            return self.resolve(props["Name"])
        if kind == "AWS::SQS::Queue":
            return self.resolve(props["QueueName"])
        if logical in self.created:
            return self.created[logical]
        return logical

    def arn(self, logical):
        kind = self.resources[logical]["Type"]
        name = self.physical_name(logical)
        acct, region = self.params["AWS::AccountId"], self.params["AWS::Region"]
        if kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{region}:{acct}:table/{name}"
        if kind == "AWS::Events::EventBus":
            return f"arn:aws:events:{region}:{acct}:event-bus/{name}"
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{region}:{acct}:key/{name}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{region}:{acct}:{name}"
        return f"arn:aws:local:{region}:{acct}:{logical}"

    def ref(self, name):
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            if self.resources[name]["Type"] == "AWS::SQS::Queue":
                return self.getatt(name, "QueueUrl")  # Ref of a queue is its URL
            return self.physical_name(name)
        raise KeyError(f"template refers to unknown {name}")

    def condition(self, name):
        return self.resolve(self.template["Conditions"][name])

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

                def sub(m):
                    key = m.group(1)
                    if key in extra:
                        return str(extra[key])
                    if "." in key:
                        logical, attr = key.split(".", 1)
                        return self.getatt(logical, attr)
                    return str(self.ref(key))

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if fn == "Fn::GetAtt":
                return self.getatt(*arg)
            if fn == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.condition(cond) else no)
            if fn == "Fn::Equals":
                a, b = self.resolve(arg)
                return a == b
            if fn == "Fn::Not":
                return not self.resolve(arg[0])
            if fn == "Condition":
                return self.condition(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def getatt(self, logical, attr):
        if attr == "Arn":
            return self.arn(logical)
        if attr == "QueueUrl":
            return f"{MOTO_URL}/{self.params['AWS::AccountId']}/{self.physical_name(logical)}"
        return self.physical_name(logical)


def function_env(resolver):
    """What Lambda would give every function: Globals' variables and logging settings."""
    glob = (resolver.template.get("Globals") or {}).get("Function") or {}
    env = {k: str(v) for k, v in resolver.resolve((glob.get("Environment") or {}).get("Variables") or {}).items()}
    logging = resolver.resolve(glob.get("LoggingConfig") or {})
    if "ApplicationLogLevel" in logging:
        env["AWS_LAMBDA_LOG_LEVEL"] = logging["ApplicationLogLevel"]
    env.update(LOCAL_ENV)
    return env


LOCAL_RESOURCE_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::Events::EventBus",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::SQS::Queue",
}


def create_resources(resolver):
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    ddb = session.client("dynamodb", endpoint_url=MOTO_URL)
    events = session.client("events", endpoint_url=MOTO_URL)
    kms = session.client("kms", endpoint_url=MOTO_URL)
    sqs = session.client("sqs", endpoint_url=MOTO_URL)
    created = {}
    for logical, res in resolver.resources.items():
        kind = res["Type"]
        if kind not in LOCAL_RESOURCE_TYPES:
            continue  # functions, API and log groups are cargo lambda watch's business locally
        props = resolver.resolve(res.get("Properties") or {})
        if kind == "AWS::DynamoDB::Table":
            args = {k: props[k] for k in ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode") if k in props}
            if props.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if props.get("StreamSpecification"):
                args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            ddb.create_table(**args)
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                ddb.update_time_to_live(TableName=props["TableName"], TimeToLiveSpecification=ttl)
            created[logical] = props["TableName"]
        elif kind == "AWS::Events::EventBus":
            events.create_event_bus(Name=props["Name"])
            created[logical] = props["Name"]
        elif kind == "AWS::KMS::Key":
            key_id = kms.create_key(Description=props.get("Description", logical))["KeyMetadata"]["KeyId"]
            resolver.created[logical] = key_id
            created[logical] = key_id
        elif kind == "AWS::SQS::Queue":
            attributes = {k: str(props[k]) for k in ("MessageRetentionPeriod", "VisibilityTimeout", "DelaySeconds") if k in props}
            sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)
            created[logical] = props["QueueName"]
        elif kind == "AWS::KMS::Alias":
            kms.create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
            created[logical] = props["AliasName"]
    # Links are emailed from the template's SES identity, which a deployment has verified;
    # moto's SES refuses a sender it was not told about, just as SES would.
    identity = resolver.params.get("SesIdentity")
    if identity:
        session.client("sesv2", endpoint_url=MOTO_URL).create_email_identity(EmailIdentity=identity)
        created["SesIdentity"] = identity
    # EventBridge rules of functions: locally each targets a feed queue that
    # scripts/queue_pump.py hands to the function, as the rule's Lambda target would.
    for binary, bus, pattern in rule_targets(resolver):
        queue = feed_queue(binary)
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=f"{binary}-feed", EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"{binary}-feed", EventBusName=bus, Targets=[{"Id": "feed", "Arn": arn}])
        created[f"{binary}-rule"] = queue
    return created


def feed_queue(binary):
    return f"linkgate-local-{binary}-feed"


def rule_targets(resolver):
    """(function, bus, pattern) for every EventBridgeRule event in the template."""
    out = []
    for res in resolver.resources.values():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event in (res["Properties"].get("Events") or {}).values():
            if event.get("Type") == "EventBridgeRule":
                props = resolver.resolve(event["Properties"])
                out.append((res["Metadata"]["BuildProperties"]["Binary"], props["EventBusName"], props["Pattern"]))
    return out


def routes(template):
    """(method, path, binary) for every HttpApi event in the template; the `$default` route
    is ("ANY", DEFAULT_ROUTE, binary)."""
    out = []
    for res in (template.get("Resources") or {}).values():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        for event in (res.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                p = event["Properties"]
                if "Path" not in p and "Method" not in p:
                    out.append(("ANY", DEFAULT_ROUTE, binary))
                else:
                    out.append((p["Method"].upper(), p["Path"], binary))
    return out


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


def invoke_function(function, body, timeout, lambda_url=LAMBDA_URL):
    """One invocation through cargo lambda watch's Lambda Invoke API: the function's raw
    answer. Raises urllib.error.HTTPError when the function failed, URLError or TimeoutError
    when the emulator is unreachable or slow."""
    req = urllib.request.Request(
        f"{lambda_url}/2015-03-31/functions/{function}/invocations",
        data=body.encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def request(method, url, headers=None, body=None, timeout=600):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def up(reload):
    down()  # whatever a previous run left behind
    for port, what in ((OIDC_PORT, "the OAuth provider"), (OIDC_PROXY_PORT, "the OAuth proxy")):
        if not port_free(port):
            raise SystemExit(f"[stack] port {port} for {what} is taken by another program; stop it")
    for port, what, setting in (
        (MOTO_PORT, "moto", "MOTO"), (API_PORT, "the API", "API"), (LAMBDA_PORT, "cargo lambda watch", "LAMBDA")
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
    subprocess.run(["cargo", "build", "--quiet", "--bins"], cwd=ROOT, check=True)

    pids = {}
    base_env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    pids["moto"] = spawn(
        "moto", [sys.executable, str(ROOT / "scripts" / "moto_server.py"), "-H", HOST, "-p", str(MOTO_PORT)], base_env
    )
    # A real OAuth provider, and the proxy tests use to make it slow, down or refusing.
    pids["oidc"] = spawn(
        "oidc",
        [str(VENV_BIN / "oidc-provider-mock"), "-H", HOST, "-p", str(OIDC_PORT),
         "--token-max-age", str(OIDC_TOKEN_MAX_AGE)],
        base_env,
    )
    pids["oidc-proxy"] = spawn(
        "oidc-proxy",
        [sys.executable, str(ROOT / "scripts" / "oauth_proxy.py"), "--port", str(OIDC_PROXY_PORT),
         "--upstream", f"http://{HOST}:{OIDC_PORT}"],
        base_env,
    )
    save_pids(pids)
    wait_for(f"{MOTO_URL}/moto-api/", 60, "moto", pids["moto"], "moto")
    wait_for(f"http://{HOST}:{OIDC_PORT}/.well-known/openid-configuration", 60, "oidc-provider-mock", pids["oidc"], "oidc")
    wait_for(f"http://{HOST}:{OIDC_PROXY_PORT}/_calls/warmup", 30, "the OAuth proxy", pids["oidc-proxy"], "oidc-proxy")
    created = create_resources(resolver)
    log(f"created from template.yaml: {', '.join(f'{k}={v}' for k, v in created.items())}")
    fenv = function_env(resolver)

    env_file = DEV_DIR / "functions.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in sorted(fenv.items())))
    watch = ["cargo", "lambda", "watch", "-A", HOST, "-P", str(LAMBDA_PORT), "--env-file", str(env_file)]
    if not reload:
        watch.append("--ignore-changes")
    pids["watch"] = spawn("watch", watch, {**base_env, **fenv})
    save_pids(pids)
    wait_for(f"{LAMBDA_URL}/health", 300, "cargo lambda watch", pids["watch"], "watch")
    STATUSES.unlink(missing_ok=True)
    pids["gateway"] = spawn(
        "gateway",
        [sys.executable, str(ROOT / "scripts" / "api_gateway.py"), "--port", str(API_PORT), "--lambda-url", LAMBDA_URL,
         "--record", str(STATUSES)],
        base_env,
    )
    save_pids(pids)
    wait_for(f"{API_URL}/health", 30, "the local API Gateway", pids["gateway"], "gateway")

    # Start every function once so the first real request is not a cold compile.
    for method, path, binary in routes(template):
        if path == DEFAULT_ROUTE:
            method, path = "GET", "/warmup"
        url = API_URL + re.sub(r"\{[^}]+\}", "warmup", path)
        status, _ = request(method, url)
        if status >= 500:
            raise SystemExit(f"[stack] {binary} answered {status} to {method} {path}; see {DEV_DIR}/watch.log")

    # Lambda's stream event source, played by a pump feeding the stream functions.
    pids["pump"] = spawn("pump", [sys.executable, str(ROOT / "scripts" / "stream_pump.py")], base_env)
    # Lambda's SQS event sources and EventBridge rule targets, played the same way.
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
    link = demo_link(key)
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
        "oauth_provider_url": f"http://{HOST}:{OIDC_PORT}",
        "oauth_proxy_url": f"http://{HOST}:{OIDC_PROXY_PORT}",
        "function_env": fenv,
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
    """A demo customer with a connect link that offers two API-key integrations."""
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
    return connection["link"]["url"]


def banner(facts):
    print(
        f"""
Linkgate is running locally.

  API          {facts['api_base_url']}
  API key      {facts['api_key']}   (tenant {facts['tenant_id']}, role admin)
  AWS (moto)   {facts['aws_endpoint_url']}   table {facts['table']}, bus {facts['event_bus']}
  OAuth        {facts['oauth_provider_url']}   (oidc-provider-mock; its token endpoint via {facts['oauth_proxy_url']})
  Facts        target/dev/dev.json     Logs  target/dev/*.log

Try it:
  {facts['curl']}
  curl -s {facts['api_base_url']}/v1/consumers -H 'Authorization: Bearer {facts['api_key']}'

Open this connect link in a browser (a demo customer's, valid for 7 days; Stripe and Datadog
are enabled, so any rk_test_… key or a 32-hex Datadog key completes it, and so is the local
OAuth provider, whose sign-in form takes any user name):
  {facts['connect_link']}

Ctrl-C stops everything.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["dev", "up", "down", "routes", "resources"])
    args = parser.parse_args()
    if args.command == "down":
        down()
    elif args.command == "resources":
        resolver = Resolver(load_template(), LOCAL_PARAMETERS)
        created = create_resources(resolver)
        print(json.dumps({"created": created, "function_env": function_env(resolver)}, indent=2))
    elif args.command == "routes":
        print(json.dumps(routes(load_template()), indent=2))
    elif args.command == "up":
        lock = exclusive()  # held until `up` returns; the lock only guards start-up
        try:
            facts = up(reload=False)
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
            banner(up(reload=True))
            signal.signal(signal.SIGINT, handler)
            # EventBridge Scheduler's part: the token refresher every five minutes.
            next_sweep = time.monotonic() + 300
            while not stop["now"]:
                time.sleep(0.5)
                if time.monotonic() >= next_sweep:
                    next_sweep += 300
                    sweep = json.dumps({"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
                    status, raw = request(
                        "POST", f"{LAMBDA_URL}/2015-03-31/functions/token-refresher/invocations",
                        {"Content-Type": "application/json"}, sweep.encode(), timeout=300,
                    )
                    log(f"token refresher: {status} {raw[:200]!r}")
        finally:
            down()


if __name__ == "__main__":
    main()
