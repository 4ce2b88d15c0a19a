"""What `sam deploy` makes of template.yaml, for the local stack.

The template is run through SAM's own translator (PyPI `aws-sam-translator`, the code `sam
deploy` runs), so the local stack sees the CloudFormation a deployment gets: the functions with
their Globals merged in, the IAM role SAM writes for each (the template's statements plus the
AWS managed policies its event sources imply), the event source mappings with their filters,
and the EventBridge rules. Intrinsic functions are then resolved for the local stage.

`Deployment` is computed once by stack.py and written to target/dev/deployment.json; the
other processes of the local stack (moto's IAM check, the Lambda service, the pumps) read
that file.
"""

import copy
import hashlib
import json
import os
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DEPLOYMENT_FILE = ROOT / "target" / "dev" / "deployment.json"

REGION = os.environ.get("AWS_REGION", "us-east-1")
ACCOUNT = "123456789012"
HOST = "127.0.0.1"
MOTO_PORT = int(os.environ.get("LINKGATE_MOTO_PORT", "5055"))
API_PORT = int(os.environ.get("LINKGATE_API_PORT", "9000"))
MOTO_URL = f"http://{HOST}:{MOTO_PORT}"
API_URL = f"http://{HOST}:{API_PORT}"
STACK_NAME = "linkgate-local"
# What routes() calls the API's `$default` route (an HttpApi event without Path and Method).
DEFAULT_ROUTE = "$default"

# Template parameters for the local stage. `local` lets redirect URLs use http on loopback.
LOCAL_PARAMETERS = {
    "Stage": "local",
    "PublicBaseUrl": API_URL,
    # make test runs the functions at TRACE, the most verbose (no secret may reach a log)
    "LogLevel": os.environ.get("LINKGATE_LOG_LEVEL", "INFO"),
    "LogRetentionDays": "1",
    # small enough for the tests to reach them
    "MaxWebhookEndpoints": "8",
    "MaxEmailsPerHour": "12",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": STACK_NAME,
}

# The documents of the AWS managed policies SAM attaches to function roles (as AWS publishes
# them). A role naming any other managed policy stops the stack: its document belongs here.
MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "*"},
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {"Effect": "Allow", "Action": [
            "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
            "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"], "Resource": "*"},
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole": [
        {"Effect": "Allow", "Action": [
            "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
            "dynamodb:ListStreams", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "*"},
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        {"Effect": "Allow", "Action": [
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
            "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
    ],
}


class UnsupportedTemplate(Exception):
    """Something the local stack cannot play faithfully: refused rather than guessed."""


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


def load_template(path=TEMPLATE):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


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


def sam_transform(template, params):
    """The CloudFormation `sam deploy` would submit for `template` (SAM's own translator)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    from samtranslator.translator.transform import transform

    class NoManagedPolicyNames:
        """Policies name managed policies by ARN here; a bare name would need IAM to look up."""

        def load(self):
            return {}

    template = copy.deepcopy(template)
    for res in template.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            # what `sam package` puts there: the translator insists on an S3 location
            res["Properties"]["CodeUri"] = "s3://local/code.zip"
    values = {k: v for k, v in params.items() if not k.startswith("AWS::")}
    return transform(template, values, NoManagedPolicyNames())


ARN_FORMATS = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{acct}:table/{name}",
    "AWS::Events::EventBus": "arn:aws:events:{region}:{acct}:event-bus/{name}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{acct}:rule/{bus}/{name}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{acct}:key/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{acct}:{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{acct}:function:{name}",
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{acct}:function:{name}",
    "AWS::IAM::Role": "arn:aws:iam::{acct}:role/{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{acct}:log-group:{name}:*",
}


class Resolver:
    """Evaluates the intrinsic functions of a (transformed) template, for the local stage."""

    def __init__(self, template, params):
        self.template = template
        self.created = {}  # physical ids only known once created (KMS key ids, stream ARNs)
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
        if kind == "AWS::Logs::LogGroup":
            return self.resolve(props["LogGroupName"])
        if kind in ("AWS::Lambda::Function", "AWS::Serverless::Function"):
            # locally a function is called by its binary's name
            return res["Metadata"]["BuildProperties"]["Binary"]
        if kind in ("AWS::ApiGatewayV2::Api", "AWS::Serverless::HttpApi"):
            return "local"
        if kind in ("AWS::IAM::Role", "AWS::Events::Rule"):
            return f"{self.params['AWS::StackName']}-{logical}"
        if logical in self.created:
            return self.created[logical]
        return logical

    def arn(self, logical):
        kind = self.resources[logical]["Type"]
        fields = {
            "name": self.physical_name(logical),
            "acct": self.params["AWS::AccountId"],
            "region": self.params["AWS::Region"],
        }
        if kind == "AWS::Events::Rule":
            fields["bus"] = self.resolve(self.resources[logical]["Properties"].get("EventBusName", "default"))
        return ARN_FORMATS.get(kind, "arn:aws:local:{region}:{acct}:" + logical).format(**fields)

    def ref(self, name):
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            kind = self.resources[name]["Type"]
            if kind == "AWS::SQS::Queue":
                return self.getatt(name, "QueueUrl")  # Ref of a queue is its URL
            return self.physical_name(name)
        raise UnsupportedTemplate(f"template refers to unknown {name}")

    def condition(self, name):
        return self.resolve(self.template["Conditions"][name])

    def resolve(self, value):
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if fn == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

                def sub(m):
                    key = m.group(1)
                    if key in extra:
                        return str(extra[key])
                    if "." in key:
                        logical, attr = key.split(".", 1)
                        return str(self.getatt(logical, attr))
                    return str(self.ref(key))

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if fn == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(logical, attr)
            if fn == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.condition(cond) else no)
            if fn == "Fn::Equals":
                a, b = self.resolve(arg)
                return a == b
            if fn == "Fn::Not":
                return not self.resolve(arg[0])
            if fn == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if fn == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::Join":
                sep, parts = arg
                return sep.join(str(p) for p in self.resolve(parts))
            if fn == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if fn.startswith("Fn::"):
                raise UnsupportedTemplate(f"{fn} is not played by the local stack")
        out = {}
        for k, v in value.items():
            v = self.resolve(v)
            if v is not NO_VALUE:
                out[k] = v
        return out

    def getatt(self, logical, attr):
        if attr == "Arn":
            return self.arn(logical)
        if attr == "QueueUrl":
            return f"{MOTO_URL}/{self.params['AWS::AccountId']}/{self.physical_name(logical)}"
        if attr == "StreamArn":
            # moto names the stream when it creates the table; until then, a stand-in
            return self.created.get(f"{logical}.StreamArn", f"{self.arn(logical)}/stream/not-created")
        return self.physical_name(logical)


NO_VALUE = object()
NO_VALUE_REF = {"Ref": "AWS::NoValue"}


# --- the deployment -------------------------------------------------------------------


def aws_client(service, access_key="test", secret="test", endpoint=None):
    """A boto3 client on the local stack's moto: the account's own credentials by default,
    a function's role when given its access key."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret, region_name=REGION
    ).client(service, endpoint_url=endpoint or MOTO_URL)


