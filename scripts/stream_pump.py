#!/usr/bin/env python3
"""Lambda's DynamoDB stream event source mappings, played locally from deployment.json (the
template as SAM deploys it).

Each mapping reads the stream with its function's role, as Lambda does, and:
- drops the records its `FilterCriteria` do not match (scripts/event_filter.py): they never
  reach the function;
- hands the rest over in order, in batches of at most `BatchSize` records and 6 MB;
- honours partial batch responses (`ReportBatchItemFailures`: retried from the first failed
  record), bisects a failing batch when `BisectBatchOnFunctionError` is set, and after
  `MaximumRetryAttempts` retries sends the batch's description to the `OnFailure`
  destination (with the function's role, which must allow it) and moves on.
"""

import json
import sys
import time
import urllib.error
import uuid
from datetime import datetime, timezone

import deployment as dep
import event_filter
import stack

SYNC_LIMIT = 6 * 1024 * 1024


def log(msg):
    print(f"[pump] {msg}", file=sys.stderr, flush=True)


def as_json(records):
    return json.dumps({"Records": records}, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v))


def lambda_record(record):
    """A record as the Streams API gives it, in the shape Lambda hands it to a function (and
    matches filters against): `userIdentity` in camel case."""
    record = json.loads(as_json([record]))["Records"][0]
    identity = record.get("userIdentity")
    if identity:
        record["userIdentity"] = {"type": identity.get("Type"), "principalId": identity.get("PrincipalId")}
    return record


class Mapping:
    def __init__(self, spec, fn):
        self.spec = spec
        self.fn = fn
        self.name = spec["function"]
        self.filters = event_filter.Filters(spec["filters"])
        # the mapping reads (and reports failures) with the function's role
        self.streams = dep.aws_client("dynamodbstreams", fn["access_key"], "local-secret")
        self.sqs = dep.aws_client("sqs", fn["access_key"], "local-secret")
        self.last = {}  # shard → last sequence number handled

    def batches(self, records):
        """Consecutive batches within the batch size and Lambda's 6 MB."""
        batch = []
        for r in records:
            if batch and (len(batch) >= self.spec["batch_size"] or len(as_json(batch + [r])) > SYNC_LIMIT):
                yield batch
                batch = []
            batch.append(r)
        if batch:
            yield batch

    def invoke(self, records):
        """The function's batch item failures (sequence numbers), or None when it failed."""
        for r in records:
            r["eventSourceARN"] = self.spec["source_arn"]
        try:
            answer = json.loads(stack.invoke_function(self.name, as_json(records), 900) or b"{}")
        except stack.FunctionError as e:
            log(f"{self.name} failed: {e}")
            return None
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
            log(f"{self.name} could not be invoked: {e}")
            return None
        if not self.spec["report_batch_item_failures"] or not isinstance(answer, dict):
            return []
        failures = answer.get("batchItemFailures") or []
        seqs = {r["dynamodb"]["SequenceNumber"] for r in records}
        ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
        if any(i not in seqs for i in ids):
            return None  # an identifier that is not in the batch fails the whole batch
        return ids

    def deliver(self, batch):
        """Delivers a batch until every record is done or its retries are used up."""
        pending = [batch]
        while pending:
            records = pending.pop(0)
            retries = 0
            while True:
                failed = self.invoke([dict(r) for r in records])
                if failed == []:
                    break
                if failed is None and self.spec["bisect_on_error"] and len(records) > 1:
                    half = len(records) // 2
                    pending[:0] = [records[:half], records[half:]]
                    break
                if failed:
                    seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
                    records = records[min(seqs.index(f) for f in failed):]
                limit = self.spec["maximum_retry_attempts"]
                if limit >= 0 and retries >= limit:
                    self.give_up(records, retries + 1)
                    break
                retries += 1
                time.sleep(min(retries, 5))

    def give_up(self, records, attempts):
        destination = self.spec.get("on_failure")
        log(f"{self.name}: gave up on {len(records)} records after {attempts} attempts")
        if not destination:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        record = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.fn["arn"],
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": self.current_shard, "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"], "batchSize": len(records),
                "streamArn": self.spec["source_arn"],
                "approximateArrivalOfFirstRecord": str(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": str(last.get("ApproximateCreationDateTime")),
            },
        }
        try:
            self.sqs.send_message(QueueUrl=dep.queue_url(destination), MessageBody=json.dumps(record))
        except Exception as e:  # Lambda, too, can only report this in its metrics
            log(f"{self.name}: the on-failure destination refused the record: {e}")

    def poll(self):
        """One round over the stream's shards; whether anything was read."""
        busy = False
        shards = self.streams.describe_stream(StreamArn=self.spec["source_arn"])["StreamDescription"]["Shards"]
        for shard in shards:
            sid = self.current_shard = shard["ShardId"]
            # A fresh iterator every round: moto swaps a table's shard object when it rolls
            # back a cancelled transaction, and an old iterator would read the stale one.
            if sid in self.last:
                it = self.streams.get_shard_iterator(
                    StreamArn=self.spec["source_arn"], ShardId=sid, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=self.last[sid],
                )["ShardIterator"]
            else:
                it = self.streams.get_shard_iterator(
                    StreamArn=self.spec["source_arn"], ShardId=sid, ShardIteratorType="TRIM_HORIZON",
                )["ShardIterator"]
            records = self.streams.get_records(ShardIterator=it, Limit=1000).get("Records") or []
            if not records:
                continue
            busy = True
            wanted = [r for r in map(lambda_record, records) if self.filters.matches(r)]
            for batch in self.batches(wanted):
                self.deliver(batch)
            self.last[sid] = records[-1]["dynamodb"]["SequenceNumber"]
        return busy


def main():
    deployed = dep.load()
    mappings = [Mapping(s, deployed["functions"][s["function"]])
                for s in deployed["event_sources"] if s["kind"] == "dynamodb"]
    for m in mappings:
        log(f"{m.spec['source_arn']} → {m.name} ({len(m.spec['filters'])} filters, batches of {m.spec['batch_size']})")
    while True:
        busy = False
        for m in mappings:
            try:
                busy = m.poll() or busy
            except Exception as e:  # moto restarting, say
                log(f"{m.name}: {e}")
                time.sleep(1)
        if not busy:
            time.sleep(0.2)


if __name__ == "__main__":
    main()
