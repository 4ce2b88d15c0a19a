// The hosted pages (connect, the consumer portal, the operator console) in a real browser: Debian's Chromium driven by playwright-core,
// against the local stack (`stack.py up`), on a fresh tenant. What a customer does, by
// keyboard only; what each state looks like (screenshots); accessibility (axe-core); and
// that the pages never call another origin.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SHOTS = resolve(ROOT, process.env.LINKGATE_SCREENSHOTS ?? "target/screenshots");
const STRIPE_KEY = "rk_test_51BrowserRestrictedKey00000000";
const CHROMIUM = process.env.LINKGATE_CHROMIUM ?? "/usr/bin/chromium";
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const facts = JSON.parse(readFileSync(resolve(ROOT, "target/dev/dev.json"), "utf8"));
const base = facts.api_base_url;

let browser;
let key;
let tenantId;
let stripe;
let receiver;
let receiverUrl;
const landed = [];

function admin(args) {
  const out = execFileSync(resolve(ROOT, "target/debug/linkgate-admin"), args, {
    cwd: ROOT,
    env: { ...process.env, ...facts.function_env },
    encoding: "utf8",
  });
  return JSON.parse(out);
}

async function api(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A connection with its link; `redirect` sends the browser to our receiver at the end. */
async function connectLink({ integration, redirect = false } = {}) {
  const consumer = await api("POST", "/v1/consumers", { name: "Ada Lovelace", email: "ada@customer.example" });
  const body = { name: "Accounting", link_ttl_seconds: 3600 };
  if (integration) body.integration_id = integration;
  if (redirect) Object.assign(body, { redirect: true, redirect_url: receiverUrl });
  const connection = await api("POST", `/v1/consumers/${consumer.id}/connections`, body);
  return { consumer, connection, link: connection.link };
}

/** Moves a link's expiry into the past, straight in the table (moto never runs TTL). */
async function backdate(linkId) {
  const r = await fetch(facts.aws_endpoint_url, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": "DynamoDB_20120810.UpdateItem",
      authorization: `AWS4-HMAC-SHA256 Credential=test/20261122/${facts.region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify({
      TableName: facts.table,
      Key: { pk: { S: `LINK#${linkId}` }, sk: { S: "LINK" } },
      UpdateExpression: "SET expires_at = :past",
      ExpressionAttributeValues: { ":past": { S: "2020-01-01T00:00:00.000Z" } },
    }),
  });
  assert.equal(r.status, 200, await r.text());
}

/** A page that records every request it makes, to prove none leaves the connect origin. */
async function openPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 }, ...options });
  const page = await context.newPage();
  const requests = [];
  page.on("request", (req) => requests.push(req));
  return { context, page, requests };
}

function crossOrigin(requests) {
  const origin = new URL(base).origin;
  return requests
    .filter((r) => !r.url().startsWith("data:"))
    .filter((r) => new URL(r.url()).origin !== origin)
    // the last step of a completed flow is the platform's own redirect page, by design
    .filter((r) => !(r.isNavigationRequest() && r.url().startsWith(receiverUrl)))
    .map((r) => r.url());
}

async function axe(page, state) {
  // Evaluated by the driver: the pages' CSP (rightly) refuses any inline script.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => await globalThis.axe.run(document));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `accessibility violations on the ${state} page`,
  );
  assert.ok(result.passes.length > 10, `axe ran on the ${state} page`);
}

async function shot(page, name) {
  await page.screenshot({ path: resolve(SHOTS, `${name}.png`), fullPage: true });
}

