"""Lambda's event filtering as the pumps apply it, and the relay's own filters from the
template against the records the relay must and must not see."""

import json
import unittest

import deployment
import event_filter
from event_filter import Filters, InvalidFilter


def pattern(p):
    return json.dumps(p)


class Semantics(unittest.TestCase):
    def test_values_prefix_suffix_and_nested_keys(self):
        f = Filters([pattern({"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "EVT#"}]}}}})])
        self.assertTrue(f.matches({"eventName": "INSERT", "dynamodb": {"Keys": {"sk": {"S": "EVT#1"}}}}))
        self.assertFalse(f.matches({"eventName": "MODIFY", "dynamodb": {"Keys": {"sk": {"S": "EVT#1"}}}}))
        self.assertFalse(f.matches({"eventName": "INSERT", "dynamodb": {"Keys": {"sk": {"S": "LINK"}}}}))
        self.assertFalse(f.matches({"eventName": "INSERT"}), "a missing key matches no value")
        s = Filters([pattern({"name": [{"suffix": ".png"}, {"equals-ignore-case": "README"}]})])
        self.assertTrue(s.matches({"name": "a.png"}))
        self.assertTrue(s.matches({"name": "readme"}))
        self.assertFalse(s.matches({"name": "a.jpg"}))

    def test_exists_true_and_false(self):
        f = Filters([pattern({"new": {"at": [{"exists": True}]}, "old": {"at": [{"exists": False}]}})])
        self.assertTrue(f.matches({"new": {"at": "x"}, "old": {}}))
        self.assertTrue(f.matches({"new": {"at": "x"}}), "absent parent: the leaf does not exist")
        self.assertFalse(f.matches({"new": {"at": "x"}, "old": {"at": "y"}}))
        self.assertFalse(f.matches({"old": {}}))

    def test_anything_but_and_numeric(self):
        f = Filters([pattern({"n": [{"anything-but": ["3"]}]})])
        self.assertTrue(f.matches({"n": "2"}))
        self.assertFalse(f.matches({"n": "3"}))
        self.assertFalse(f.matches({}), "anything-but needs the field")
        num = Filters([pattern({"n": [{"numeric": [">=", 3, "<", 10]}]})])
        self.assertTrue(num.matches({"n": 3}))
        self.assertFalse(num.matches({"n": 10}))
        self.assertFalse(num.matches({"n": "5"}), "DynamoDB's N is a string: numeric filters never match it")

    def test_several_filters_are_or_ed_and_none_lets_everything_through(self):
        f = Filters([pattern({"a": ["1"]}), pattern({"b": ["2"]})])
        self.assertTrue(f.matches({"a": "1"}))
        self.assertTrue(f.matches({"b": "2"}))
        self.assertFalse(f.matches({"a": "2", "b": "1"}))
        self.assertTrue(Filters([]).matches({"anything": 1}))
        either = Filters([pattern({"$or": [{"a": ["1"]}, {"b": ["2"]}]})])
        self.assertTrue(either.matches({"b": "2"}))

    def test_what_lambda_refuses_at_creation_is_refused(self):
        for bad in [
            [pattern({"a": [{"wildcard": "x*"}]})],  # not a Lambda filter operator
            [pattern({"a": "1"})],  # values must be lists
            [pattern({"a": []})],
            [pattern({"a": [{"exists": "yes"}]})],
            [pattern({"a": [{"numeric": [">"]}]})],
            ["not json"],
            [pattern({"a": ["1"]})] * 6,  # at most five filters
            [pattern({"a": ["x" * 5000]})],
        ]:
            with self.assertRaises(InvalidFilter, msg=bad[0][:60]):
                Filters(bad)

    def test_an_sqs_body_that_is_json_is_matched_as_json(self):
        f = Filters([pattern({"body": {"kind": ["webhook"]}})])
        self.assertTrue(f.matches(event_filter.sqs_view({"body": '{"kind": "webhook"}'})))
        self.assertFalse(f.matches(event_filter.sqs_view({"body": "kind=webhook"})))
        plain = Filters([pattern({"body": [{"prefix": "kind="}]})])
        self.assertTrue(plain.matches(event_filter.sqs_view({"body": "kind=webhook"})))


def record(name, sk, new=None, old=None, by_ttl=False):
    r = {"eventName": name, "eventSource": "aws:dynamodb",
         "dynamodb": {"Keys": {"pk": {"S": "X"}, "sk": {"S": sk}}}}
    if new is not None:
        r["dynamodb"]["NewImage"] = new
    if old is not None:
        r["dynamodb"]["OldImage"] = old
    if by_ttl:
        r["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return r


class RelayFilters(unittest.TestCase):
    """template.yaml's filters on the relay's stream: what reaches event-relay on AWS."""

    @classmethod
    def setUpClass(cls):
        sources = deployment.build()["event_sources"]
        relay = [s for s in sources if s["function"] == "event-relay"]
        cls.filters = Filters(relay[0]["filters"])

    def test_outbox_events_and_new_links_reach_the_relay_and_other_inserts_do_not(self):
        self.assertTrue(self.filters.matches(record("INSERT", "EVT#01", new={"sk": {"S": "EVT#01"}})))
        # a new link: counted for the console's overview
        self.assertTrue(self.filters.matches(record("INSERT", "LINK", new={"sk": {"S": "LINK"}})))
        self.assertFalse(self.filters.matches(record("INSERT", "EXPIRY", new={"sk": {"S": "EXPIRY"}})))
        self.assertFalse(self.filters.matches(record("INSERT", "CONSUMER#1", new={})))
        self.assertFalse(self.filters.matches(record("INSERT", "CONN#conn_1", new={"sk": {"S": "CONN#conn_1"}})))

    def test_only_ttl_removals_of_expiry_markers_reach_it(self):
        self.assertTrue(self.filters.matches(record("REMOVE", "EXPIRY", old={}, by_ttl=True)))
        self.assertFalse(self.filters.matches(record("REMOVE", "EXPIRY", old={})), "our own delete")
        self.assertFalse(self.filters.matches(record("REMOVE", "LINK", old={}, by_ttl=True)))

    def test_a_links_first_open_reaches_it_and_later_opens_do_not(self):
        opened = {"opened_at": {"S": "2026-12-01T00:00:00Z"}}
        self.assertTrue(self.filters.matches(record("MODIFY", "LINK", new=opened, old={})))
        self.assertFalse(self.filters.matches(record("MODIFY", "LINK", new=opened, old=opened)))

    def test_a_links_third_refusal_reaches_it_once(self):
        def attempts(n):
            return {"failed_attempts": {"N": str(n)}} if n else {}

        self.assertTrue(self.filters.matches(record("MODIFY", "LINK", new=attempts(3), old=attempts(2))))
        self.assertFalse(self.filters.matches(record("MODIFY", "LINK", new=attempts(2), old=attempts(1))))
        self.assertFalse(self.filters.matches(record("MODIFY", "LINK", new=attempts(4), old=attempts(3))))
        self.assertFalse(self.filters.matches(record("MODIFY", "LINK", new=attempts(3), old=attempts(3))),
                         "a later change of a link that failed three times")

    def test_other_changes_of_a_link_do_not(self):
        self.assertFalse(self.filters.matches(record("MODIFY", "LINK", new={"status": {"S": "granted"}},
                                                     old={"status": {"S": "waiting"}})))


if __name__ == "__main__":
    unittest.main()
