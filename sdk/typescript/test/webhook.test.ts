// verifyWebhook against an independent implementation of the spec (the `standardwebhooks`
// package): what it signs we accept, what we reject it rejects too.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Webhook } from "standardwebhooks";
import { verifyWebhook, WebhookVerificationError } from "../src/webhook.js";

const SECRET = "whsec_" + Buffer.from("a test secret of thirty-two bytes!").toString("base64");
const OTHER = "whsec_" + Buffer.from("another secret, thirty-two bytes.").toString("base64");
const NOW = new Date("2026-11-22T12:00:00Z");
const now = () => NOW;

function signed(body: string, at = NOW, secret = SECRET) {
  const id = "msg_2sTq6qJb4zR1";
  const signature = new Webhook(secret).sign(id, at, body);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signature,
  };
}

const BODY = JSON.stringify({ type: "connection.created", data: { id: "conn_1" } });

test("accepts what the reference library signs and returns the parsed body", () => {
  const event = verifyWebhook<{ type: string }>(BODY, signed(BODY), SECRET, { now });
  assert.equal(event.type, "connection.created");
  // Headers objects and Uint8Array bodies work too; header names are case-insensitive.
  const headers = new Headers(signed(BODY));
  assert.equal(verifyWebhook<{ type: string }>(new TextEncoder().encode(BODY), headers, SECRET, { now }).type, "connection.created");
  const upper = Object.fromEntries(Object.entries(signed(BODY)).map(([k, v]) => [k.toUpperCase(), v]));
  assert.ok(verifyWebhook(BODY, upper, SECRET, { now }));
});

test("any of several signatures and any of several secrets may match", () => {
  const headers = signed(BODY);
  const both = { ...headers, "webhook-signature": `v1,bm9wZQ== ${headers["webhook-signature"]}` };
  assert.ok(verifyWebhook(BODY, both, SECRET, { now }));
  assert.ok(verifyWebhook(BODY, headers, [OTHER, SECRET], { now }));
  // The reference library (on the real clock) agrees on the rotation case.
  const live = signed(BODY, new Date());
  const liveBoth = { ...live, "webhook-signature": `v1,bm9wZQ== ${live["webhook-signature"]}` };
  assert.ok(new Webhook(SECRET).verify(BODY, liveBoth));
});

test("rejects a changed body, the wrong secret, a forged or foreign-version signature", () => {
  const headers = signed(BODY);
  const cases: [string, () => unknown][] = [
    ["changed body", () => verifyWebhook(BODY.replace("conn_1", "conn_2"), headers, SECRET, { now })],
    ["wrong secret", () => verifyWebhook(BODY, headers, OTHER, { now })],
    ["changed id", () => verifyWebhook(BODY, { ...headers, "webhook-id": "msg_other" }, SECRET, { now })],
    ["v2 only", () => verifyWebhook(BODY, { ...headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,") }, SECRET, { now })],
    ["garbage", () => verifyWebhook(BODY, { ...headers, "webhook-signature": "v1" }, SECRET, { now })],
  ];
  for (const [what, attempt] of cases) {
    assert.throws(attempt, WebhookVerificationError, what);
  }
  // The reference library (on the real clock) accepts the body and rejects the change too.
  const live = signed(BODY, new Date());
  assert.ok(new Webhook(SECRET).verify(BODY, live));
  assert.throws(() => new Webhook(SECRET).verify(BODY.replace("conn_1", "conn_2"), live), /No matching signature/);
});

test("rejects old, future and malformed timestamps, with a tolerance of five minutes", () => {
  const old = new Date(NOW.getTime() - 301_000);
  const future = new Date(NOW.getTime() + 301_000);
  const edge = new Date(NOW.getTime() - 299_000);
  assert.throws(() => verifyWebhook(BODY, signed(BODY, old), SECRET, { now }), /too old/);
  assert.throws(() => verifyWebhook(BODY, signed(BODY, future), SECRET, { now }), /future/);
  assert.ok(verifyWebhook(BODY, signed(BODY, edge), SECRET, { now }));
  assert.ok(verifyWebhook(BODY, signed(BODY, old), SECRET, { now, toleranceSeconds: 600 }));
  const headers = { ...signed(BODY), "webhook-timestamp": "12e3" };
  assert.throws(() => verifyWebhook(BODY, headers, SECRET, { now }), /not a number/);
});

test("names what is missing", () => {
  const { ["webhook-signature"]: _, ...unsigned } = signed(BODY);
  assert.throws(() => verifyWebhook(BODY, unsigned, SECRET, { now }), /missing/);
  assert.throws(() => verifyWebhook(BODY, signed(BODY), "whsec_", { now }), /empty/);
  assert.throws(() => verifyWebhook("not json", signed("not json"), SECRET, { now }), /not JSON/);
});
