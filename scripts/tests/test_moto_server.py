"""moto as the local stack runs it refuses what a function's role does not allow, the way AWS
refuses it, and deletes expired items the way DynamoDB's TTL does."""

import base64
import json
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from botocore.exceptions import ClientError

from tests import support

TABLE = "iam-test"
ARN = f"arn:aws:dynamodb:{support.REGION}:{support.ACCOUNT}:table/{TABLE}"


def key(pk):
    return {"pk": {"S": pk}, "sk": {"S": "X"}}


class IamCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.moto = support.moto()
        url = cls.moto.url
        ddb = support.client("dynamodb", url)
        ddb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "g")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "gsi1", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}],
        )
        kms = support.client("kms", url)
        cls.key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/test-secrets", TargetKeyId=cls.key_id)
        cls.key_arn = f"arn:aws:kms:{support.REGION}:{support.ACCOUNT}:key/{cls.key_id}"
        sqs = support.client("sqs", url)
        cls.mine = sqs.create_queue(QueueName="mine")["QueueUrl"]
        cls.theirs = sqs.create_queue(QueueName="theirs")["QueueUrl"]
        support.client("events", url).create_event_bus(Name="ours")
        support.client("sesv2", url).create_email_identity(EmailIdentity="example.com")

        fn = support.function("tester", "/bin/false")
        fn["statements"] = [
            {"effect": "Allow", "actions": ["dynamodb:GetItem", "dynamodb:PutItem"], "resources": [ARN]},
            {"effect": "Allow", "actions": ["dynamodb:Query"], "resources": [f"{ARN}/index/gsi1"]},
            {"effect": "Allow", "actions": ["kms:GenerateDataKey"], "resources": [cls.key_arn]},
            {"effect": "Allow", "actions": ["sqs:SendMessage"], "resources": [
                f"arn:aws:sqs:{support.REGION}:{support.ACCOUNT}:mine"]},
            {"effect": "Allow", "actions": ["events:PutEvents"], "resources": [
                f"arn:aws:events:{support.REGION}:{support.ACCOUNT}:event-bus/ours"]},
            {"effect": "Allow", "actions": ["ses:SendEmail"], "resources": [
                f"arn:aws:ses:{support.REGION}:{support.ACCOUNT}:identity/example.com"]},
            {"effect": "Allow", "actions": ["dynamodb:*"], "resources": [f"{ARN}-other"]},
            {"effect": "Deny", "actions": ["dynamodb:PutItem"], "resources": [f"{ARN}-other"]},
        ]
        cls.fn = fn
        deployment = Path(cls.dir.name) / "deployment.json"
        deployment.write_text(json.dumps({"functions": {"tester": fn}}))
        cls.log = Path(cls.dir.name) / "iam.jsonl"
        support.post_json(f"{url}/_local/iam/load", {"deployment": str(deployment), "log": str(cls.log)})

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        cls.dir.cleanup()

    def as_function(self, service):
        return support.client(service, self.moto.url, key=self.fn["access_key"])

    def assert_denied(self, call, action, resource, status=400, code="AccessDeniedException"):
        with self.assertRaises(ClientError) as caught:
            call()
        error = caught.exception.response
        self.assertEqual(error["Error"]["Code"], code, error)
        self.assertEqual(error["ResponseMetadata"]["HTTPStatusCode"], status)
        self.assertEqual(
            error["Error"]["Message"],
            f"User: {self.fn['principal']} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action",
        )

    def test_granted_calls_pass_and_are_recorded(self):
        ddb = self.as_function("dynamodb")
        ddb.put_item(TableName=TABLE, Item={**key("granted"), "g": {"S": "1"}})
        self.assertIn("Item", ddb.get_item(TableName=TABLE, Key=key("granted")))
        ddb.query(TableName=TABLE, IndexName="gsi1", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "1"}})
        entries = [json.loads(line) for line in self.log.read_text().splitlines()]
        self.assertIn(("dynamodb:Query", f"{ARN}/index/gsi1", True),
                      {(e["action"], e["resource"], e["allowed"]) for e in entries})

    def test_each_item_of_a_transaction_is_authorised_as_its_own_action_and_a_refusal_writes_nothing(self):
        ddb = self.as_function("dynamodb")
        items = [
            {"Put": {"TableName": TABLE, "Item": key("in-a-transaction")}},
            {"ConditionCheck": {"TableName": TABLE, "Key": key("other"), "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
        self.assert_denied(lambda: ddb.transact_write_items(TransactItems=items), "dynamodb:ConditionCheckItem", ARN)
        self.assertNotIn("Item", support.client("dynamodb", self.moto.url).get_item(TableName=TABLE, Key=key("in-a-transaction")))

    def test_a_query_is_authorised_on_the_index_it_reads(self):
        ddb = self.as_function("dynamodb")
        self.assert_denied(lambda: ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p",
                                             ExpressionAttributeValues={":p": {"S": "x"}}), "dynamodb:Query", ARN)
        self.assert_denied(lambda: ddb.delete_item(TableName=TABLE, Key=key("x")), "dynamodb:DeleteItem", ARN)
        self.assert_denied(lambda: ddb.batch_get_item(RequestItems={TABLE: {"Keys": [key("x")]}}),
                           "dynamodb:BatchGetItem", ARN)

    def test_an_explicit_deny_wins_over_an_allow(self):
        ddb = self.as_function("dynamodb")
        self.assert_denied(lambda: ddb.put_item(TableName=f"{TABLE}-other", Item=key("x")),
                           "dynamodb:PutItem", f"{ARN}-other")

    def test_kms_is_authorised_on_the_key_an_alias_or_a_ciphertext_names(self):
        kms = self.as_function("kms")
        blob = kms.generate_data_key(KeyId="alias/test-secrets", KeySpec="AES_256")["CiphertextBlob"]
        self.assert_denied(lambda: kms.decrypt(CiphertextBlob=blob), "kms:Decrypt", self.key_arn)
        self.assert_denied(lambda: kms.encrypt(KeyId=self.key_id, Plaintext=b"x"), "kms:Encrypt", self.key_arn)

    def test_sqs_batches_are_authorised_as_the_action_they_batch_on_the_queue_they_name(self):
        sqs = self.as_function("sqs")
        sqs.send_message_batch(QueueUrl=self.mine, Entries=[{"Id": "1", "MessageBody": "x"}])
        theirs_arn = f"arn:aws:sqs:{support.REGION}:{support.ACCOUNT}:theirs"
        # SQS names its errors as its query protocol did (x-amzn-query-error): AccessDenied
        self.assert_denied(lambda: sqs.send_message(QueueUrl=self.theirs, MessageBody="x"), "sqs:SendMessage",
                           theirs_arn, code="AccessDenied")
        self.assert_denied(lambda: sqs.receive_message(QueueUrl=self.mine), "sqs:ReceiveMessage",
                           f"arn:aws:sqs:{support.REGION}:{support.ACCOUNT}:mine", code="AccessDenied")

    def test_eventbridge_is_authorised_on_each_bus_an_entry_names(self):
        events = self.as_function("events")
        events.put_events(Entries=[{"Source": "t", "DetailType": "t", "Detail": "{}", "EventBusName": "ours"}])
        self.assert_denied(
            lambda: events.put_events(Entries=[{"Source": "t", "DetailType": "t", "Detail": "{}"}]),
            "events:PutEvents", f"arn:aws:events:{support.REGION}:{support.ACCOUNT}:event-bus/default")

    def test_ses_is_authorised_on_the_identity_of_the_sender(self):
        ses = self.as_function("sesv2")
        raw = base64.b64encode(b"From: a@b\r\nSubject: x\r\n\r\nhi")
        content = {"Raw": {"Data": base64.b64decode(raw)}}
        ses.send_email(FromEmailAddress="links@example.com", Destination={"ToAddresses": ["c@d.example"]}, Content=content)
        self.assert_denied(
            lambda: ses.send_email(FromEmailAddress="Someone <links@elsewhere.example>",
                                   Destination={"ToAddresses": ["c@d.example"]}, Content=content),
            "ses:SendEmail", f"arn:aws:ses:{support.REGION}:{support.ACCOUNT}:identity/elsewhere.example", status=403)

    def test_the_accounts_own_calls_are_not_a_functions(self):
        support.client("dynamodb", self.moto.url).delete_item(TableName=TABLE, Key=key("anything"))

    def test_a_principal_can_be_added_for_a_test(self):
        extra = {"name": "tester", "access_key": "ASIAEXTRAPRINCIPAL01", "principal": "arn:aws:sts::1:assumed-role/x/y",
                 "statements": [{"effect": "Allow", "actions": ["dynamodb:DeleteItem"], "resources": [ARN]}]}
        support.post_json(f"{self.moto.url}/_local/iam/principals", extra)
        support.client("dynamodb", self.moto.url, key=extra["access_key"]).delete_item(TableName=TABLE, Key=key("x"))
        with self.assertRaises(ClientError):
            support.client("dynamodb", self.moto.url, key=extra["access_key"]).get_item(TableName=TABLE, Key=key("x"))


class Ttl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = support.moto(ttl_delay=0)

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def test_expired_items_are_deleted_by_the_ttl_service_and_nothing_else_is(self):
        ddb = support.client("dynamodb", self.moto.url)
        table = ddb.create_table(
            TableName="ttl-test", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        ddb.update_time_to_live(TableName="ttl-test", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
        now = int(time.time())
        items = {
            "expired": {"N": str(now - 10)},
            "later": {"N": str(now + 3600)},
            "not-a-number": {"S": str(now - 10)},
            "too-old": {"N": str(now - 6 * 365 * 86400)},  # DynamoDB leaves those alone
        }
        for pk, ttl in items.items():
            ddb.put_item(TableName="ttl-test", Item={"pk": {"S": pk}, "ttl": ttl})
        ddb.put_item(TableName="ttl-test", Item={"pk": {"S": "no-ttl"}})
        for _ in range(50):
            if "Item" not in ddb.get_item(TableName="ttl-test", Key={"pk": {"S": "expired"}}):
                break
            time.sleep(0.2)
        left = {i["pk"]["S"] for i in ddb.scan(TableName="ttl-test")["Items"]}
        self.assertEqual(left, {"later", "not-a-number", "too-old", "no-ttl"})
        streams = support.client("dynamodbstreams", self.moto.url)
        arn = table["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        removes = [r for r in streams.get_records(ShardIterator=it)["Records"] if r["eventName"] == "REMOVE"]
        self.assertEqual(len(removes), 1)
        self.assertEqual(removes[0]["dynamodb"]["Keys"], {"pk": {"S": "expired"}})
        self.assertEqual(removes[0]["userIdentity"], {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"})
        # a delete of ours names no one
        ddb.delete_item(TableName="ttl-test", Key={"pk": {"S": "later"}})
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        ours = [r for r in streams.get_records(ShardIterator=it)["Records"] if r["eventName"] == "REMOVE"][-1]
        self.assertNotIn("userIdentity", ours)


class PartitionQueries(unittest.TestCase):
    """The stack's faster query path answers exactly what moto's own does."""

    QUERIES = [
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "T#3"}}},
        {"KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
         "ExpressionAttributeValues": {":p": {"S": "T#3"}, ":s": {"S": "B#"}}, "ScanIndexForward": False},
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "T#none"}}},
        {"KeyConditionExpression": "pk = :p", "FilterExpression": "n > :n",
         "ExpressionAttributeValues": {":p": {"S": "T#4"}, ":n": {"N": "100"}}},
        {"IndexName": "by-g", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "G#2"}}},
        {"IndexName": "by-g-n", "KeyConditionExpression": "g = :g AND n BETWEEN :a AND :b",
         "ExpressionAttributeValues": {":g": {"S": "G#1"}, ":a": {"N": "10"}, ":b": {"N": "200"}},
         "ScanIndexForward": False},
        {"IndexName": "by-g-n", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "G#9"}}},
    ]

    def answers(self, ddb):
        pages = []
        for q in self.QUERIES:
            start = None
            while True:
                extra = {"ExclusiveStartKey": start} if start else {}
                r = ddb.query(TableName="q", Limit=7, **q, **extra)
                pages.append((r["Items"], r.get("LastEvaluatedKey")))
                start = r.get("LastEvaluatedKey")
                if not start:
                    break
        return pages

    def test_table_and_index_queries_answer_as_moto_does(self):
        import moto_server
        from moto import mock_aws
        from moto.dynamodb.models.table import Table

        original = Table.query
        try:
            with mock_aws():
                ddb = support.boto3_client("dynamodb")
                ddb.create_table(
                    TableName="q", BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                          {"AttributeName": "sk", "AttributeType": "S"},
                                          {"AttributeName": "g", "AttributeType": "S"},
                                          {"AttributeName": "n", "AttributeType": "N"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                    GlobalSecondaryIndexes=[
                        {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "ALL"}},
                        {"IndexName": "by-g-n", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                              {"AttributeName": "n", "KeyType": "RANGE"}],
                         "Projection": {"ProjectionType": "KEYS_ONLY"}},
                    ],
                )
                for i in range(400):
                    item = {"pk": {"S": f"T#{i % 9}"}, "sk": {"S": f"{'AB'[i % 2]}#{i:04}"}, "n": {"N": str(i * 7 % 301)}}
                    if i % 3:  # some items are in no index
                        item["g"] = {"S": f"G#{i % 5}"}
                    ddb.put_item(TableName="q", Item=item)
                before = self.answers(ddb)
                moto_server.partition_queries()
                after = self.answers(ddb)
        finally:
            Table.query = original
        self.assertEqual(after, before)
        self.assertGreater(sum(len(items) for items, _ in before), 150, "the queries found items")
        self.assertTrue(any(last for _, last in before), "and some were paged")


