"""IAM for the local stack: what AWS authorises for a request, and whether a function's role
allows it.

moto can enforce IAM itself, but not faithfully enough: it authorises every DynamoDB, KMS
and EventBridge call against the resource `*`, and a `TransactWriteItems` as one action,
while AWS checks each item of a transaction as its own action (`dynamodb:ConditionCheckItem`,
`dynamodb:PutItem`…) on its table's ARN. So moto_server.py asks this module, for every
request signed with a function's access key, which (action, resource) pairs AWS would
authorise, and refuses the request as AWS does when the function's role (deployment.py: the
template's statements as SAM deploys them) allows any of them not.

Requests signed with any other key (tests, the admin CLI, the stack itself) are the
account's own and are not checked.
"""

import base64
import fnmatch
import json
import re
import urllib.parse
from email.parser import BytesHeaderParser
from email.utils import parseaddr

JSON_TARGETS = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodb",
    "TrentService": "kms",
    "AWSEvents": "events",
    "AmazonSQS": "sqs",
}

# SQS authorises a batch as the action it batches.
SQS_BATCHES = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}

# DynamoDB transaction items and the actions IAM checks for them.
TRANSACT_WRITE = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


class Unnamed(Exception):
    """A request this model cannot name an action for: refused, since guessing could allow
    locally what AWS refuses."""


class Lookups:
    """What naming a resource may need from the running services (moto answers these)."""

    def kms_key_arn(self, key_id):
        return key_id

    def kms_key_of_ciphertext(self, blob):
        return None

    def ses_identity(self, address):
        return address.rsplit("@", 1)[-1]


def credential_scope(headers):
    """(access key id, signing service) from a SigV4 Authorization header, or (None, None)."""
    auth = headers.get("authorization", "")
    m = re.search(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/aws4_request", auth)
    return (m.group(1), m.group(2)) if m else (None, None)


def requested(method, path, query, headers, body, region, account, lookups=None):
    """The (action, resource) pairs AWS authorises for this request. Raises Unnamed."""
    lookups = lookups or Lookups()
    target = headers.get("x-amz-target", "")
    if target:
        prefix, _, op = target.partition(".")
        service = JSON_TARGETS.get(prefix)
        if service is None or not op:
            raise Unnamed(f"unknown X-Amz-Target {target!r}")
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise Unnamed(f"{target}: body is not JSON")
        if service == "dynamodb":
            return _dynamodb(op, params, region, account, streams=prefix.startswith("DynamoDBStreams"))
        if service == "kms":
            return _kms(op, params, region, account, lookups)
        if service == "events":
            return _events(op, params, region, account)
        return _sqs(op, params, region, account)
    _, signing = credential_scope(headers)
    if signing == "sqs":  # the query protocol
        form = dict(urllib.parse.parse_qsl((body or b"").decode("utf-8", "replace")))
        form.update(dict(urllib.parse.parse_qsl(query)))
        if "Action" not in form:
            raise Unnamed("an SQS request without Action")
        return _sqs(form["Action"], form, region, account)
    if signing == "ses" and method == "POST" and path.rstrip("/") == "/v2/email/outbound-emails":
        return _ses_send(json.loads(body or b"{}"), region, account, lookups)
    raise Unnamed(f"{signing or 'unsigned'} {method} {path}")


def _table_arn(name, region, account):
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def _dynamodb(op, p, region, account, streams=False):
    if streams:
        if op == "ListStreams":
            return [("dynamodb:ListStreams", "*")]
        arn = p.get("StreamArn")
        if arn is None and "ShardIterator" in p:
            # moto's iterators carry the stream they read; AWS authorises GetRecords on it
            arn = _stream_of_iterator(p["ShardIterator"])
        return [(f"dynamodb:{op}", arn or "*")]
    if op == "TransactWriteItems":
        out = []
        for item in p.get("TransactItems", []):
            (kind, spec), = item.items()
            out.append((f"dynamodb:{TRANSACT_WRITE[kind]}", _table_arn(spec["TableName"], region, account)))
        return out
    if op == "TransactGetItems":
        return [("dynamodb:GetItem", _table_arn(i["Get"]["TableName"], region, account)) for i in p.get("TransactItems", [])]
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{op}", _table_arn(t, region, account)) for t in p.get("RequestItems", {})]
    if op in ("ListTables", "DescribeLimits", "DescribeEndpoints"):
        return [(f"dynamodb:{op}", "*")]
    if "TableName" not in p:
        raise Unnamed(f"dynamodb:{op} without TableName")
    arn = _table_arn(p["TableName"], region, account)
    if op in ("Query", "Scan") and p.get("IndexName"):
        arn = f"{arn}/index/{p['IndexName']}"
    return [(f"dynamodb:{op}", arn)]


def _stream_of_iterator(iterator):
    # moto's iterators are "<stream arn>|1|<random>"; AWS's are opaque but name the stream too
    head = iterator.split("|", 1)[0]
    return head if head.startswith("arn:") else None


def _kms(op, p, region, account, lookups):
    key = p.get("KeyId")
    if key is None and op in ("Decrypt", "ReEncrypt") and "CiphertextBlob" in p:
        key = lookups.kms_key_of_ciphertext(base64.b64decode(p["CiphertextBlob"]))
    if key is None:
        if op in ("ListKeys", "ListAliases", "CreateKey", "GenerateRandom"):
            return [(f"kms:{op}", "*")]
        raise Unnamed(f"kms:{op} names no key")
    return [(f"kms:{op}", lookups.kms_key_arn(key))]


def _events(op, p, region, account):
    def bus_arn(name):
        name = name or "default"
        return name if name.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{name}"

    if op == "PutEvents":
        return [("events:PutEvents", arn) for arn in dict.fromkeys(bus_arn(e.get("EventBusName")) for e in p.get("Entries", []))]
    if "EventBusName" in p or op.endswith("EventBus"):
        return [(f"events:{op}", bus_arn(p.get("EventBusName") or p.get("Name")))]
    raise Unnamed(f"events:{op}")


def _sqs(op, p, region, account):
    action = f"sqs:{SQS_BATCHES.get(op, op)}"
    if op == "ListQueues":
        return [(action, "*")]
    if "QueueUrl" in p:
        parts = urllib.parse.urlsplit(p["QueueUrl"]).path.strip("/").split("/")
        owner, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (account, parts[-1])
        return [(action, f"arn:aws:sqs:{region}:{owner}:{name}")]
    if "QueueName" in p:
        owner = p.get("QueueOwnerAWSAccountId", account)
        return [(action, f"arn:aws:sqs:{region}:{owner}:{p['QueueName']}")]
    raise Unnamed(f"{action} names no queue")


def _ses_send(p, region, account, lookups):
    if p.get("FromEmailAddressIdentityArn"):
        identity_arn = p["FromEmailAddressIdentityArn"]
    else:
        sender = p.get("FromEmailAddress")
        if not sender:
            raw = ((p.get("Content") or {}).get("Raw") or {}).get("Data")
            headers = BytesHeaderParser().parsebytes(base64.b64decode(raw)) if raw else {}
            sender = headers.get("From", "")
        address = parseaddr(sender)[1]
        if not address:
            raise Unnamed("ses:SendEmail without a sender")
        identity_arn = f"arn:aws:ses:{region}:{account}:identity/{lookups.ses_identity(address)}"
    out = [("ses:SendEmail", identity_arn)]
    if p.get("ConfigurationSetName"):
        out.append(("ses:SendEmail", f"arn:aws:ses:{region}:{account}:configuration-set/{p['ConfigurationSetName']}"))
    return out


# --- policy evaluation -----------------------------------------------------------------


def _matches(pattern, value, case_sensitive):
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern) if any(c in pattern for c in "*?[") else pattern == value