/** Tab until `selector` has the focus, as a keyboard user would. */
async function tabTo(page, selector) {
  for (let i = 0; i < 30; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press("Tab");
  }
  assert.fail(`${selector} never took the focus by Tab`);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const seeded = admin(["seed-demo", "--name", "Browser tests"]);
  key = seeded.api_key.secret;
  tenantId = seeded.tenant.id;
  stripe = await api("POST", "/v1/integrations", { provider: "stripe" });
  await api("POST", "/v1/integrations", { provider: "datadog" });
  receiver = createServer((req, res) => {
    landed.push(req.url);
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><html lang=en><title>Platform</title><h1>Back on the platform</h1></html>");
  });
  await new Promise((ok) => receiver.listen(0, "127.0.0.1", ok));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}/linkgate/done`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  receiver?.close();
});

test("a customer picks an integration and connects by keyboard, then lands on the redirect", async () => {
  const { consumer, connection, link } = await connectLink({ redirect: true });
  const { context, page, requests } = await openPage();

  const opened = await page.goto(link.url);
  assert.equal(opened.status(), 200);
  await page.getByRole("heading", { level: 1 }).waitFor();
  const cards = page.locator("a.card");
  assert.equal(await cards.count(), 2, "both enabled integrations are offered");
  await axe(page, "marketplace");
  await shot(page, "marketplace");

  await tabTo(page, `a.card[href*="${stripe.id}"]`);
  await Promise.all([page.waitForURL(/integration=/), page.keyboard.press("Enter")]);
  await page.getByLabel(/key/i).first().waitFor();
  await axe(page, "form");

  // a wrong key first: the form comes back with the error, the secret not echoed
  await tabTo(page, "input[name=f_secret_key]");
  await page.keyboard.type("not-a-stripe-key");
  await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
  const error = page.locator(".field-error, .error");
  await error.first().waitFor();
  const field = page.locator("input[name=f_secret_key]");
  assert.equal(await field.getAttribute("aria-invalid"), "true");
  // "the highlighted fields" must be visibly highlighted, not only for screen readers
  assert.equal(await field.evaluate((el) => getComputedStyle(el).borderTopColor), "rgb(164, 22, 26)");
  assert.ok(!(await page.content()).includes("not-a-stripe-key"), "the secret is not echoed");
  await axe(page, "form with an error");
  await shot(page, "form-error");

  await tabTo(page, "input[name=f_secret_key]");
  await page.keyboard.press("Control+A");
  await page.keyboard.type(STRIPE_KEY);
  await shot(page, "form");
  await tabTo(page, "button[type=submit]");
  await Promise.all([page.waitForURL((u) => u.href.startsWith(receiverUrl)), page.keyboard.press("Enter")]);

  const params = new URL(page.url()).searchParams;
  assert.equal(params.get("connectionId"), connection.id);
  assert.equal(params.get("consumerId"), consumer.id);
  assert.equal(params.get("status"), "active");
  assert.ok(landed.some((u) => u.includes(connection.id)), "the receiver was reached");
  const now = await api("GET", `/v1/connections/${connection.id}`);
  assert.equal(now.status, "active");
  assert.equal(now.integration_id, stripe.id);
  assert.deepEqual(crossOrigin(requests), [], "no request left for another origin");
  await context.close();
});

test("without a redirect the customer sees a success page, and the used link says so", async () => {
  const { link } = await connectLink({ integration: stripe.id });
  const { context, page, requests } = await openPage();
  await page.goto(link.url);
  await tabTo(page, "input[name=f_secret_key]");
  await page.keyboard.type(STRIPE_KEY);
  await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
  await page.getByRole("heading", { level: 1 }).waitFor();
  await axe(page, "success");
  await shot(page, "success");

  const again = await page.goto(link.url);
  assert.equal(again.status(), 200);
  assert.match(await page.textContent("main"), /already used/);
  await axe(page, "used");
  await shot(page, "used");
  assert.deepEqual(crossOrigin(requests), []);
  await context.close();
});

test("a key its provider refuses keeps the link open and says so, then a good one connects", async () => {
  // key-mock: the local stack's API-key provider, which accepts lg_valid_… keys only.
  const keyed = await api("POST", "/v1/integrations", { provider: "key-mock" });
  const { connection, link } = await connectLink({ integration: keyed.id });
  const { context, page, requests } = await openPage();
  await page.goto(link.url);
  await tabTo(page, "input[name=f_workspace]");
  await page.keyboard.type("demo");
  await tabTo(page, "input[name=f_api_key]");
  await page.keyboard.type("lg_wrong_browser_key");
  await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
  await page.locator(".field-error, .error").first().waitFor();
  assert.match(await page.textContent("main"), /Local API-key provider refused these credentials/);
  assert.equal(await page.locator("input[name=f_api_key]").getAttribute("aria-invalid"), "true");
  assert.equal(await page.locator("input[name=f_workspace]").inputValue(), "demo", "what is not secret is kept");
  assert.ok(!(await page.content()).includes("lg_wrong_browser_key"), "the secret is not echoed");
  await axe(page, "form refused by the provider");
  await shot(page, "form-refused");
  const open = await api("GET", `/v1/links/${link.id}`);
  assert.equal(open.status, "waiting");
  assert.equal(open.last_error.code, "credentials_refused");

  await tabTo(page, "input[name=f_api_key]");
  await page.keyboard.type("lg_valid_browser_key");
  await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
  await page.getByRole("heading", { level: 1 }).waitFor();
  const now = await api("GET", `/v1/connections/${connection.id}`);
  assert.equal(now.status, "active");
  assert.equal(now.verified, true);
  assert.deepEqual(crossOrigin(requests), [], "the check is ours, server to server");
  await context.close();
});

test("a provider the tenant defined itself goes through the same page, with its own logo", async () => {
  const logo = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#0B5FFF"/><path d="M16 46 32 14l16 32z" fill="#fff"/></svg>';
  await api("POST", "/v1/providers/custom", {
    id: "x-acme-ledger",
    name: "Acme Ledger",
    category: "accounting",
    auth_mode: "api_key",
    credential_fields: [{ name: "api_key", label: "Ledger key", secret: true, help: "Settings → API in Acme Ledger." }],
    connection_fields: [{ name: "workspace", label: "Workspace", placeholder: "demo" }],
    api_base_url: "http://127.0.0.1:9402/v1/workspaces/{workspace}",
    verify: { url: "http://127.0.0.1:9402/v1/workspaces/{workspace}/me", headers: { Authorization: "Bearer {api_key}" }, refused: [401] },
    logo: `data:image/svg+xml;base64,${Buffer.from(logo).toString("base64")}`,
  });
  const custom = await api("POST", "/v1/integrations", { provider: "x-acme-ledger" });
  const { connection, link } = await connectLink({ integration: custom.id });
  const { context, page, requests } = await openPage();
  await page.goto(link.url);
  assert.match(await page.textContent("main"), /Acme Ledger/);
  assert.match(await page.textContent("main"), /Ledger key/);
  assert.ok(await page.locator("img[src^='data:image/svg+xml']").count() > 0, "its own logo, inline");
  await axe(page, "custom provider form");
  await shot(page, "custom-provider-form");
  await tabTo(page, "input[name=f_workspace]");
  await page.keyboard.type("demo");
  await tabTo(page, "input[name=f_api_key]");
  await page.keyboard.type("lg_valid_custom_browser_key");
  await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
  await page.getByRole("heading", { level: 1 }).waitFor();
  const now = await api("GET", `/v1/connections/${connection.id}`);
  assert.equal(now.status, "active");
  assert.equal(now.provider, "x-acme-ledger");
  assert.equal(now.verified, true);
  assert.deepEqual(crossOrigin(requests), [], "nothing loaded from elsewhere");
  await context.close();
});

test("expired and revoked links get their own pages", async () => {
  const { context, page, requests } = await openPage();

  const expired = await connectLink({ integration: stripe.id });
  await backdate(expired.link.id);
  const e = await page.goto(expired.link.url);
  assert.equal(e.status(), 410);
  assert.match(await page.textContent("h1"), /expired/);
  assert.equal(await page.locator("form").count(), 0, "nothing to submit");
  await axe(page, "expired");
  await shot(page, "expired");

  const revoked = await connectLink({ integration: stripe.id });
  await api("DELETE", `/v1/links/${revoked.link.id}`);
  const r = await page.goto(revoked.link.url);
  assert.equal(r.status(), 410);
  assert.match(await page.textContent("h1"), /no longer valid/);
  await axe(page, "revoked");
  await shot(page, "revoked");

  const bad = await page.goto(`${base}/connect/${revoked.link.id}?token=wrong`);
  assert.equal(bad.status(), 404);
  await axe(page, "invalid");
  assert.deepEqual(crossOrigin(requests), []);
  await context.close();
});

test("on a phone the pages fit the screen and the form still completes", async () => {
  const { connection, link } = await connectLink({ redirect: true });
  const { context, page, requests } = await openPage({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  await page.goto(link.url);
  const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.ok(await fits(), "the marketplace does not scroll sideways");
  await shot(page, "phone-marketplace");
  await page.locator(`a.card[href*="${stripe.id}"]`).tap();
  await page.locator("input[name=f_secret_key]").waitFor();
  assert.ok(await fits(), "the form does not scroll sideways");
  const box = await page.locator("button[type=submit]").boundingBox();
  assert.ok(box.height >= 44 && box.width >= 44, `the button is a comfortable tap target (${box.width}×${box.height})`);
  await axe(page, "phone form");
  await page.locator("input[name=f_secret_key]").fill(STRIPE_KEY);
  await shot(page, "phone-form");
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(receiverUrl)),
    page.locator("button[type=submit]").tap(),
  ]);
  assert.equal(new URL(page.url()).searchParams.get("connectionId"), connection.id);
  assert.deepEqual(crossOrigin(requests), []);
  await context.close();
});

test("a branded page in French keeps the tenant's colour under the CSP and stays accessible", async () => {
  const logo = `data:image/svg+xml;base64,${Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="8" fill="#0b5fff"/><text x="8" y="27" font-size="18" fill="#ffffff">AB</text></svg>',
  ).toString("base64")}`;
  await api("PATCH", "/v1/settings", {
    branding: { display_name: "Acme Books", primary_color: "#0b5fff", logo },
  });
  try {
    const consumer = await api("POST", "/v1/consumers", { name: "Zoé", locale: "fr-BE" });
    const connection = await api("POST", `/v1/consumers/${consumer.id}/connections`, {
      name: "Comptabilité",
      integration_id: stripe.id,
    });
    const { context, page, requests } = await openPage({ locale: "de-DE" });
    const blocked = [];
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
    });
    await page.goto(connection.link.url);
    assert.equal(await page.evaluate(() => document.documentElement.lang), "fr", "the consumer's locale beats the browser's");
    assert.equal(await page.locator("h1").textContent(), "Connecter Stripe");
    assert.equal(await page.locator(".brand span").textContent(), "Acme Books");
    assert.ok(await page.evaluate(() => document.querySelector(".brand img").naturalWidth > 0), "the logo is drawn");
    assert.equal(
      await page.evaluate(() => getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor),
      "rgb(11, 95, 255)",
      "the brand colour applies: its style rule is allowed by the CSP",
    );
    assert.deepEqual(blocked, [], "the CSP blocked nothing");
    await axe(page, "branded French form");
    await shot(page, "branded-fr");
    assert.deepEqual(crossOrigin(requests), []);
    await context.close();
  } finally {
    await api("PATCH", "/v1/settings", { branding: null });
  }
});

// --- the consumer portal ---------------------------------------------------------------------

/** A consumer with a connected Stripe account and an unfinished one, and a portal link. */
async function portalOf() {
  const consumer = await api("POST", "/v1/consumers", { name: "Grace Hopper" });
  const made = async (name) =>
    api("POST", `/v1/consumers/${consumer.id}/connections`, { name, integration_id: stripe.id });
  const connected = await made("Payments");
  const form = new URLSearchParams({
    token: new URL(connected.link.url).searchParams.get("token"),
    integration_id: stripe.id,
    f_secret_key: STRIPE_KEY,
  });
  const done = await fetch(`${base}/connect/${connected.link.id}`, { method: "POST", body: form, redirect: "manual" });
  assert.ok(done.status === 200 || done.status === 303, `connected: ${done.status}`);
  const unfinished = await made("Refunds");
  const portal = await api("POST", `/v1/consumers/${consumer.id}/portal-links`, {
    return_url: receiverUrl,
  });
  return { connected, unfinished, portal };
}

const rowButton = (connectionId, action) =>
  `form:has(input[name=connection_id][value="${connectionId}"]) button[value=${action}]`;

test("in the portal a customer disconnects one connection and finishes another, by keyboard", async () => {
  const { connected, unfinished, portal } = await portalOf();
  const { context, page, requests } = await openPage();
  const opened = await page.goto(portal.url);
  assert.equal(opened.status(), 200);
  assert.match(page.url(), /\/portal\/ptl_[0-9a-f]+$/, "the token is gone from the address");
  await page.getByRole("heading", { level: 1 }).waitFor();
  assert.match(await page.textContent("main"), /Connected/);
  assert.match(await page.textContent("main"), /Not finished/);
  await axe(page, "portal");
  await shot(page, "portal");

  // disconnect asks first
  await tabTo(page, rowButton(connected.id, "disconnect"));
  await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
  await page.getByRole("heading", { name: /Disconnect Stripe\?/ }).waitFor();
  await axe(page, "portal confirmation");
  await shot(page, "portal-confirm");
  assert.equal((await api("GET", `/v1/connections/${connected.id}`)).status, "active");
  await tabTo(page, "button[value=confirm_disconnect]");
  await Promise.all([page.waitForURL(/notice=disconnected/), page.keyboard.press("Enter")]);
  await page.getByRole("status").waitFor();
  assert.equal((await api("GET", `/v1/connections/${connected.id}`)).status, "revoked");
  await axe(page, "portal after a disconnect");
  await shot(page, "portal-disconnected");

  // the unfinished one: a new link on the same connection, then back to the portal
  await tabTo(page, rowButton(unfinished.id, "reconnect"));
  await Promise.all([page.waitForURL(/\/connect\/lnk_/), page.keyboard.press("Enter")]);
  await tabTo(page, "input[name=f_secret_key]");
  await page.keyboard.type(STRIPE_KEY);
  await tabTo(page, "button[type=submit]");
  await Promise.all([page.waitForURL(/\/portal\/ptl_.*status=active/), page.keyboard.press("Enter")]);
  assert.equal((await api("GET", `/v1/connections/${unfinished.id}`)).status, "active");
  assert.equal(await page.locator(rowButton(unfinished.id, "reconnect")).textContent(), "Reconnect");
  assert.deepEqual(crossOrigin(requests), []);
  await context.close();

  // the link was spent: another browser gets nothing
  const { context: other, page: stranger } = await openPage();
  const refused = await stranger.goto(portal.url);
  assert.equal(refused.status(), 404);
  await axe(stranger, "portal link already used");
  await other.close();
});

test("on a phone the portal fits the screen and its buttons are tap targets", async () => {
  const { connected, portal } = await portalOf();
  const { context, page, requests } = await openPage({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  await page.goto(portal.url);
  await page.getByRole("heading", { level: 1 }).waitFor();
  assert.ok(
    await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    "the portal does not scroll sideways",
  );
  for (const action of ["reconnect", "disconnect"]) {
    const box = await page.locator(rowButton(connected.id, action)).boundingBox();
    assert.ok(box.height >= 44 && box.width >= 44, `${action} is a comfortable tap target (${box.width}×${box.height})`);
  }
  await axe(page, "phone portal");
  await shot(page, "phone-portal");
  assert.deepEqual(crossOrigin(requests), []);
  await context.close();
});

// --- the operator console --------------------------------------------------------------------

/** A receiver that answers 503 until `up()`, then 204. */
async function flakyReceiver() {
  let down = true;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(down ? 503 : 204);
    res.end();
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, url: `http://127.0.0.1:${server.address().port}/hooks`, up: () => (down = false) };
}