class WhatTestsRead(unittest.TestCase):
    """moto keeps no object for its dashboard; what tests read of its state (what was sent,
    what the table mentions) it answers cheaply; a table call that holds the table long is
    logged (here every one: the threshold is 0)."""

    @classmethod
    def setUpClass(cls):
        cls.moto = support.moto(slow_seconds=0)

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def get(self, path):
        with urllib.request.urlopen(f"{self.moto.url}{path}", timeout=30) as r:
            return json.loads(r.read())

    def test_items_and_messages_are_not_kept_for_the_dashboard(self):
        ddb = support.client("dynamodb", self.moto.url)
        ddb.create_table(
            TableName="lean", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        for i in range(50):
            ddb.put_item(TableName="lean", Item={"pk": {"S": f"p{i}"}})
            ddb.delete_item(TableName="lean", Key={"pk": {"S": f"p{i}"}})
        dashboard = self.get("/moto-api/data.json")
        self.assertEqual(dashboard["dynamodb"].get("Item", []), [], "no item outlives its table entry")

    def test_the_items_mentioning_a_text_are_found_in_names_values_and_nested_ones(self):
        ddb = support.client("dynamodb", self.moto.url)
        ddb.create_table(
            TableName="search", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        needle = f"n33dle{time.time_ns()}"
        items = {
            "top": {"v": {"S": f"x{needle}y"}},
            "nested": {"m": {"M": {"deep": {"L": [{"N": "1"}, {"S": needle}]}}}},
            "set": {"ss": {"SS": ["a", needle]}},
            "named": {f"{needle}_sealed": {"BOOL": True}},
            "other": {"v": {"S": "nothing here"}, "b": {"B": b"\x00\x01"}},
        }
        for sk, attrs in items.items():
            ddb.put_item(TableName="search", Item={"pk": {"S": "P"}, "sk": {"S": sk}, **attrs})
        url = f"/_local/dynamodb/mentions?needle={urllib.parse.quote(needle)}"
        found = {item["sk"]["S"]: item for item in self.get(url)}
        self.assertEqual(set(found), {"top", "nested", "set", "named"})
        self.assertEqual(found["nested"]["m"], {"M": {"deep": {"L": [{"N": "1"}, {"S": needle}]}}})
        self.assertEqual([i["sk"]["S"] for i in self.get("/_local/dynamodb/mentions?needle=nothing%20here")], ["other"])
        with self.assertRaises(urllib.error.HTTPError) as refused:
            self.get("/_local/dynamodb/mentions")
        self.assertEqual(refused.exception.code, 400)

    def test_a_table_call_holding_the_table_past_the_threshold_is_logged(self):
        ddb = support.client("dynamodb", self.moto.url)
        ddb.list_tables()
        self.assertRegex(self.moto.output(), r"\[moto\] slow: DynamoDB_20120810\.ListTables held the table \d+\.\d s")
        support.client("sqs", self.moto.url).list_queues()
        self.assertNotIn("ListQueues", self.moto.output(), "only the table's calls hold it")

    def test_every_message_a_queue_took_is_readable_after_it_is_deleted(self):
        sqs = support.client("sqs", self.moto.url)
        url = sqs.create_queue(QueueName="journal")["QueueUrl"]
        marker = f"m-{time.time()}"
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"marker": marker}),
                         MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}})
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": f"{marker}-batch"}])
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        mine = [m for m in self.get("/_local/sqs/messages") if marker in m["body"]]
        self.assertEqual([m["queue"] for m in mine], ["journal", "journal"])
        self.assertEqual(json.loads(mine[0]["body"]), {"marker": marker})
        self.assertIn("test", json.dumps(mine[0]["attributes"]))

    def test_every_email_ses_took_is_readable(self):
        ses = support.client("sesv2", self.moto.url)
        ses.create_email_identity(EmailIdentity="sent.example")
        ses.send_email(FromEmailAddress="links@sent.example", Destination={"ToAddresses": ["to@c.example"]},
                       Content={"Raw": {"Data": b"From: links@sent.example\r\nSubject: hello\r\n\r\nhi"}})
        emails = [e for e in self.get("/_local/ses/messages") if e["source"] == "links@sent.example"]
        self.assertEqual(len(emails), 1)
        self.assertEqual(emails[0]["type"], "RawMessage")
        self.assertEqual(emails[0]["destinations"], ["to@c.example"])
        self.assertIn("Subject: hello", emails[0]["raw_data"])


if __name__ == "__main__":
    unittest.main()