def queue_url(arn):
    """The local URL of the SQS queue `arn` names."""
    _, _, _, _, account, name = arn.split(":")
    return f"{MOTO_URL}/{account}/{name}"


def lambda_environment(fn, local_env):
    """What Lambda gives function `fn` (deployment.json's entry), its Runtime API address and
    log stream aside: the template's variables, this machine's settings over them, its
    role's credentials (moto checks its calls against that role) and Lambda's own."""
    env = {
        **fn["environment"],
        **local_env,
        "AWS_ACCESS_KEY_ID": fn["access_key"],
        "AWS_SECRET_ACCESS_KEY": "local-secret",
        "AWS_SESSION_TOKEN": f"local-session-{fn['name']}",
        "AWS_LAMBDA_FUNCTION_NAME": fn["name"],
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn["memory"]),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn['name']}",
        "_HANDLER": "bootstrap",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    }
    if fn.get("log_level"):
        env["AWS_LAMBDA_LOG_LEVEL"] = fn["log_level"]
    return env


def access_key(binary):
    """The credentials Lambda hands function `binary` (its role's), locally: one access key
    per function, so moto's IAM check knows which function is calling."""
    return "ASIA" + hashlib.sha256(binary.encode()).hexdigest()[:16].upper()


def _statements(document, where, managed=False):
    out = []
    for st in document.get("Statement", []):
        unknown = set(st) - {"Sid", "Effect", "Action", "Resource"}
        if unknown:
            raise UnsupportedTemplate(
                f"{where}: statement keys {sorted(unknown)} are not checked by the local IAM model; "
                "extend scripts/local_iam.py before using them"
            )
        actions = st.get("Action") if isinstance(st.get("Action"), list) else [st.get("Action")]
        resources = st.get("Resource") if isinstance(st.get("Resource"), list) else [st.get("Resource")]
        if st.get("Effect") not in ("Allow", "Deny") or not all(isinstance(v, str) and v for v in actions + resources):
            # IAM refuses such a policy, so would the deployment
            raise UnsupportedTemplate(f"{where}: a statement needs an Effect, actions and resources: {st}")
        out.append({"effect": st["Effect"], "actions": actions, "resources": resources, "source": where,
                    "managed": managed})
    return out


