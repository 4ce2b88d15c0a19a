"""Chift's own Python client (PyPI `chift`, unchanged) against Linkgate's Chift dialect: its
guide's whole flow, every answer checked against the OpenAPI document the client ships."""

import base64
import importlib.resources
import json
import unittest
import urllib.parse

import chift
import jsonschema
from chift.api import exceptions
from chift.api.client import ChiftClient

from support import Tenant, http

STRIPE_KEY = "rk_test_0123456789abcdefghij"


def chift_schema(name):
    """A schema of the client's own OpenAPI document, resolvable on its own."""
    doc = json.loads((importlib.resources.files("chift") / "openapi" / "openapi.json").read_text())
    return {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}


def conforms(value, schema_name):
    jsonschema.validate(value, chift_schema(schema_name))


def array_of(schema_name):
    s = chift_schema(schema_name)
    return {"type": "array", "items": {"$ref": s["$ref"]}, "components": s["components"]}


class ChiftFlow(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = Tenant("Chift client")
        # Chift's back office activates connectors; ours is the integrations API.
        r = cls.t.api("POST", "/v1/integrations", {"provider": "stripe"})
        assert r.status == 201, r.body
        chift.url_base = cls.t.base + "/compat/chift"
        chift.client_id = cls.t.key_id
        chift.client_secret = cls.t.key
        chift.account_id = cls.t.uuid(cls.t.id)

    def raw(self, consumer_id=None):
        """The client itself, for the routes its models do not wrap (or to see raw JSON)."""
        c = ChiftClient()
        c.consumer_id = consumer_id
        return c

    def test_the_guides_flow_end_to_end(self):
        # 1. Active integrations and a logo, as base64.
        # (the client's Integration.all() takes no filter; the guide's `status=active` is a
        # query parameter of the same route)
        raw = self.raw().get_all("integrations", None, params={"status": "active"})
        jsonschema.validate(raw, array_of("IntegrationItem"))
        self.assertEqual([i["name"] for i in raw], ["Stripe"])
        [stripe] = [i for i in chift.Integration.all() if i.status.value == "active"]
        self.assertEqual(stripe.integrationid, raw[0]["integrationid"])
        everything = self.raw().get_all("integrations", None)
        self.assertGreater(len(everything), 20)
        self.assertTrue(all(i["status"] == "inactive" for i in everything if i["name"] != "Stripe"))
        logo = self.raw().get_one("integrations", None, stripe.integrationid, extra_path="logo.json")
        conforms(logo, "LogoImage")
        self.assertIn(b"<svg", base64.b64decode(logo["data"]))
        icon = self.raw().get_one("integrations", None, stripe.integrationid, extra_path="icon.json")
        self.assertEqual(icon["integrationid"], stripe.integrationid)

        # 2. The consumer.
        consumer = chift.Consumer.create({
            "name": "Acme Bakery",
            "email": "it@acme.example",
            "internal_reference": "acme-42",
            "redirect_url": "http://localhost:4000/back",
        })
        self.assertEqual(consumer.name, "Acme Bakery")
        self.assertEqual(str(chift.Consumer.get(consumer.consumerid).consumerid), str(consumer.consumerid))
        conforms(self.raw().get_one("consumers", None, consumer.consumerid), "ConsumerItem")
        listed = self.raw().get_all("consumers", None, params={"internal_reference": "acme-42"})
        jsonschema.validate(listed, array_of("ConsumerItem"))
        self.assertEqual([c["consumerid"] for c in listed], [str(consumer.consumerid)])
        self.assertIn(str(consumer.consumerid), [str(c.consumerid) for c in chift.Consumer.all()])
        renamed = self.raw().update_one("consumers", None, consumer.consumerid, {"name": "Acme Bakery SA"})
        conforms(renamed, "ConsumerItem")
        self.assertEqual(chift.Consumer.get(consumer.consumerid).name, "Acme Bakery SA")

        # 3. A connection link, back to the consumer's redirect_url when done.
        link = consumer.Connection.create(
            {"integrationid": stripe.integrationid, "name": "Payments"}, params={"redirect": True}
        )
        self.assertTrue(link.url.startswith(self.t.base + "/connect/lnk_"), link.url)
        # Chift's connection list shows the connection once its connector is known.
        [pending] = consumer.Connection.all()
        self.assertEqual(pending.status.value, "inactive")
        self.assertEqual(pending.integrationid, stripe.integrationid)
        self.assertEqual(pending.name, "Payments")
        jsonschema.validate(
            self.raw(consumer.consumerid).get_all("connections", None), array_of("ConnectionItem")
        )

        # 4. The customer fills the hosted form; the connection is active, the redirect
        # carries Chift's parameters with Chift's ids.
        page = http("GET", link.url)
        self.assertEqual(page.status, 200, page.body)
        parsed = urllib.parse.urlsplit(link.url)
        token = urllib.parse.parse_qs(parsed.query)["token"][0]
        done = http("POST", f"{self.t.base}{parsed.path}", form={"token": token, "f_secret_key": STRIPE_KEY})
        self.assertIn(done.status, (302, 303), done.body)
        back = urllib.parse.urlsplit(done.headers["location"])
        params = urllib.parse.parse_qs(back.query)
        self.assertEqual(f"{back.scheme}://{back.netloc}{back.path}", "http://localhost:4000/back")
        self.assertEqual(params["consumerId"], [str(consumer.consumerid)])
        self.assertEqual(params["connectionId"], [str(pending.connectionid)])
        self.assertNotIn("isExpiredError", params)
        [active] = consumer.Connection.all()
        self.assertEqual(active.status.value, "active")
        got = consumer.Connection.get(active.connectionid)
        self.assertEqual(got.integration, "Stripe")
        conforms(self.raw(consumer.consumerid).get_one("connections", None, active.connectionid), "ConnectionItem")

        # 5. Deleting the connection revokes it: Chift no longer lists it.
        self.assertTrue(consumer.Connection.delete(active.connectionid))
        self.assertEqual(consumer.Connection.all(), [])
        with self.assertRaises(exceptions.ChiftException) as e:
            consumer.Connection.delete(active.connectionid)
        self.assertEqual(e.exception.error_code, "not_found")
        # And with no live connection left, the consumer itself.
        self.assertTrue(self.raw().delete_one("consumers", None, consumer.consumerid))
        with self.assertRaises(exceptions.ChiftException) as e:
            chift.Consumer.get(consumer.consumerid)
        self.assertEqual(e.exception.error_code, "not_found")

    def test_an_expired_link_says_so_and_a_resend_gives_a_working_one(self):
        consumer = chift.Consumer.create({"name": "Late Ltd", "redirect_url": "http://localhost:4000/back"})
        link = consumer.Connection.create({"integrationid": self.stripe_number()}, params={"redirect": True})
        link_id = urllib.parse.urlsplit(link.url).path.rsplit("/", 1)[1]
        self.t.backdate_link(link_id)
        opened = http("GET", link.url)
        self.assertEqual(opened.status, 302, opened.body)
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(opened.headers["location"]).query)
        self.assertEqual(params["isExpiredError"], ["true"])
        self.assertEqual(params["consumerId"], [str(consumer.consumerid)])
        # Chift's advice: update the connection, do not recreate it. The same connection, a
        # fresh link; the expired one stays dead.
        [connection] = consumer.Connection.all()
        fresh = self.raw(consumer.consumerid).update_one("connections", None, connection.connectionid, {"redirect": True})
        conforms(fresh, "LinkItem")
        self.assertNotEqual(fresh["url"], link.url)
        self.assertEqual(http("GET", fresh["url"]).status, 200)
        self.assertEqual(http("GET", link.url).status, 302)
        self.assertEqual([c.connectionid for c in consumer.Connection.all()], [connection.connectionid])

    def stripe_number(self):
        [stripe] = [i for i in chift.Integration.all() if i.status.value == "active"]
        return stripe.integrationid

    def test_errors_are_chift_errors_the_client_raises(self):
        with self.assertRaises(exceptions.ChiftException) as e:
            chift.Consumer.create({"email": "no-name@example.com"})
        self.assertEqual(e.exception.error_code, "validation_error")
        self.assertIn("name", e.exception.detail)
        with self.assertRaises(exceptions.ChiftException) as e:
            chift.Consumer.get("0193a1b2-c3d4-7000-8000-00000000000a")
        self.assertEqual(e.exception.error_code, "not_found")
        consumer = chift.Consumer.create({"name": "Errors"})
        with self.assertRaises(exceptions.ChiftException) as e:
            consumer.Connection.create({"integrationid": 1})
        self.assertEqual(e.exception.error_code, "validation_error")
        self.assertIn("integrationid", e.exception.detail)
        with self.assertRaises(exceptions.ChiftException) as e:
            consumer.Connection.create({"integrationid": self.stripe_number(), "credentials": [{"key": "secret_key", "value": STRIPE_KEY}]})
        self.assertIn("credentials", e.exception.detail)
        # Over plain HTTP: the body Chift's client reads, with the right status.
        for status, method, path, body in [
            (404, "GET", "/consumers/not-an-id", None),
            (404, "GET", f"/consumers/{consumer.consumerid}/connections/0193a1b2-c3d4-7000-8000-00000000000c", None),
            (400, "POST", "/consumers", {"name": ""}),
            (404, "GET", "/nothing/here", None),
        ]:
            r = http(method, chift.url_base + path, body, {"authorization": f"Bearer {self.token()}"})
            self.assertEqual(r.status, status, (path, r.body))
            conforms(r.json(), "ChiftError")
            self.assertEqual(r.json()["status"], "error")

    def token(self):
        r = http("POST", chift.url_base + "/token", {
            "clientId": self.t.key_id, "clientSecret": self.t.key, "accountId": chift.account_id,
        })
        self.assertEqual(r.status, 200, r.body)
        conforms(r.json(), "Token")
        return r.json()["access_token"]

    def test_tokens_stand_for_a_live_key_and_nothing_else(self):
        token = self.token()
        self.assertTrue(token.startswith("lgt_"))
        self.assertNotIn(self.t.key, token)
        auth = {"authorization": f"Bearer {token}"}
        self.assertEqual(http("GET", chift.url_base + "/consumers", headers=auth).status, 200)
        # The API key itself is not a Chift token, nor is a token an API key.
        r = http("GET", chift.url_base + "/consumers", headers={"authorization": f"Bearer {self.t.key}"})
        self.assertEqual(r.status, 401)
        conforms(r.json(), "ChiftError")
        self.assertEqual(http("GET", self.t.base + "/v1/consumers", headers=auth).status, 401)
        # A token altered by one character, or another account's claims: 401.
        forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        self.assertEqual(http("GET", chift.url_base + "/consumers", headers={"authorization": f"Bearer {forged}"}).status, 401)
        # Wrong client id, account, or secret: 401 in Chift's shape.
        for body in [
            {"clientId": "key_0193a1b2c3d47000800000000000000b", "clientSecret": self.t.key, "accountId": chift.account_id},
            {"clientId": self.t.key_id, "clientSecret": self.t.key, "accountId": "0193a1b2-c3d4-7000-8000-000000000001"},
            {"clientId": self.t.key_id, "clientSecret": "lgk_" + "x" * 43, "accountId": chift.account_id},
        ]:
            r = http("POST", chift.url_base + "/token", body)
            self.assertEqual(r.status, 401, r.body)
            self.assertEqual(r.json()["error_code"], "unauthorized")
        r = http("POST", chift.url_base + "/token", {"clientId": self.t.key_id})
        self.assertEqual(r.status, 400, r.body)
        # Another tenant's token sees none of this tenant's consumers.
        other = Tenant("Chift other")
        r = http("POST", chift.url_base + "/token", {
            "clientId": other.key_id, "clientSecret": other.key, "accountId": other.id,
        })
        theirs = {"authorization": f"Bearer {r.json()['access_token']}"}
        mine = chift.Consumer.create({"name": "Mine"})
        r = http("GET", f"{chift.url_base}/consumers/{mine.consumerid}", headers=theirs)
        self.assertEqual(r.status, 404, r.body)
        # Revoking the key kills its tokens.
        from support import admin_cli
        admin_cli("key", "revoke", "--tenant", other.id, "--key", other.key_id)
        self.assertEqual(http("GET", chift.url_base + "/consumers", headers=theirs).status, 401)


if __name__ == "__main__":
    unittest.main()
