// The Linkgate client: openapi-fetch typed by the generated `schema.ts`, wrapped so that a
// call returns its data or throws a `LinkgateError`, creates carry an Idempotency-Key, and
// lists can be walked with `for await`.

import createFetchClient, { type Client } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";
export { verifyWebhook, WebhookVerificationError } from "./webhook.js";
export type { WebhookHeaders, VerifyOptions } from "./webhook.js";

type Schemas = components["schemas"];
type JsonBody<Op extends keyof operations> = operations[Op] extends {
  requestBody: { content: { "application/json": infer B } };
}
  ? B
  : operations[Op] extends { requestBody?: { content: { "application/json": infer B } } }
    ? B
    : never;
type Query<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;
type JsonAnswer<Op extends keyof operations, Code extends number> = operations[Op]["responses"] extends {
  [K in Code]: { content: { "application/json": infer R } };
}
  ? R
  : never;

export type Consumer = Schemas["Consumer"];
export type Connection = Schemas["Connection"];
export type Link = Schemas["Link"];
export type NewLink = Schemas["NewLink"];
export type Integration = Schemas["Integration"];
export type Provider = Schemas["Provider"];
export type CustomProvider = Schemas["CustomProvider"];
export type Webhook = Schemas["Webhook"];
export type WebhookWithSecret = Schemas["WebhookWithSecret"];
export type Delivery = Schemas["Delivery"];
export type Recovery = Schemas["Recovery"];
export type PortalLink = Schemas["PortalLink"];
export type Settings = Schemas["Settings"];
export type LinkgateEvent = Schemas["Event"];
export type ApiErrorBody = Schemas["Error"];
export type ConnectionWithLink = JsonAnswer<"createConnection", 201>;

/** A page of a list: newest first; pass `next_cursor` back as `cursor`. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface CreateOptions {
  /** Sent as `Idempotency-Key`; a random UUID when omitted, so a retried call is safe. */
  idempotencyKey?: string;
}

/** Every non-2xx answer, with the API's error code and the request id to quote to support. */
export class LinkgateError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;
  readonly details: unknown;

  constructor(status: number, body: unknown) {
    const error = (body as { error?: Partial<ApiErrorBody["error"]> } | undefined)?.error;
    const code = typeof error?.code === "string" ? error.code : status >= 500 ? "internal" : "unknown";
    const message = typeof error?.message === "string" ? error.message : `HTTP ${status}`;
    super(`${code}: ${message}`);
    this.name = "LinkgateError";
    this.status = status;
    this.code = code;
    this.requestId = typeof error?.request_id === "string" ? error.request_id : undefined;
    this.details = error?.details;
  }
}

export interface LinkgateOptions {
  /** A tenant API key (`lgk_…`), sent as a bearer token. */
  apiKey: string;
  /** Where the API is served, e.g. `https://api.example.com` or `http://127.0.0.1:9000`. */
  baseUrl: string;
  /** Another `fetch` (a proxy-aware one, a test double for your own tests). */
  fetch?: typeof globalThis.fetch;
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

async function unwrap<T>(pending: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok) {
    throw new LinkgateError(response.status, error);
  }
  return data as T;
}

async function* walk<T>(page: (cursor?: string) => Promise<Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const current = await page(cursor);
    yield* current.data;
    cursor = current.next_cursor ?? undefined;
  } while (cursor);
}

function idempotency(options?: CreateOptions) {
  return { "Idempotency-Key": options?.idempotencyKey ?? crypto.randomUUID() };
}

export class Linkgate {
  /** The typed openapi-fetch client underneath, for anything the surface below leaves out. */
  readonly raw: Client<paths>;

