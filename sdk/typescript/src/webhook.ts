// Standard Webhooks verification (https://www.standardwebhooks.com): the signature is
// HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed by the base64 part of
// a `whsec_` secret, sent as space-separated `v1,<base64>` entries (one per live secret while
// a rotated one is still honoured).

import { createHmac, timingSafeEqual } from "node:crypto";

export type WebhookHeaders =
  | Headers
  | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way; 5 minutes by default. */
  toleranceSeconds?: number;
  /** The clock, for tests. */
  now?: () => Date;
}

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(" ") : value;
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  const key = Buffer.from(encoded, "base64");
  if (key.length === 0) {
    throw new WebhookVerificationError("the webhook secret is empty or not base64");
  }
  return key;
}

/**
 * Checks a delivery's signature and age, then returns its parsed JSON body.
 *
 * Pass the body exactly as received (before any JSON parsing: re-serialising changes bytes).
 * Any of `secrets` may match, so a receiver can hold the old and new secret across a rotation.
 */
export function verifyWebhook<T = unknown>(
  payload: string | Uint8Array,
  headers: WebhookHeaders,
  secrets: string | string[],
  options: VerifyOptions = {},
): T {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError(
      "missing webhook-id, webhook-timestamp or webhook-signature header",
    );
  }
  if (!/^\d+$/.test(timestamp)) {
    throw new WebhookVerificationError("webhook-timestamp is not a number of seconds");
  }
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  const sent = Number(timestamp);
  if (sent < now - tolerance) {
    throw new WebhookVerificationError("the delivery is too old");
  }
  if (sent > now + tolerance) {
    throw new WebhookVerificationError("the delivery's timestamp is in the future");
  }

  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, "utf8"), body]);
  const offered = signatures
    .split(" ")
    .map((entry) => entry.split(",", 2))
    .filter(([version, value]) => version === "v1" && value)
    .map(([, value]) => Buffer.from(value, "base64"));
  const keys = (Array.isArray(secrets) ? secrets : [secrets]).map(secretKey);
  const matches = keys.some((key) => {
    const expected = createHmac("sha256", key).update(signed).digest();
    return offered.some((o) => o.length === expected.length && timingSafeEqual(o, expected));
  });
  if (!matches) {
    throw new WebhookVerificationError("no signature matches");
  }
  try {
    return JSON.parse(body.toString("utf8")) as T;
  } catch {
    throw new WebhookVerificationError("the body is not JSON");
  }
}
