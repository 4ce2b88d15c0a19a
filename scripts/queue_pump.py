#!/usr/bin/env python3
"""Plays Lambda's SQS event source mappings and EventBridge's Lambda rule targets locally,
from deployment.json (the template as SAM deploys it).

- An SQS mapping receives with its function's role, drops (deletes) the messages its
  `FilterCriteria` do not match, and hands the rest over in batches of at most `BatchSize`
  in Lambda's SQS event shape. Messages the function names in `batchItemFailures`, or all of
  them when it fails, come back after a short pause (SQS would wait out the queue's
  visibility timeout); the others are deleted.
- A rule target: locally the rule targets a feed queue (created by stack.py), and each event
  it matched is handed to the function the way EventBridge hands it over: an asynchronous
  invocation (Lambda then retries a failing function itself, see lambda_service.py). When
  Lambda refuses the invocation, EventBridge retries per the target's `RetryPolicy`, and an
  event it cannot deliver goes to the target's dead-letter queue.
"""

import json
import sys
import threading
import time
import urllib.error

import deployment as dep
import event_filter
import stack

RETRY_PAUSE = 2  # seconds before a failed message is visible again
WORKERS = 3  # concurrent pollers per queue: Lambda, too, runs batches side by side


def log(msg):
    print(f"[queue-pump] {msg}", file=sys.stderr, flush=True)


def sqs_mapping(spec, fn):
    """One poller of an SQS event source mapping."""
    own = dep.aws_client("sqs", fn["access_key"], "local-secret")  # the mapping reads with the function's role
    account = dep.aws_client("sqs")  # the local shortcut of a short visibility timeout is ours
    url = dep.queue_url(spec["source_arn"])
    filters = event_filter.Filters(spec["filters"])
    while True:
        try:
            got = own.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(spec["batch_size"], 10), WaitTimeSeconds=1,
                AttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])
        except Exception as e:  # moto restarting, say
            log(f"{spec['function']}: {e}")
            time.sleep(1)
            continue
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
            "eventSourceARN": spec["source_arn"], "awsRegion": dep.REGION,
        } for m in got]
        wanted = []
        for r in records:
            if filters.matches(event_filter.sqs_view(r)):
                wanted.append(r)
            else:  # Lambda deletes what no filter matches
                own.delete_message(QueueUrl=url, ReceiptHandle=r["receiptHandle"])
        if not wanted:
            continue
        failed = {r["messageId"] for r in wanted}
        try:
            answer = json.loads(stack.invoke_function(spec["function"], json.dumps({"Records": wanted}), 900) or b"{}")
            if spec["report_batch_item_failures"] and isinstance(answer, dict):
                named = {f.get("itemIdentifier") for f in answer.get("batchItemFailures") or [] if isinstance(f, dict)}
                failed = named if named <= failed else failed  # an unknown id fails the batch
            else:
                failed = set()
        except stack.FunctionError as e:
            log(f"{spec['function']} failed: {e}")
        except (urllib.error.URLError, TimeoutError, ValueError) as e:
            log(f"{spec['function']} could not be invoked: {e}")
        for r in wanted:
            if r["messageId"] in failed:
                account.change_message_visibility(QueueUrl=url, ReceiptHandle=r["receiptHandle"],
                                                  VisibilityTimeout=RETRY_PAUSE)
            else:
                own.delete_message(QueueUrl=url, ReceiptHandle=r["receiptHandle"])


def rule_target(rule, target):
    """EventBridge delivering the rule's events to one Lambda target."""
    sqs = dep.aws_client("sqs")
    url = sqs.get_queue_url(QueueName=stack.feed_queue(rule["logical"]))["QueueUrl"]
    policy = target["retry_policy"]
    while True:
        try:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                      AttributeNames=["All"]).get("Messages", [])
        except Exception as e:
            log(f"{rule['name']}: {e}")
            time.sleep(1)
            continue
        for m in got:
            attempts = int(m["Attributes"].get("ApproximateReceiveCount", "1"))
            age = time.time() - int(m["Attributes"].get("SentTimestamp", "0")) / 1000
            try:
                stack.invoke_function(target["function"], m["Body"], 30, asynchronous=True)
                delivered, retryable, reason = True, False, None
            except urllib.error.HTTPError as e:
                delivered, reason = False, f"{e.code} {e.headers.get('x-amzn-ErrorType')}"
                retryable = e.code == 429 or e.code >= 500
            except (urllib.error.URLError, TimeoutError) as e:
                delivered, retryable, reason = False, True, str(e)
            if delivered:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                continue
            exhausted = attempts > policy.get("MaximumRetryAttempts", 185) or age > policy.get("MaximumEventAgeInSeconds", 86400)
            if retryable and not exhausted:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=RETRY_PAUSE)
                continue
            log(f"{rule['name']} → {target['function']}: not delivered ({reason})")
            if target.get("dead_letter_arn"):
                sqs.send_message(QueueUrl=dep.queue_url(target["dead_letter_arn"]), MessageBody=m["Body"],
                                 MessageAttributes={"ERROR_CODE": {"DataType": "String", "StringValue": reason or ""}})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def main():
    deployed = dep.load()
    jobs = []
    for spec in deployed["event_sources"]:
        if spec["kind"] == "sqs":
            fn = deployed["functions"][spec["function"]]
            jobs.append((f"{spec['source_arn']} → {spec['function']}", sqs_mapping, (spec, fn)))
    for rule in deployed["rules"]:
        for target in rule["targets"]:
            jobs.append((f"rule {rule['name']} → {target['function']}", rule_target, (rule, target)))
    for what, job, args in jobs:
        log(f"{what} ({WORKERS} pollers)")
        for _ in range(WORKERS):
            threading.Thread(target=job, args=args, daemon=True).start()
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
