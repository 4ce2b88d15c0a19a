// The SDK against the local stack: real functions, real moto, nothing mocked.

import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Linkgate, LinkgateError, verifyWebhook, WebhookVerificationError } from "../src/index.js";
import { facts, tenant, type Tenant } from "./stack.js";

const STRIPE_KEY = "rk_test_51SdkRestrictedKey0000000000";

let t: Tenant;
let client: Linkgate;
let readOnly: Linkgate;

before(() => {
  t = tenant("SDK test platform");
  client = new Linkgate({ apiKey: t.adminKey, baseUrl: facts().api_base_url });
  readOnly = new Linkgate({ apiKey: t.memberKey, baseUrl: `${facts().api_base_url}/` });
});

async function rejection(promise: Promise<unknown>): Promise<LinkgateError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof LinkgateError, `expected a LinkgateError, got ${e}`);
    return e;
  }
  assert.fail("the call should have failed");
}

describe("the complete link flow through the SDK", () => {
  test("consumer → connection → the customer submits the link → active, link used", async () => {
    const stripe = await client.integrations.create({ provider: "stripe" });
    const consumer = await client.consumers.create({
      name: "Acme Ltd",
      email: "ops@acme.example",
      redirect_url: "https://acme.example/done",
    });
    const created = await client.connections.create(consumer.id, {
      name: "Accounting",
      integration_id: stripe.id,
      redirect: true,
    });
    assert.equal(created.status, "pending");
    assert.equal(created.consumer_id, consumer.id);
    const url = new URL(created.link.url);
    const token = url.searchParams.get("token");
    assert.ok(token, "the link carries its token");

    // The customer's browser: open the page, then post the form.
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Connect Stripe/);
    const submitted = await fetch(new URL(`/connect/${created.link.id}`, url), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, integration_id: stripe.id, f_secret_key: STRIPE_KEY }),
      redirect: "manual",
    });
    assert.equal(submitted.status, 303);
    const landing = new URL(submitted.headers.get("location") ?? "");
    assert.equal(landing.host, "acme.example");
    assert.equal(landing.searchParams.get("connectionId"), created.id);
    assert.equal(landing.searchParams.get("status"), "active");

    const connection = await client.connections.get(created.id);
    assert.equal(connection.status, "active");
    assert.equal(connection.has_credentials, true);
    const link = await client.links.get(created.link.id);
    assert.equal(link.status, "granted");
    const secrets = await client.connections.credentials(created.id);
    assert.equal((secrets as { credentials: Record<string, string> }).credentials.secret_key, STRIPE_KEY);
    // The local stack keeps provider calls on the machine: Stripe gives no verdict here.
    const checked = await client.connections.check(created.id);
    assert.equal(checked.result, "unreachable");
    assert.equal(checked.method, "verify_request");
    assert.equal(checked.connection.last_check_result, "unreachable");

    const listed = await client.connections.list(consumer.id);
    assert.deepEqual(
      listed.data.map((c) => c.id),
      [created.id],
    );
    const revoked = await client.connections.revoke(created.id);
    assert.equal(revoked.status, "revoked");

    // What happened, newest first, as the webhooks received it (`link.opened` is announced
    // from the table's stream, so it may land a moment later).
    let history: string[] = [];
    for (let i = 0; i < 50 && history.length < 3; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 200));
      history = [];
      for await (const e of client.events.iterate({ connection_id: created.id })) history.push(e.type);
    }
    assert.deepEqual(history, ["connection.revoked", "connection.created", "link.opened"]);
    const opened = await client.events.list({ link_id: created.link.id, type: "link.opened" });
    assert.equal(opened.data.length, 1);
    const again = await client.events.get(opened.data[0].id);
    assert.deepEqual(again, opened.data[0]);
  });
});

