"""The IAM model's rules on their own: matching, the implicit deny, and refusing what it
cannot name (the requests themselves are tested through moto in test_moto_server)."""

import json
import unittest

import local_iam

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/t"


def allow(actions, resources):
    return {"effect": "Allow", "actions": actions, "resources": resources}


class Evaluation(unittest.TestCase):
    def test_actions_match_without_case_and_with_wildcards_resources_with_case(self):
        st = [allow(["DynamoDB:get*"], [f"{TABLE}/index/*"])]
        self.assertTrue(local_iam.allowed(st, "dynamodb:GetItem", f"{TABLE}/index/gsi1"))
        self.assertFalse(local_iam.allowed(st, "dynamodb:GetItem", TABLE), "the table is not one of its indexes")
        self.assertFalse(local_iam.allowed(st, "dynamodb:GetItem", f"{TABLE}/INDEX/gsi1"))
        self.assertFalse(local_iam.allowed(st, "dynamodb:PutItem", f"{TABLE}/index/gsi1"))

    def test_nothing_granted_is_denied_and_a_deny_wins(self):
        self.assertFalse(local_iam.allowed([], "kms:Decrypt", "*"))
        st = [allow(["*"], ["*"]), {"effect": "Deny", "actions": ["kms:*"], "resources": ["*"]}]
        self.assertTrue(local_iam.allowed(st, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q"))
        self.assertFalse(local_iam.allowed(st, "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/k"))


class Naming(unittest.TestCase):
    def ask(self, target, body):
        return local_iam.requested("POST", "/", "", {"x-amz-target": target}, json.dumps(body).encode(),
                                   "us-east-1", "123456789012")

    def test_a_transaction_is_one_check_per_item(self):
        asked = self.ask("DynamoDB_20120810.TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}}, {"Delete": {"TableName": "u"}},
            {"ConditionCheck": {"TableName": "t"}}]})
        self.assertEqual(asked, [
            ("dynamodb:PutItem", TABLE), ("dynamodb:UpdateItem", TABLE),
            ("dynamodb:DeleteItem", "arn:aws:dynamodb:us-east-1:123456789012:table/u"),
            ("dynamodb:ConditionCheckItem", TABLE)])
        self.assertEqual(self.ask("DynamoDB_20120810.TransactGetItems", {"TransactItems": [{"Get": {"TableName": "t"}}]}),
                         [("dynamodb:GetItem", TABLE)])

    def test_what_it_cannot_name_is_refused_not_guessed(self):
        for target, body in [("Unknown_2020.Do", {}), ("DynamoDB_20120810.GetItem", {}), ("TrentService.Decrypt", {})]:
            with self.assertRaises(local_iam.Unnamed, msg=target):
                self.ask(target, body)
        with self.assertRaises(local_iam.Unnamed):
            local_iam.requested("GET", "/v2/email/identities", "", {
                "authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/ses/aws4_request, ..."},
                b"", "us-east-1", "123456789012")

    def test_the_denial_has_the_services_shape(self):
        status, headers, body = local_iam.denial({"x-amz-target": "TrentService.Decrypt"}, "arn:p", "kms:Decrypt", "arn:k", "r")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["__type"], "AccessDeniedException")
        self.assertEqual(headers["Content-Type"], "application/x-amz-json-1.1")
        status, headers, body = local_iam.denial({"x-amz-target": "DynamoDB_20120810.GetItem"}, "arn:p", "a", "r", "id")
        self.assertEqual(json.loads(body)["__type"], "com.amazon.coral.service#AccessDeniedException")
        self.assertIn("User: arn:p is not authorized to perform: a on resource: r", json.loads(body)["Message"])


if __name__ == "__main__":
    unittest.main()