  constructor(options: LinkgateOptions) {
    if (!options.apiKey) {
      throw new TypeError("Linkgate: apiKey is required");
    }
    this.raw = createFetchClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      headers: { Authorization: `Bearer ${options.apiKey}` },
      fetch: options.fetch,
    });
  }

  readonly consumers = {
    create: (body: JsonBody<"createConsumer">, options?: CreateOptions): Promise<Consumer> =>
      unwrap(this.raw.POST("/v1/consumers", { body, headers: idempotency(options) })),
    get: (id: string): Promise<Consumer> =>
      unwrap(this.raw.GET("/v1/consumers/{id}", { params: { path: { id } } })),
    update: (id: string, body: JsonBody<"updateConsumer">): Promise<Consumer> =>
      unwrap(this.raw.PATCH("/v1/consumers/{id}", { params: { path: { id } }, body })),
    delete: async (id: string): Promise<void> => {
      await unwrap(this.raw.DELETE("/v1/consumers/{id}", { params: { path: { id } } }));
    },
    list: (query: Query<"listConsumers"> = {}): Promise<Page<Consumer>> =>
      unwrap(this.raw.GET("/v1/consumers", { params: { query } })),
    iterate: (query: Omit<Query<"listConsumers">, "cursor"> = {}): AsyncGenerator<Consumer> =>
      walk((cursor) => this.consumers.list({ ...query, cursor })),
    /** A single-use link to the consumer's portal (`url`, shown once), where they manage
     * their own connections. */
    portalLink: (id: string, body: JsonBody<"createPortalLink"> = {}): Promise<PortalLink> =>
      unwrap(this.raw.POST("/v1/consumers/{id}/portal-links", { params: { path: { id } }, body })),
  };

  readonly connections = {
    /** A pending connection and its single-use link (`link.url`, shown once). */
    create: (
      consumerId: string,
      body: JsonBody<"createConnection">,
      options?: CreateOptions,
    ): Promise<ConnectionWithLink> =>
      unwrap(
        this.raw.POST("/v1/consumers/{id}/connections", {
          params: { path: { id: consumerId } },
          body,
          headers: idempotency(options),
        }),
      ),
    get: (id: string): Promise<Connection> =>
      unwrap(this.raw.GET("/v1/connections/{id}", { params: { path: { id } } })),
    update: (id: string, body: JsonBody<"updateConnection">): Promise<Connection> =>
      unwrap(this.raw.PATCH("/v1/connections/{id}", { params: { path: { id } }, body })),
    revoke: (id: string): Promise<Connection> =>
      unwrap(this.raw.DELETE("/v1/connections/{id}", { params: { path: { id } } })),
    /** Decrypted credentials (admin keys only). */
    credentials: (id: string): Promise<JsonAnswer<"getConnectionCredentials", 200>> =>
      unwrap(this.raw.GET("/v1/connections/{id}/credentials", { params: { path: { id } } })),
    /** Ask the provider about the stored credentials now (a verification request, or a
     * token refresh for OAuth); a refusal moves the connection to `needs_reauth`. */
    check: (id: string): Promise<JsonAnswer<"checkConnection", 200>> =>
      unwrap(this.raw.POST("/v1/connections/{id}/check", { params: { path: { id } }, body: {} })),
    /** A new link for the connection (re-authentication); the open one is revoked. */
    newLink: (id: string, body: JsonBody<"createConnectionLink"> = {}): Promise<NewLink> =>
      unwrap(this.raw.POST("/v1/connections/{id}/links", { params: { path: { id } }, body })),
    import: (body: JsonBody<"importConnection">, options?: CreateOptions): Promise<Connection> =>
      unwrap(this.raw.POST("/v1/connections", { body, headers: idempotency(options) })),
    list: (consumerId: string, query: Query<"listConsumerConnections"> = {}): Promise<Page<Connection>> =>
      unwrap(
        this.raw.GET("/v1/consumers/{id}/connections", {
          params: { path: { id: consumerId }, query },
        }),
      ),
    iterate: (
      consumerId: string,
      query: Omit<Query<"listConsumerConnections">, "cursor"> = {},
    ): AsyncGenerator<Connection> =>
      walk((cursor) => this.connections.list(consumerId, { ...query, cursor })),
  };

  readonly links = {
    get: (id: string): Promise<Link> =>
      unwrap(this.raw.GET("/v1/links/{id}", { params: { path: { id } } })),
    revoke: (id: string): Promise<Link> =>
      unwrap(this.raw.DELETE("/v1/links/{id}", { params: { path: { id } } })),
    /** Emails the link to its consumer now (at most once every five minutes per link). */
    send: (id: string): Promise<Link> =>
      unwrap(this.raw.POST("/v1/links/{id}/send", { params: { path: { id } } })),
    list: (query: Query<"listLinks"> = {}): Promise<Page<Link>> =>
      unwrap(this.raw.GET("/v1/links", { params: { query } })),
    iterate: (query: Omit<Query<"listLinks">, "cursor"> = {}): AsyncGenerator<Link> => walk((cursor) => this.links.list({ ...query, cursor })),
  };

  readonly events = {
    /** An event as it was published (404 once past the retention period). */
    get: (id: string): Promise<LinkgateEvent> =>
      unwrap(this.raw.GET("/v1/events/{id}", { params: { path: { id } } })),
    /** Newest first; a page may be short and still carry `next_cursor` (see `iterate`). */
    list: (query: Query<"listEvents"> = {}): Promise<Page<LinkgateEvent>> =>
      unwrap(this.raw.GET("/v1/events", { params: { query } })),
    /** Every event that matches, newest first, page after page. */
    iterate: (query: Omit<Query<"listEvents">, "cursor"> = {}): AsyncGenerator<LinkgateEvent> =>
      walk((cursor) => this.events.list({ ...query, cursor })),
  };

  readonly providers = {
    /** The catalog, and your custom providers first (`custom: true`). */
    list: (query: Query<"listProviders"> = {}): Promise<Page<Provider>> =>
      unwrap(this.raw.GET("/v1/providers", { params: { query } })),
    /** Every provider that matches, page after page. */
    iterate: (query: Omit<Query<"listProviders">, "cursor"> = {}): AsyncGenerator<Provider> =>
      walk((cursor) => this.providers.list({ ...query, cursor })),
    /** Your own provider definitions: same power as a catalog entry, listed for you only. */
    custom: {
      create: (body: JsonBody<"createCustomProvider">, options?: CreateOptions): Promise<CustomProvider> =>
        unwrap(this.raw.POST("/v1/providers/custom", { body, headers: idempotency(options) })),
      list: (query: Query<"listCustomProviders"> = {}): Promise<Page<CustomProvider>> =>
        unwrap(this.raw.GET("/v1/providers/custom", { params: { query } })),
      get: (id: string): Promise<CustomProvider> =>
        unwrap(this.raw.GET("/v1/providers/custom/{id}", { params: { path: { id } } })),
      update: (id: string, body: JsonBody<"updateCustomProvider">): Promise<CustomProvider> =>
        unwrap(this.raw.PATCH("/v1/providers/custom/{id}", { params: { path: { id } }, body })),
      /** 409 while an integration of it exists. */
      delete: async (id: string): Promise<void> => {
        await unwrap(this.raw.DELETE("/v1/providers/custom/{id}", { params: { path: { id } } }));
      },
    },
  };

  readonly integrations = {
    create: (body: JsonBody<"createIntegration">, options?: CreateOptions): Promise<Integration> =>
      unwrap(this.raw.POST("/v1/integrations", { body, headers: idempotency(options) })),
    list: () => unwrap(this.raw.GET("/v1/integrations")),
    get: (id: string): Promise<Integration> =>
      unwrap(this.raw.GET("/v1/integrations/{id}", { params: { path: { id } } })),
    update: (id: string, body: JsonBody<"updateIntegration">): Promise<Integration> =>
      unwrap(this.raw.PATCH("/v1/integrations/{id}", { params: { path: { id } }, body })),
    /** Direct connect: a stored credential, or the start of a server-side OAuth. */
    connect: (
      id: string,
      body: JsonBody<"connectIntegration">,
      options?: CreateOptions,
    ): Promise<JsonAnswer<"connectIntegration", 200>> =>
      unwrap(
        this.raw.POST("/v1/integrations/{id}/connect", {
          params: { path: { id } },
          body,
          headers: idempotency(options),
        }),
      ),
  };

  readonly credentials = {
    create: (
      body: JsonBody<"createCredential">,
      options?: CreateOptions,
    ): Promise<JsonAnswer<"createCredential", 201>> =>
      unwrap(this.raw.POST("/v1/credentials", { body, headers: idempotency(options) })),
  };

  readonly webhooks = {
    /** The answer carries the signing secret, shown this once. */
    create: (body: JsonBody<"createWebhook">, options?: CreateOptions): Promise<WebhookWithSecret> =>
      unwrap(this.raw.POST("/v1/webhooks", { body, headers: idempotency(options) })),
    list: () => unwrap(this.raw.GET("/v1/webhooks")),
    get: (id: string): Promise<Webhook> =>
      unwrap(this.raw.GET("/v1/webhooks/{id}", { params: { path: { id } } })),
    update: (id: string, body: JsonBody<"updateWebhook">): Promise<Webhook> =>
      unwrap(this.raw.PATCH("/v1/webhooks/{id}", { params: { path: { id } }, body })),
    delete: async (id: string): Promise<void> => {
      await unwrap(this.raw.DELETE("/v1/webhooks/{id}", { params: { path: { id } } }));
    },
    rotateSecret: (id: string): Promise<JsonAnswer<"rotateWebhookSecret", 200>> =>
      unwrap(this.raw.POST("/v1/webhooks/{id}/rotate-secret", { params: { path: { id } } })),
    test: (id: string): Promise<JsonAnswer<"testWebhook", 202>> =>
      unwrap(this.raw.POST("/v1/webhooks/{id}/test", { params: { path: { id } } })),
    deliveries: (
      id: string,
      query: Query<"listWebhookDeliveries"> = {},
    ): Promise<Page<Delivery>> =>
      unwrap(this.raw.GET("/v1/webhooks/{id}/deliveries", { params: { path: { id }, query } })),
    retry: (id: string, deliveryId: string): Promise<Delivery> =>
      unwrap(
        this.raw.POST("/v1/webhooks/{id}/deliveries/{delivery_id}/retry", {
          params: { path: { id, delivery_id: deliveryId } },
        }),
      ),
    /** Sends every failed delivery since `since` again, in the background; poll `recovery`. */
    recover: (id: string, body: JsonBody<"recoverWebhook">): Promise<Recovery> =>
      unwrap(this.raw.POST("/v1/webhooks/{id}/recover", { params: { path: { id } }, body })),
    recovery: (id: string, recoveryId: string): Promise<Recovery> =>
      unwrap(
        this.raw.GET("/v1/webhooks/{id}/recoveries/{recovery_id}", {
          params: { path: { id, recovery_id: recoveryId } },
        }),
      ),
  };

  readonly settings = {
    get: (): Promise<Settings> => unwrap(this.raw.GET("/v1/settings")),
    update: (body: JsonBody<"updateSettings">): Promise<Settings> =>
      unwrap(this.raw.PATCH("/v1/settings", { body })),
  };
}