describe("errors", () => {
  test("carry the API's code, status, message, details and request id", async () => {
    const missing = await rejection(client.consumers.get("csm_0193a1b2c3d47000800000000000000d"));
    assert.equal(missing.status, 404);
    assert.equal(missing.code, "not_found");
    assert.match(missing.requestId ?? "", /\S/);
    assert.match(missing.message, /^not_found: /);

    const invalid = await rejection(
      client.consumers.create({ name: "", email: "not-an-email" } as never),
    );
    assert.equal(invalid.status, 400);
    assert.equal(invalid.code, "validation_error");
    const fields = (invalid.details as { field: string }[]).map((d) => d.field).sort();
    assert.deepEqual(fields, ["email", "name"]);

    const forbidden = await rejection(readOnly.consumers.create({ name: "Not allowed" }));
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.code, "forbidden");

    const nobody = new Linkgate({ apiKey: "lgk_not_a_real_key", baseUrl: facts().api_base_url });
    const unauthorized = await rejection(nobody.settings.get());
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.code, "unauthorized");
  });

  test("an API key is required up front", () => {
    assert.throws(() => new Linkgate({ apiKey: "", baseUrl: facts().api_base_url }), TypeError);
  });
});

describe("idempotency", () => {
  test("creates send an Idempotency-Key: a chosen one replays, a fresh one creates", async () => {
    const key = `sdk-${crypto.randomUUID()}`;
    const first = await client.consumers.create({ name: "Once" }, { idempotencyKey: key });
    const again = await client.consumers.create({ name: "Once" }, { idempotencyKey: key });
    assert.equal(again.id, first.id);
    const conflict = await rejection(
      client.consumers.create({ name: "Something else" }, { idempotencyKey: key }),
    );
    assert.equal(conflict.status, 409);

    const a = await client.consumers.create({ name: "Twice" });
    const b = await client.consumers.create({ name: "Twice" });
    assert.notEqual(a.id, b.id, "each call gets its own key");
  });

  test("the header really goes out on creates", async () => {
    const seen: (string | null)[] = [];
    const spying = new Linkgate({
      apiKey: t.adminKey,
      baseUrl: facts().api_base_url,
      fetch: (input, init) => {
        const request = input instanceof Request ? input : new Request(input, init);
        seen.push(request.headers.get("idempotency-key"));
        return fetch(request);
      },
    });
    await spying.consumers.create({ name: "Watched" });
    await spying.settings.get();
    assert.match(seen[0] ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(seen[1], null, "reads carry none");
  });
});

describe("cursor iteration", () => {
  test("walks every page, newest first, without repeats", async () => {
    const own = tenant("SDK iteration");
    const lg = new Linkgate({ apiKey: own.adminKey, baseUrl: facts().api_base_url });
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      made.push((await lg.consumers.create({ name: `Consumer ${i}` })).id);
    }
    const firstPage = await lg.consumers.list({ limit: 2 });
    assert.equal(firstPage.data.length, 2);
    assert.ok(firstPage.next_cursor);

    const walked: string[] = [];
    for await (const consumer of lg.consumers.iterate({ limit: 2 })) {
      walked.push(consumer.id);
    }
    // Ids sort by creation time (two made within one millisecond may swap): compare as
    // sets, and check the order the API promises.
    assert.deepEqual([...walked].sort(), [...made].sort());
    assert.deepEqual(walked, [...walked].sort().reverse(), "newest (highest id) first");
  });
});

describe("webhooks", () => {
  let server: ReturnType<typeof createServer>;
  const hits: { body: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        hits.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  });

  after(() => server.close());

  test("a delivery from the stack verifies with the endpoint's secret, and nothing else does", async () => {
    const { port } = server.address() as AddressInfo;
    const endpoint = await client.webhooks.create({
      url: `http://127.0.0.1:${port}/hooks`,
      events: ["*"],
    });
    assert.match(endpoint.secret, /^whsec_/);
    await client.webhooks.test(endpoint.id);

    const deadline = Date.now() + 60_000;
    while (hits.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(hits.length, 1, "the test event arrives");
    const [hit] = hits;
    const event = verifyWebhook<{ type: string }>(hit.body, hit.headers, endpoint.secret);
    assert.equal(event.type, "webhook.test");

    assert.throws(
      () => verifyWebhook(hit.body.replace("webhook.test", "webhook.tset"), hit.headers, endpoint.secret),
      WebhookVerificationError,
    );
    const rotated = await client.webhooks.rotateSecret(endpoint.id);
    assert.throws(() => verifyWebhook(hit.body, hit.headers, rotated.secret), WebhookVerificationError);
    // A receiver mid-rotation holds both secrets.
    assert.equal(verifyWebhook<{ type: string }>(hit.body, hit.headers, [rotated.secret, endpoint.secret]).type, "webhook.test");

    const log = await client.webhooks.deliveries(endpoint.id);
    assert.equal(log.data.length, 1);
    // Nothing failed, so a recovery completes having sent nothing again.
    const since = new Date(Date.now() - 60_000).toISOString();
    const recovery = await client.webhooks.recover(endpoint.id, { since });
    assert.match(recovery.id, /^rcv_/);
    let progress = recovery;
    while (progress.status === "running" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      progress = await client.webhooks.recovery(endpoint.id, recovery.id);
    }
    assert.equal(progress.status, "completed");
    assert.equal(progress.resent, 0);
    assert.equal(hits.length, 1, "nothing sent twice");
    await client.webhooks.delete(endpoint.id);
    const gone = await rejection(client.webhooks.get(endpoint.id));
    assert.equal(gone.status, 404);
  });
});

