"""OpenInt's own Python client (PyPI `openint`, unchanged but for its base URL and token)
against Linkgate's OpenInt dialect: import, list by customer, read with and without
secrets, check, magic link, delete, and its errors."""

import unittest
import urllib.parse

import openint

from support import Tenant, http

STRIPE_KEY = "rk_test_0123456789abcdefghij"


def ccfg(integration_id):
    return "ccfg_" + integration_id.split("_", 1)[1]


class OpenIntFlow(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = Tenant("OpenInt client")
        r = cls.t.api("POST", "/v1/integrations", {"provider": "stripe"})
        assert r.status == 201, r.body
        cls.stripe = ccfg(r.json()["id"])
        cls.client = openint.Openint(token=cls.t.key, base_url=cls.t.base + "/compat/openint", max_retries=0)

    def import_one(self, customer, **extra):
        return self.client.create_connection(
            connector_config_id=self.stripe,
            customer_id=customer,
            data={"connector_name": "stripe", "settings": {"secretKey": STRIPE_KEY}},
            **extra,
        )

    def test_a_check_asks_the_provider(self):
        """Through the local API-key provider: healthy while it accepts the key, then
        disconnected (and needing re-authorization) once it refuses it."""
        r = self.t.api("POST", "/v1/integrations", {"provider": "key-mock"})
        assert r.status == 201, r.body
        key = f"lg_valid_openint_{id(self)}"
        created = self.client.create_connection(
            connector_config_id=ccfg(r.json()["id"]),
            customer_id="cust-checked",
            data={"connector_name": "key-mock", "settings": {"apiKey": key, "workspace": "demo"}},
        )
        self.assertEqual(self.client.check_connection(created.id).status, "healthy")
        http("POST", "http://127.0.0.1:9402/_faults", {"credential": key, "mode": "status", "status": 401})
        check = self.client.check_connection(created.id)
        self.assertEqual(check.status, "disconnected")
        self.assertEqual(check.status_message, "answered 401")
        native = self.t.api("GET", f"/v1/connections/{created.id}").json()
        self.assertEqual(native["status"], "needs_reauth")
        self.assertEqual(native["reauth_reason"], "credentials_refused")

    def test_the_connection_lifecycle_through_the_client(self):
        created = self.import_one("cust-lifecycle", metadata={"plan": "pro"})
        self.assertTrue(created.id.startswith("conn_"))
        raw = created.to_dict()
        self.assertEqual(raw["customer_id"], "cust-lifecycle")
        self.assertEqual(raw["connector_config_id"], self.stripe)
        self.assertEqual(raw["connector_name"], "stripe")
        self.assertEqual(raw["metadata"], {"plan": "pro"})
        self.assertEqual(raw["settings"], {}, "secrets only when asked")
        self.assertEqual(raw["status"], "healthy")
        # The customer is a consumer now, found by its reference.
        consumers = self.t.api("GET", "/v1/consumers?internal_reference=cust-lifecycle").json()["data"]
        self.assertEqual(len(consumers), 1)

        page = self.client.list_connections(customer_id="cust-lifecycle")
        self.assertEqual([c.id for c in page.items], [created.id])
        self.assertEqual(page.total, 1)
        self.assertEqual(
            [c.id for c in self.client.list_connections(customer_id="cust-lifecycle", connector_names=["stripe"]).items],
            [created.id],
        )
        self.assertEqual(self.client.list_connections(customer_id="cust-lifecycle", connector_names=["datadog"]).items, [])
        self.assertEqual(self.client.list_connections(customer_id="nobody").items, [])

        plain = self.client.get_connection(created.id).to_dict()
        self.assertEqual(plain["settings"], {})
        secret = self.client.get_connection(created.id, include_secrets=True).to_dict()
        self.assertEqual(secret["settings"]["secret_key"], STRIPE_KEY)
        # That read was audited like any credentials read.
        events = self.t.api("GET", f"/v1/connections/{created.id}").json()
        self.assertEqual(events["status"], "active")

        # The check asks Stripe itself; the local stack keeps provider calls on the machine,
        # so there is no verdict here (see test_a_check_asks_the_provider for one).
        check = self.client.check_connection(created.id)
        self.assertEqual(check.id, created.id)
        self.assertEqual(check.status, "error")
        self.assertIn("public hosts", check.status_message)

        gone = self.client.delete_connection(created.id)
        self.assertEqual(gone.id, created.id)
        with self.assertRaises(openint.NotFoundError):
            self.client.get_connection(created.id)
        self.assertEqual(self.client.list_connections(customer_id="cust-lifecycle").items, [])

    def test_the_seeds_route_imports_too(self):
        r = http(
            "POST",
            self.t.base + "/compat/openint/connection",
            {"connector_config_id": self.stripe, "customer_id": "cust-seed",
             "data": {"connector_name": "stripe", "settings": {"secret_key": STRIPE_KEY}}},
            {"authorization": f"Bearer {self.t.key}"},
        )
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["customer_id"], "cust-seed")

    def test_offset_paging_walks_every_connection(self):
        r = self.t.api("POST", "/v1/integrations", {"provider": "mollie"})
        self.assertEqual(r.status, 201, r.body)
        mollie = ccfg(r.json()["id"])
        ids = {
            self.import_one("cust-pages").id,
            self.client.create_connection(
                connector_config_id=mollie, customer_id="cust-pages",
                data={"connector_name": "mollie", "settings": {"apiKey": "test_" + "a" * 30}},
            ).id,
        }
        first = self.client.list_connections(customer_id="cust-pages", limit=1)
        self.assertEqual((len(first.items), first.total, first.offset), (1, 2, 0))
        # The client's own auto-paging follows `offset` to the end.
        self.assertEqual({c.id for c in first}, ids)

    def test_a_magic_link_for_a_customer_opens_our_page(self):
        token = self.client.create_token("cust-magic", validity_in_seconds=600)
        self.assertTrue(token.token)
        self.assertIn("/connect/lnk_", token.magic_link_url)
        parsed = urllib.parse.urlsplit(token.magic_link_url)
        self.assertEqual(urllib.parse.parse_qs(parsed.query)["token"], [token.token])
        self.assertEqual(http("GET", token.magic_link_url).status, 200)
        # The customer exists now, once: a second link names the same consumer.
        self.client.create_token("cust-magic")
        consumers = self.t.api("GET", "/v1/consumers?internal_reference=cust-magic").json()["data"]
        self.assertEqual(len(consumers), 1)

    def test_errors_are_openint_errors_and_say_whether_to_retry(self):
        with self.assertRaises(openint.BadRequestError) as e:
            self.client.create_connection(
                connector_config_id=self.stripe, customer_id="cust-bad",
                data={"connector_name": "stripe", "settings": {"secretKey": "nope"}},
            )
        body = e.exception.body
        self.assertEqual(body["code"], "BAD_REQUEST")
        self.assertEqual(body["error_code"], "validation_error")
        self.assertEqual(body["issues"][0]["path"], ["data", "settings", "secret_key"])
        self.assertEqual(e.exception.response.headers["x-should-retry"], "false")
        # Nothing was written: not even the customer.
        consumers = self.t.api("GET", "/v1/consumers?internal_reference=cust-bad").json()["data"]
        self.assertEqual(consumers, [])
        with self.assertRaises(openint.BadRequestError) as e:
            self.client.create_connection(
                connector_config_id=self.stripe, customer_id="cust-bad",
                data={"connector_name": "datadog", "settings": {}},
            )
        self.assertEqual(e.exception.body["issues"][0]["path"], ["data", "connector_name"])
        with self.assertRaises(openint.BadRequestError):
            self.client.create_connection(
                connector_config_id="ccfg_nope", customer_id="cust-bad",
                data={"connector_name": "stripe", "settings": {}},
            )
        with self.assertRaises(openint.NotFoundError):
            self.client.get_connection("conn_0193a1b2c3d47000800000000000000c")
        with self.assertRaises(openint.BadRequestError):
            self.client.list_connections(customer_id="x", include_secrets=True)
        r = http("GET", self.t.base + "/compat/openint/v2/connection", headers={"authorization": f"Bearer {self.t.key}"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["issues"][0]["path"], ["customer_id"])
        with self.assertRaises(openint.AuthenticationError):
            openint.Openint(token="lgk_" + "x" * 43, base_url=self.client.base_url, max_retries=0).list_connections(customer_id="x")
        # Another organization's connection is not found.
        other = Tenant("OpenInt other")
        mine = self.import_one("cust-mine")
        theirs = openint.Openint(token=other.key, base_url=self.client.base_url, max_retries=0)
        with self.assertRaises(openint.NotFoundError):
            theirs.get_connection(mine.id, include_secrets=True)
        with self.assertRaises(openint.NotFoundError):
            theirs.delete_connection(mine.id)
        with self.assertRaises(openint.BadRequestError):
            theirs.create_connection(
                connector_config_id=self.stripe, customer_id="cust-x",
                data={"connector_name": "stripe", "settings": {"secretKey": STRIPE_KEY}},
            )


if __name__ == "__main__":
    unittest.main()
