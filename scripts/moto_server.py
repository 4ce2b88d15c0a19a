#!/usr/bin/env python3
"""moto's server, made as strict as AWS where the local stack relies on it.

- **One DynamoDB request at a time.** moto applies a DynamoDB transaction to a deep copy of
  the table and, when any condition fails, puts the whole copy back. With requests served in
  parallel, a cancelled transaction therefore erases writes that other requests made
  meanwhile; real DynamoDB isolates transactions and never does. Other services run in
  parallel: an SQS long poll must not hold up the table.
- **Cheap transaction rollback.** moto backs every transaction up by deep-copying the whole
  table once per operation in it, until a few thousand items make each transaction take a
  third of a second; `cheap_transaction_rollback` snapshots only the items the transaction
  names and the stream's length, and restores exactly those when it is cancelled.
- **Queries read one partition.** moto answers every Query by sorting every item of the table
  (its `all_items`), so a query's cost grows with the table: at 30,000 items each one took
  close to a second, a full test run slowed the stack down until functions hit their timeout.
  `partition_queries` hands a table query only the items of its partition and an index query
  the unsorted items, which moto then filters and sorts itself; the TTL sweep walks the
  items unsorted too. The answers are unchanged (tests/test_moto_server.py compares them).
- **IAM, from the template** (loaded by stack.py once it created the resources). A request signed with a function's access key
  is authorised as AWS authorises it (scripts/local_iam.py: each item of a transaction as its
  own action, on the table, index, key, queue, bus or identity it names) against that
  function's role, and refused with AWS's AccessDenied otherwise. Every authorisation is
  recorded for `make iam-report`.
- **No instance tracking.** moto keeps every model object it ever made for its dashboard
  (`/moto-api/data.json`): every item, every copy a transaction took, every message, never
  freed. Late in `make test` the dashboard took 14 s to build (6 MB), holding the
  interpreter while functions waited on the table past their 10 s timeout.
  `untracked_models` stops that; what tests read of moto's state they read from
  `GET /_local/ses/messages` (every email SES took) and `GET /_local/sqs/messages` (every
  message any queue took, kept as JSON text, deleted or not), each cheap.
- **Searching the table without scanning it.** Tests prove a secret is stored nowhere by
  looking at every item. Through Scan that cost moto about 1 ms an item (most of it
  building the response), under the table's lock: 15 s for 20,000 items, while functions
  waited past their timeout. `GET /_local/dynamodb/mentions?needle=…` walks the items'
  names and text once (0.1 s for 20,000 items) and answers those that mention it.
- **TTL.** DynamoDB deletes an item some time after its TTL attribute has passed and writes a
  `REMOVE` stream record whose `userIdentity` is the TTL service's; moto never does. A
  sweeper does it here, `--ttl-delay` seconds after the time (default 5).
"""

import argparse
import base64
import copy
import io
import json
import signal
import sys
import threading
import time
import urllib.parse
import uuid

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

import local_iam

ACCOUNT = "123456789012"
# As DynamoDB Streams' API spells it (Lambda hands it over as {"type", "principalId"}).
TTL_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}

# Held for every DynamoDB request and by the TTL sweeper (see the module doc).
DYNAMODB = threading.Lock()
SLOW_SECONDS = 1.0


def log(msg):
    print(f"[moto] {msg}", file=sys.stderr, flush=True)