def build(template_path=TEMPLATE, params=None, created=None):
    """The resolved deployment of `template_path` as a JSON-able dict (see the module doc)."""
    params = {**LOCAL_PARAMETERS, **(params or {})}
    sam = load_template(template_path)
    cfn = sam_transform(sam, params)
    resolver = Resolver(cfn, params)
    resolver.created.update(created or {})
    resources = cfn["Resources"]

    functions = {}
    for logical, res in resources.items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        props = res["Properties"]
        binary = res["Metadata"]["BuildProperties"]["Binary"]
        role_logical = props["Role"]["Fn::GetAtt"][0]
        role = resources[role_logical]["Properties"]
        statements = []
        for policy in role.get("Policies") or []:
            doc = resolver.resolve(policy["PolicyDocument"])
            statements += _statements(doc, f"{logical}: {policy['PolicyName']}")
        for arn in role.get("ManagedPolicyArns") or []:
            arn = resolver.resolve(arn)
            if arn not in MANAGED_POLICIES:
                raise UnsupportedTemplate(f"{logical}: managed policy {arn} has no document in scripts/deployment.py")
            statements += _statements({"Statement": MANAGED_POLICIES[arn]}, f"{logical}: {arn.rsplit('/', 1)[1]}",
                                      managed=True)
        env = {k: str(v) for k, v in resolver.resolve((props.get("Environment") or {}).get("Variables") or {}).items()}
        logging = resolver.resolve(props.get("LoggingConfig") or {})
        role_name = resolver.physical_name(role_logical)
        reserved = resolver.resolve(props.get("ReservedConcurrentExecutions", NO_VALUE_REF))
        functions[binary] = {
            "logical": logical,
            "name": binary,
            "arn": resolver.arn(logical),
            "role_arn": resolver.arn(role_logical),
            "principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{binary}",
            "access_key": access_key(binary),
            "timeout": int(resolver.resolve(props.get("Timeout", 3))),
            "memory": int(resolver.resolve(props.get("MemorySize", 128))),
            "reserved_concurrency": None if reserved is NO_VALUE else int(reserved),
            "log_level": logging.get("ApplicationLogLevel"),
            "log_format": logging.get("LogFormat", "Text"),
            "environment": env,
            "statements": statements,
            "async": {"maximum_retry_attempts": 2, "maximum_event_age": 21600, "on_failure": None,
                      "dead_letter": resolver.resolve((props.get("DeadLetterConfig") or {}).get("TargetArn"))},
        }
    by_logical = {f["logical"]: f for f in functions.values()}

    for logical, res in resources.items():
        if res["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        props = resolver.resolve(res["Properties"])
        fn = next(f for f in functions.values() if f["name"] == props["FunctionName"])
        failure = (props.get("DestinationConfig") or {}).get("OnFailure") or {}
        fn["async"].update({
            "maximum_retry_attempts": int(props.get("MaximumRetryAttempts", 2)),
            "maximum_event_age": int(props.get("MaximumEventAgeInSeconds", 21600)),
            "on_failure": failure.get("Destination"),
        })

    event_sources = []
    for logical, res in resources.items():
        if res["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = res["Properties"]
        function = resolver.resolve(props["FunctionName"])
        source_logical, attribute = props["EventSourceArn"]["Fn::GetAtt"]
        kind = "dynamodb" if attribute == "StreamArn" else "sqs"
        filters = [f["Pattern"] for f in (props.get("FilterCriteria") or {}).get("Filters") or []]
        failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        event_sources.append({
            "logical": logical,
            "function": function,
            "kind": kind,
            "source_arn": resolver.resolve(props["EventSourceArn"]),
            "source_logical": source_logical,
            "batch_size": int(props.get("BatchSize", 100 if kind == "dynamodb" else 10)),
            "batching_window": int(props.get("MaximumBatchingWindowInSeconds", 0)),
            "filters": [resolver.resolve(f) for f in filters],
            "maximum_retry_attempts": int(props.get("MaximumRetryAttempts", -1)),
            "bisect_on_error": bool(props.get("BisectBatchOnFunctionError", False)),
            "report_batch_item_failures": "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            "on_failure": resolver.resolve(failure) if failure else None,
        })

    rules = []
    for logical, res in resources.items():
        if res["Type"] != "AWS::Events::Rule":
            continue
        props = res["Properties"]
        targets = []
        for t in props.get("Targets") or []:
            target_logical = t["Arn"]["Fn::GetAtt"][0]
            if target_logical not in by_logical:
                raise UnsupportedTemplate(f"{logical}: only Lambda targets are played locally")
            targets.append({
                "function": by_logical[target_logical]["name"],
                "retry_policy": t.get("RetryPolicy") or {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                "dead_letter_arn": resolver.resolve((t.get("DeadLetterConfig") or {}).get("Arn")),
            })
        rules.append({
            "logical": logical,
            "name": resolver.physical_name(logical),
            "arn": resolver.arn(logical),
            "bus": resolver.resolve(props.get("EventBusName", "default")),
            "pattern": resolver.resolve(props["EventPattern"]),
            "targets": targets,
        })

    schedules = []
    for logical, res in resources.items():
        if res["Type"] == "AWS::Scheduler::Schedule":
            props = res["Properties"]
            target_logical = props["Target"]["Arn"]["Fn::GetAtt"][0]
            schedules.append({
                "logical": logical,
                "expression": resolver.resolve(props["ScheduleExpression"]),
                "function": by_logical[target_logical]["name"],
            })

    return {
        "params": resolver.params,
        "functions": functions,
        "event_sources": event_sources,
        "rules": rules,
        "schedules": schedules,
    }


def load(path=DEPLOYMENT_FILE):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