describe("consumer portal", () => {
  test("a portal link for a consumer, refused for an unknown one", async () => {
    const consumer = await client.consumers.create({ name: "SDK portal" });
    const link = await client.consumers.portalLink(consumer.id, { ttl_seconds: 600 });
    assert.match(link.id, /^ptl_/);
    assert.equal(link.object, "portal_link");
    assert.equal(link.consumer_id, consumer.id);
    assert.match(link.url, /\/portal\/ptl_[0-9a-f]{32}\?token=/);
    const opened = await fetch(link.url, { redirect: "manual" });
    assert.equal(opened.status, 303);
    assert.match(opened.headers.get("set-cookie") ?? "", /HttpOnly/i);
    const missing = await rejection(client.consumers.portalLink("csm_00000000000000000000000000000000"));
    assert.equal(missing.status, 404);
    const invalid = await rejection(client.consumers.portalLink(consumer.id, { ttl_seconds: 1 }));
    assert.equal(invalid.status, 400);
  });
});

describe("custom providers", () => {
  test("define, list, change, enable, and refused to delete while in use", async () => {
    const defined = await client.providers.custom.create({
      id: "x-sdk-ledger",
      name: "SDK Ledger",
      category: "accounting",
      auth_mode: "api_key",
      credential_fields: [{ name: "api_key", label: "API key", secret: true }],
      api_base_url: "https://api.sdk-ledger.example/v1",
    });
    assert.equal(defined.id, "x-sdk-ledger");
    assert.equal(defined.verify, null);
    const page = await client.providers.custom.list();
    assert.deepEqual(page.data.map((p) => p.id), ["x-sdk-ledger"]);
    const all = await client.providers.list({ auth_mode: "api_key" });
    assert.equal(all.data[0].id, "x-sdk-ledger");
    assert.equal(all.data[0].custom, true);
    // the catalogue comes in pages; iterate follows them, yours first, nothing twice
    const every: string[] = [];
    for await (const p of client.providers.iterate({ limit: 100 })) every.push(p.id);
    assert.equal(every[0], "x-sdk-ledger");
    assert.ok(every.length >= 150, `${every.length} providers`);
    assert.equal(new Set(every).size, every.length);
    const renamed = await client.providers.custom.update("x-sdk-ledger", { name: "SDK Ledger 2" });
    assert.equal(renamed.name, "SDK Ledger 2");
    assert.equal((await client.providers.custom.get("x-sdk-ledger")).name, "SDK Ledger 2");
    const bad = await rejection(
      client.providers.custom.create({ id: "x-sdk-bad", name: "Bad", category: "crm", auth_mode: "api_key", api_base_url: "http://10.0.0.1/" }),
    );
    assert.equal(bad.status, 400);
    assert.ok((bad.details as { field: string }[]).some((d) => d.field === "api_base_url"), JSON.stringify(bad.details));
    await client.integrations.create({ provider: "x-sdk-ledger" });
    const inUse = await rejection(client.providers.custom.delete("x-sdk-ledger"));
    assert.equal(inUse.status, 409);
    const denied = await rejection(readOnly.providers.custom.update("x-sdk-ledger", { name: "x" }));
    assert.equal(denied.status, 403);
  });
});

describe("settings", () => {
  test("read and change", async () => {
    const changed = await client.settings.update({ default_link_ttl_seconds: 3600 });
    assert.equal(changed.default_link_ttl_seconds, 3600);
    assert.equal((await client.settings.get()).default_link_ttl_seconds, 3600, "stored");
    const invalid = await rejection(client.settings.update({ default_link_ttl_seconds: 1 }));
    assert.equal(invalid.code, "validation_error");
  });
});