def serialised(app):
    def handle(environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return list(app(environ, start_response))
        with DYNAMODB:
            started = time.monotonic()
            # materialise the body inside the lock: moto's responses are built eagerly,
            # but a lazy iterable must not escape it
            body = list(app(environ, start_response))
            held = time.monotonic() - started
        if held > SLOW_SECONDS:
            # every other table call waited this long: the first thing to look at when
            # functions time out
            log(f"slow: {environ['HTTP_X_AMZ_TARGET']} held the table {held:.1f} s")
        return body

    return handle


def cheap_transaction_rollback():
    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class NoTableCopy:
        """`copy` for moto's module, except that a whole table is not copied."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = NoTableCopy()
    original = models.DynamoDBBackend.transact_write_items

    def keys_of(backend, transact_items):
        for entry in transact_items:
            op = next(iter(entry.values()), {})
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Item") if "Item" in op else op.get("Key") or {}
            if table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = None
            if table.has_range_key:
                if table.range_key_attr not in key:
                    continue
                range_key = DynamoType(key[table.range_key_attr])
            yield table, hash_key, range_key

    def transact_write_items(self, transact_items):
        saved = []
        streams = {}
        for table, hash_key, range_key in keys_of(self, transact_items):
            current = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, copy.deepcopy(current)))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                if table.has_range_key:
                    if item is None:
                        table.items[hash_key].pop(range_key, None)
                    else:
                        table.items[hash_key][range_key] = item
                elif item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


def unsorted_items(table):
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def partition_queries():
    import inspect

    from moto.dynamodb.models.table import Table

    original = Table.query
    signature = inspect.signature(original)

    def query(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs).arguments
        hash_key = bound.get("hash_key")
        if bound.get("index_name") is None and hash_key is not None:
            partition = self.items.get(hash_key)
            if partition is None:
                candidates = []
            elif self.range_key_attr:
                candidates = list(partition.values())
            else:
                candidates = [partition]
        else:
            candidates = unsorted_items(self)
            index = next((i for i in self.all_indexes() if i.name == bound.get("index_name")), None)
            hash_attr = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None) if index else None
            if hash_attr is not None and hash_key is not None:
                # the one comparison moto makes first, without its per-item overhead
                candidates = [
                    item for item in candidates
                    if (v := item.attrs.get(hash_attr)) is not None
                    and v.type == hash_key.type and v.value == hash_key.value
                ]
        # moto's query reads the candidates through all_items and sorts what it keeps
        self.all_items = lambda: candidates
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


# --- what tests read of moto's state -------------------------------------------------

SENT_TO_QUEUES = []  # JSON text of each message a queue took, in order
SENT_TO_QUEUES_LOCK = threading.Lock()


def untracked_models():
    from moto.core.common_models import BaseModel

    def new(cls, *args, **kwargs):
        return object.__new__(cls)

    BaseModel.__new__ = staticmethod(new)


def journal_queue_messages():
    from moto.sqs.models import Queue

    original = Queue.add_message

    def add_message(self, message):
        entry = json.dumps({"queue": self.name, "id": message.id, "body": message.body,
                            "attributes": message.message_attributes}, default=str)
        with SENT_TO_QUEUES_LOCK:
            SENT_TO_QUEUES.append(entry)
        return original(self, message)

    Queue.add_message = add_message


def public_fields(obj):
    """What moto's dashboard showed of an object: its public attributes that are JSON."""
    out = {"type": type(obj).__name__}
    for name, value in vars(obj).items():
        if name.startswith("_"):
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[name] = value
    return out


def sent_emails():
    from moto.ses.models import ses_backends

    return [public_fields(m) for backend in ses_backends[ACCOUNT].values() for m in backend.sent_messages]


def mentions(value, needle):
    """Whether a DynamoDB value (moto's DynamoType) holds `needle` in its text."""
    kind, v = value.type, value.value
    if kind in ("S", "N"):
        return needle in v
    if kind in ("SS", "NS"):
        return any(needle in x for x in v)
    if kind == "L":
        return any(mentions(x, needle) for x in v)
    if kind == "M":
        return any(needle in k or mentions(x, needle) for k, x in v.items())
    return False


def items_mentioning(needle):
    """Every item of every table with `needle` in an attribute's name or text, as DynamoDB
    JSON (`{name: {"S": …}}`)."""
    from moto.dynamodb.models import dynamodb_backends

    found = []
    with DYNAMODB:
        for backend in dynamodb_backends[ACCOUNT].values():
            for table in backend.tables.values():
                for item in unsorted_items(table):
                    if any(needle in name or mentions(value, needle) for name, value in item.attrs.items()):
                        found.append(item.to_json()["Attributes"])
    return found


def local_reads(app):
    """WSGI: `GET /_local/ses/messages`, `/_local/sqs/messages` and
    `/_local/dynamodb/mentions?needle=` (see the module doc)."""

    def handle(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or not path.startswith("/_local/"):
            return app(environ, start_response)
        if path == "/_local/ses/messages":
            body = json.dumps(sent_emails())
        elif path == "/_local/sqs/messages":
            with SENT_TO_QUEUES_LOCK:
                body = "[" + ",".join(SENT_TO_QUEUES) + "]"
        elif path == "/_local/dynamodb/mentions":
            needle = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("needle", [""])[0]
            if not needle:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error": "needle is required"}']
            # binary values as the wire carries them, base64
            body = json.dumps(items_mentioning(needle), default=lambda b: base64.b64encode(b).decode())
        else:
            return app(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]

    return handle


# --- IAM ------------------------------------------------------------------------------


class MotoLookups(local_iam.Lookups):
    """Names resources the way AWS would, from what moto holds."""

    def __init__(self, region):
        self.region = region

    def kms_key_arn(self, key_id):
        from moto.kms.models import kms_backends

        backend = kms_backends[ACCOUNT][self.region]
        try:
            raw = backend.any_id_to_key_id(key_id)
        except Exception:
            raw = None
        if not raw:  # an unknown alias: AWS authorises against the alias
            return key_id if key_id.startswith("arn:") else f"arn:aws:kms:{self.region}:{ACCOUNT}:{key_id}"
        return f"arn:aws:kms:{self.region}:{ACCOUNT}:key/{raw}"

    def kms_key_of_ciphertext(self, blob):
        from moto.kms.utils import _deserialize_ciphertext_blob

        try:
            return _deserialize_ciphertext_blob(blob).key_id
        except Exception:
            return None

    def ses_identity(self, address):
        from moto.ses.models import ses_backends

        verified = ses_backends[ACCOUNT][self.region].email_identities
        return address if address in verified else address.rsplit("@", 1)[-1].lower()


class IamCheck:
    """WSGI middleware: refuses what a function's role does not allow (see the module doc)."""

    def __init__(self, app, region):
        self.app = app
        self.region = region
        self.lookups = MotoLookups(region)
        self.principals = {}
        self.lock = threading.Lock()
        self.seen = set()
        self.log = None

    def load(self, deployment_path, log_path):
        """The functions' roles (deployment.json), once the stack has created what they
        name; until then no access key is a function's."""
        with open(deployment_path, encoding="utf-8") as f:
            functions = json.load(f)["functions"]
        with self.lock:
            self.principals = {fn["access_key"]: fn for fn in functions.values()}
            self.seen = set()
            self.log = open(log_path, "a", encoding="utf-8") if log_path else None

    def record(self, principal, action, resource, allowed):
        entry = (principal["name"], principal["access_key"], action, resource, allowed)
        with self.lock:
            if entry in self.seen or self.log is None:
                return
            self.seen.add(entry)
            self.log.write(json.dumps({
                "function": principal["name"], "access_key": principal["access_key"], "action": action,
                "resource": resource, "allowed": allowed, "at": time.time(),
            }) + "\n")
            self.log.flush()

    def admin(self, path, start_response, body):
        """POST /_local/iam/load {deployment, log}: the functions' roles. POST
        /_local/iam/principals: one more principal (a test's copy of a function's role,
        compiled from a changed template)."""
        spec = json.loads(body)
        if path == "/_local/iam/load":
            self.load(spec["deployment"], spec.get("log"))
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"functions": len(self.principals)}).encode()]
        for key in ("name", "access_key", "principal", "statements"):
            if key not in spec:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [json.dumps({"error": f"missing {key}"}).encode()]
        with self.lock:
            self.principals[spec["access_key"]] = spec
        start_response("201 Created", [("Content-Type", "application/json")])
        return [json.dumps({"registered": spec["access_key"]}).encode()]

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        body = stream.read(length) if length else (stream.read() if environ.get("wsgi.input_terminated") else b"")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_local/iam/") and environ.get("REQUEST_METHOD") == "POST":
            return self.admin(path, start_response, body)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        key, _ = local_iam.credential_scope(headers)
        principal = self.principals.get(key)
        if principal is None:  # the account itself: tests, the admin CLI, the stack
            return self.app(environ, start_response)
        try:
            asked = local_iam.requested(
                environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"),
                environ.get("QUERY_STRING", ""), headers, body, self.region, ACCOUNT, self.lookups,
            )
        except Exception as e:  # what the model cannot name is refused, never let through
            asked = [(f"unnamed:{e}", "*")]
        for action, resource in asked:
            ok = not action.startswith("unnamed:") and local_iam.allowed(principal["statements"], action, resource)
            self.record(principal, action, resource, ok)
            if not ok:
                log(f"AccessDenied: {principal['name']} {action} on {resource}")
                status, out_headers, payload = local_iam.denial(
                    headers, principal["principal"], action, resource, str(uuid.uuid4()))
                reason = {400: "Bad Request", 403: "Forbidden"}[status]
                start_response(f"{status} {reason}", list(out_headers.items()))
                return [payload]
        return self.app(environ, start_response)