/** Polls the API until `done(value)`, for at most a minute. */
async function until(read, done, what) {
  for (let i = 0; i < 120; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((ok) => setTimeout(ok, 500));
  }
  assert.fail(`never: ${what}`);
}

const deliveryStatuses = async (wh) =>
  (await api("GET", `/v1/webhooks/${wh}/deliveries`)).data.map((d) => d.status).sort();

/** Follows a link of the console's navigation by keyboard. */
async function navigate(page, href) {
  await tabTo(page, `a[href="${href}"]`);
  await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
  await page.getByRole("heading", { level: 1 }).waitFor();
}

test("an operator signs in with a key and walks every console page by keyboard", async () => {
  const { consumer, connection } = await connectLink({ integration: stripe.id });
  await api("POST", "/v1/webhooks", { url: "https://hooks.platform.example/linkgate", events: ["*"] });
  const { context, page, requests } = await openPage();
  await page.goto(`${base}/console`);
  assert.match(page.url(), /\/console\/sign-in$/, "no session: on to sign in");
  await axe(page, "console sign-in");
  await shot(page, "console-sign-in");
  await tabTo(page, "input[name=api_key]");
  await page.keyboard.type(key);
  await Promise.all([page.waitForURL(/\/console$/), page.keyboard.press("Enter")]);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await axe(page, "console overview");
  await shot(page, "console-overview");

  await navigate(page, "/console/consumers");
  assert.match(await page.textContent("main"), /Ada Lovelace/);
  await axe(page, "console consumers");
  await navigate(page, `/console/consumers/${consumer.id}`);
  await axe(page, "console consumer");
  await navigate(page, `/console/connections/${connection.id}`);
  assert.match(await page.textContent("main"), /Timeline/);
  await axe(page, "console connection");
  await shot(page, "console-connection");
  await navigate(page, "/console/links");
  await axe(page, "console links");
  await shot(page, "console-links");
  await navigate(page, "/console/webhooks");
  await axe(page, "console webhooks");
  await navigate(page, "/console/settings");
  await page.getByRole("img", { name: /connect page looks in this brand/ }).waitFor();
  await axe(page, "console settings");
  await shot(page, "console-settings");

  // signing out ends it: the console sends the browser to sign in again
  await tabTo(page, "header button[type=submit]");
  await Promise.all([page.waitForURL(/signed_out=1/), page.keyboard.press("Enter")]);
  await page.goto(`${base}/console/consumers`);
  assert.match(page.url(), /\/console\/sign-in$/);
  assert.deepEqual(crossOrigin(requests), []);
  await context.close();
});