def statement_matches(statement, action, resource):
    return any(_matches(a, action, False) for a in statement["actions"]) and any(
        _matches(r, resource, True) for r in statement["resources"]
    )


def allowed(statements, action, resource):
    """IAM's rule for one identity policy set: an explicit Deny wins, else some Allow must
    match, else the implicit deny."""
    matching = [s for s in statements if statement_matches(s, action, resource)]
    if any(s["effect"] == "Deny" for s in matching):
        return False
    return any(s["effect"] == "Allow" for s in matching)


def denial_message(principal, action, resource):
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


def denial(headers, principal, action, resource, request_id):
    """(status, headers, body) of AWS's AccessDenied for this request's protocol."""
    message = denial_message(principal, action, resource)
    target = headers.get("x-amz-target", "")
    prefix = target.partition(".")[0]
    if prefix in JSON_TARGETS:
        json_version = "1.0" if prefix.startswith("DynamoDB") or prefix == "AmazonSQS" else "1.1"
        if prefix.startswith("DynamoDB"):
            body = {"__type": "com.amazon.coral.service#AccessDeniedException", "Message": message}
        elif prefix == "AmazonSQS":
            body = {"__type": "com.amazon.coral.service#AccessDeniedException", "message": message}
        else:
            body = {"__type": "AccessDeniedException", "message": message}
        out_headers = {"Content-Type": f"application/x-amz-json-{json_version}", "x-amzn-RequestId": request_id}
        if prefix == "AmazonSQS":
            out_headers["x-amzn-query-error"] = "AccessDenied;Sender"
        return 400, out_headers, json.dumps(body).encode()
    _, signing = credential_scope(headers)
    if signing == "ses":
        return 403, {"Content-Type": "application/json", "x-amzn-ErrorType": "AccessDeniedException",
                     "x-amzn-RequestId": request_id}, json.dumps({"message": message}).encode()
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
        f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return 403, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, xml.encode()