# --- TTL ------------------------------------------------------------------------------


def sweep_ttl(delay, now=None):
    """Deletes every item whose TTL passed more than `delay` seconds ago, as DynamoDB's TTL
    does: the stream record names the TTL service as the one who removed it."""
    from moto.dynamodb.models import dynamodb_backends

    now = time.time() if now is None else now
    removed = 0
    with DYNAMODB:
        for region, backend in dynamodb_backends[ACCOUNT].items():
            for table in backend.tables.values():
                ttl = getattr(table, "ttl", None) or {}
                if ttl.get("TimeToLiveStatus") != "ENABLED":
                    continue
                attribute = ttl["AttributeName"]
                for item in unsorted_items(table):
                    value = item.attrs.get(attribute)
                    # DynamoDB only expires numbers (epoch seconds), and not ones more than
                    # five years in the past
                    if value is None or value.type != "N":
                        continue
                    try:
                        expires = float(value.value)
                    except ValueError:
                        continue
                    if not (now - 5 * 365 * 86400 <= expires <= now - delay):
                        continue
                    before = len(table.stream_shard.items) if table.stream_shard is not None else 0
                    table.delete_item(item.hash_key, item.range_key)
                    if table.stream_shard is not None and len(table.stream_shard.items) > before:
                        table.stream_shard.items[-1].record["userIdentity"] = dict(TTL_IDENTITY)
                    removed += 1
    return removed


def ttl_sweeper(interval, delay):
    while True:
        time.sleep(interval)
        try:
            removed = sweep_ttl(delay)
            if removed:
                log(f"TTL removed {removed} expired items")
        except Exception as e:  # a sweep racing table creation, say: the next one will do
            log(f"TTL sweep failed: {e!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5055)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--ttl-delay", type=float, help="seconds after its TTL an item is deleted (off if unset)")
    parser.add_argument("--ttl-interval", type=float, default=1.0)
    parser.add_argument("--slow-seconds", type=float, default=1.0,
                        help="log a table call that holds the table longer than this")
    args = parser.parse_args()
    global SLOW_SECONDS
    SLOW_SECONDS = args.slow_seconds
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    untracked_models()
    journal_queue_messages()
    cheap_transaction_rollback()
    partition_queries()
    # checks nothing until the stack loads the roles (POST /_local/iam/load)
    app = local_reads(IamCheck(serialised(DomainDispatcherApplication(create_backend_app)), args.region))
    if args.ttl_delay is not None:
        threading.Thread(target=ttl_sweeper, args=(args.ttl_interval, args.ttl_delay), daemon=True).start()
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
