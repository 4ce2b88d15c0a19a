#!/usr/bin/env python3
"""Plays Lambda's SQS event sources and EventBridge rule targets on the local stack.

- A function with an `SQS` event gets batches of its queue's messages in Lambda's SQS event
  shape; the messages it does not name in `batchItemFailures` are deleted, the others come
  back after a short pause (SQS would wait out the queue's visibility timeout).
- A function with an `EventBridgeRule` event gets each event the rule matched: locally the
  rule targets a feed queue (created by stack.py), and the event is handed over as is.
  A failed invocation leaves the event to be handed over again, as EventBridge retries.

Which functions and queues: template.yaml, as Lambda would read it.
"""

import json
import sys
import threading
import time
import urllib.error

import boto3

import stack

RETRY_PAUSE = 2  # seconds before a failed message is visible again
WORKERS = 3  # concurrent pollers per queue: Lambda, too, runs batches side by side


def log(msg):
    print(f"[queue-pump] {msg}", file=sys.stderr, flush=True)


def invoke(function, payload):
    """The function's answer, or None when the invocation itself failed."""
    try:
        answer = json.loads(stack.invoke_function(function, json.dumps(payload), 120) or b"{}")
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
        log(f"{function} failed: {e}")
        return None
    if isinstance(answer, dict) and "errorType" in answer:
        log(f"{function} failed: {answer.get('errorMessage')}")
        return None
    return answer


def sqs_sources(resolver):
    out = []
    for res in resolver.resources.values():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event in (res["Properties"].get("Events") or {}).values():
            if event.get("Type") == "SQS":
                arn = resolver.resolve(event["Properties"]["Queue"])
                out.append((res["Metadata"]["BuildProperties"]["Binary"], arn.rsplit(":", 1)[1],
                            int(event["Properties"].get("BatchSize", 10))))
    return out


def pump(sqs, function, queue, batch, shape):
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while True:
        try:
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(batch, 10), WaitTimeSeconds=1,
                AttributeNames=["All"],
            ).get("Messages", [])
        except Exception as e:  # moto restarting, say
            log(f"{queue}: {e}")
            time.sleep(1)
            continue
        if not got:
            continue
        if shape == "sqs":
            records = [{
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
                "eventSourceARN": arn, "awsRegion": stack.REGION,
            } for m in got]
            answer = invoke(function, {"Records": records})
            failed = None if answer is None else {f.get("itemIdentifier") for f in answer.get("batchItemFailures") or []}
            outcomes = [(m, failed is not None and m["MessageId"] not in failed) for m in got]
        else:  # rule: one event per invocation, the message body is the event
            outcomes = [(m, invoke(function, json.loads(m["Body"])) is not None) for m in got]
        for m, ok in outcomes:
            if ok:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=RETRY_PAUSE)


def main():
    template = stack.load_template()
    resolver = stack.Resolver(template, stack.LOCAL_PARAMETERS)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=stack.REGION)
    sqs = session.client("sqs", endpoint_url=stack.MOTO_URL)
    jobs = [(f, q, b, "sqs") for f, q, b in sqs_sources(resolver)]
    jobs += [(f, stack.feed_queue(f), 10, "rule") for f, _, _ in stack.rule_targets(resolver)]
    for function, queue, batch, shape in jobs:
        log(f"{queue} → {function} ({shape}, {WORKERS} pollers)")
        for _ in range(WORKERS):
            threading.Thread(target=pump, args=(sqs, function, queue, batch, shape), daemon=True).start()
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