test("an admin retries a failed delivery and recovers the rest from the console, by keyboard", async () => {
  // down until both events have failed every attempt, then up
  const flaky = await flakyReceiver();
  const wh = await api("POST", "/v1/webhooks", { url: flaky.url, events: ["webhook.test"] });
  await api("POST", `/v1/webhooks/${wh.id}/test`, {});
  await api("POST", `/v1/webhooks/${wh.id}/test`, {});
  await until(() => deliveryStatuses(wh.id), (s) => s.join() === "failed,failed", "both deliveries failed");
  // a slow run may have outlasted the auto-disable window (15 s locally): paused and resumed,
  // the endpoint starts afresh
  await api("PATCH", `/v1/webhooks/${wh.id}`, { enabled: false });
  await api("PATCH", `/v1/webhooks/${wh.id}`, { enabled: true });
  flaky.up();

  // a one-time link from the CLI signs this browser in as an admin
  const link = admin(["console-link", "--tenant", tenantId, "--role", "admin"]);
  assert.ok(link.path.startsWith("/console/sign-in?link=csl_"));
  const { context, page, requests } = await openPage();
  await page.goto(`${base}${link.path}`);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.goto(`${base}/console/webhooks/${wh.id}`);
  await axe(page, "console webhook");
  await shot(page, "console-webhook");

  await tabTo(page, "button[aria-label^='Retry delivery']");
  await Promise.all([page.waitForURL(/notice=retried/), page.keyboard.press("Enter")]);
  await page.getByRole("status").waitFor();
  await until(() => deliveryStatuses(wh.id), (s) => s.join() === "failed,succeeded", "the retried one delivered");

  await tabTo(page, "select[name=since]");
  await page.keyboard.press("ArrowDown");
  await tabTo(page, "form.form button[type=submit]");
  await Promise.all([page.waitForURL(/notice=recovering/), page.keyboard.press("Enter")]);
  await page.getByRole("status").waitFor();
  await until(() => deliveryStatuses(wh.id), (s) => s.join() === "succeeded,succeeded", "the rest recovered");
  await page.reload();
  await axe(page, "console webhook after a recovery");
  await shot(page, "console-webhook-recovered");
  assert.deepEqual(crossOrigin(requests), []);
  await context.close();
  flaky.server.close();
});

test("on a phone the console fits the screen and its controls are tap targets", async () => {
  const { context, page, requests } = await openPage({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  await page.goto(`${base}/console/sign-in`);
  await page.fill("input[name=api_key]", key);
  await Promise.all([page.waitForURL(/\/console$/), page.click("button[type=submit]")]);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  assert.ok(
    await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    "the console does not scroll sideways",
  );
  for (const link of await page.locator("nav a").all()) {
    const box = await link.boundingBox();
    assert.ok(box.height >= 44, `a tap target (${box.width}×${box.height})`);
  }
  await axe(page, "phone console");
  await shot(page, "phone-console");
  assert.deepEqual(crossOrigin(requests), []);
  await context.close();
});
