#!/usr/bin/env python3
"""Feeds the table's stream to the stream-triggered functions the way Lambda's event source
mapping does: batches of up to 100 records in order, partial batch responses honoured
(retry from the first failed record, after a pause), a bounded number of retries.

Which functions read the stream comes from template.yaml (their `DynamoDB` events).
"""

import json
import sys
import time
import urllib.error
from datetime import datetime

import boto3

import stack

BATCH = 100
MAX_RETRIES = 20


def stream_functions(template):
    out = []
    for res in (template.get("Resources") or {}).values():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (res.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "DynamoDB":
                out.append(res["Metadata"]["BuildProperties"]["Binary"])
    return out


def invoke(function, records, stream_arn):
    for r in records:
        r["eventSourceARN"] = stream_arn
    body = json.dumps({"Records": records}, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v))
    try:
        return json.loads(stack.invoke_function(function, body, 120) or b"{}")
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
        print(f"[pump] {function} failed: {e}", file=sys.stderr, flush=True)
        return None


def deliver(function, records, stream_arn):
    """Delivers a batch until every record is done or retries run out."""
    pending = records
    for attempt in range(MAX_RETRIES):
        answer = invoke(function, [dict(r) for r in pending], stream_arn)
        if answer is None:  # the whole batch failed
            time.sleep(min(1 + attempt, 5))
            continue
        failures = [f.get("itemIdentifier") for f in answer.get("batchItemFailures") or []]
        if not failures:
            return
        seqs = [r["dynamodb"]["SequenceNumber"] for r in pending]
        first = min((seqs.index(f) for f in failures if f in seqs), default=0)
        pending = pending[first:]
        time.sleep(min(1 + attempt, 5))
    print(f"[pump] {function}: gave up on {len(pending)} records (the dead-letter queue in AWS)", file=sys.stderr, flush=True)


def main():
    template = stack.load_template()
    resolver = stack.Resolver(template, stack.LOCAL_PARAMETERS)
    functions = stream_functions(template)
    table = next(resolver.physical_name(k) for k, r in resolver.resources.items() if r["Type"] == "AWS::DynamoDB::Table")
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=stack.REGION)
    ddb = session.client("dynamodb", endpoint_url=stack.MOTO_URL)
    streams = session.client("dynamodbstreams", endpoint_url=stack.MOTO_URL)
    stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    last = {}  # shard → last delivered sequence number
    print(f"[pump] {table} stream → {', '.join(functions)}", file=sys.stderr, flush=True)
    while True:
        idle = True
        for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
            sid = shard["ShardId"]
            # A fresh iterator every round: moto swaps a table's shard object when it rolls
            # back a cancelled transaction, and an old iterator would read the stale one.
            if sid in last:
                it = streams.get_shard_iterator(
                    StreamArn=stream_arn, ShardId=sid, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=last[sid]
                )["ShardIterator"]
            else:
                it = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            records = streams.get_records(ShardIterator=it, Limit=BATCH).get("Records") or []
            if records:
                idle = False
                for function in functions:
                    deliver(function, records, stream_arn)
                last[sid] = records[-1]["dynamodb"]["SequenceNumber"]
        if idle:
            time.sleep(0.2)

if __name__ == "__main__":
    main()
