//! What each function is asked during the bench: a representative event per invocation, the
//! answer it must give (a bench that measured an error page would measure the wrong thing),
//! and the fewest AWS calls the data model allows for it.
//!
//! Fixtures come from the functions themselves (their own release binaries, kept warm in
//! "setup" instances), so the bench needs nothing but moto and the binaries.

use lambda_emulator::Instance;
use linkgate::id::TenantId;
use linkgate::store::Store;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// What a function must answer for the measurement to count.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// An HTTP function: this status code.
    Status(u16),
    /// An event-source function: no `batchItemFailures` and no `failed` entries.
    Batch,
}

/// The fewest calls one invocation needs, by service, with why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Minimum {
    pub dynamodb: u32,
    pub kms: u32,
    pub events: u32,
    pub sqs: u32,
    pub why: &'static str,
}

const fn min(dynamodb: u32, why: &'static str) -> Minimum {
    Minimum {
        dynamodb,
        kms: 0,
        events: 0,
        sqs: 0,
        why,
    }
}

pub struct Scenario {
    pub what: &'static str,
    pub expect: Expect,
    pub events: Vec<Value>,
    pub minimum: Minimum,
}

/// A dialect's form of a function's operation: it may cost the DynamoDB calls of the native
/// scenarios it stands for (`native`, summed) and `lookups` more, the one its id form needs.
pub struct DialectScenario {
    pub what: &'static str,
    pub function: &'static str,
    pub native: &'static [&'static str],
    pub lookups: u32,
    pub why: &'static str,
    pub events: Vec<Value>,
}

const STRIPE_KEY: &str = "rk_test_51BenchRestrictedKey00000";

/// Shared state for building scenarios: the tenants, their keys and the setup instances.
pub struct Ctx {
    pub bins: PathBuf,
    pub env: HashMap<String, String>,
    pub logs: PathBuf,
    routes: HashMap<String, (String, String)>,
    setup: HashMap<String, Instance>,
    store: Store,
    receiver: String,
    /// The main tenant: one Stripe and one GitHub integration, consumer A.
    key: String,
    tenant: TenantId,
    /// Tenants of their own for the webhooks (endpoint W), the consumers created and
    /// deleted, and direct connect (with its own Stripe integration): moto reads a whole
    /// partition for every query, so no scenario's lists should pay for another's bulk.
    hooks: (TenantId, String),
    consumers_key: String,
    direct_key: String,
    direct_stripe: String,
    stripe: String,
    github: String,
    consumer: String,
    webhook: String,
    /// Response bodies of measured invocations, by function, for later scenarios.
    pub produced: HashMap<String, Vec<Value>>,
    /// Tenants made only to have somewhere to create one more integration.
    spare_tenants: Vec<String>,
}

fn body_json(answer: &Value) -> Value {
    answer["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null)
}

pub fn status(answer: &Value) -> Option<u16> {
    answer["statusCode"].as_u64().map(|s| s as u16)
}

fn token_of(link: &Value) -> String {
    link["url"]
        .as_str()
        .and_then(|u| u.split("token=").nth(1))
        .unwrap_or_default()
        .to_owned()
}

impl Ctx {
    pub async fn new(
        bins: PathBuf,
        env: HashMap<String, String>,
        logs: PathBuf,
        routes: HashMap<String, (String, String)>,
        store: Store,
        receiver: String,
    ) -> Result<Ctx, String> {
        let mut ctx = Ctx {
            bins,
            env,
            logs,
            routes,
            setup: HashMap::new(),
            store,
            receiver,
            key: String::new(),
            tenant: TenantId::generate(),
            hooks: (TenantId::generate(), String::new()),
            consumers_key: String::new(),
            direct_key: String::new(),
            direct_stripe: String::new(),
            stripe: String::new(),
            github: String::new(),
            consumer: String::new(),
            webhook: String::new(),
            produced: HashMap::new(),
            spare_tenants: Vec::new(),
        };
        (ctx.tenant, ctx.key) = ctx.new_tenant("Bench Platform").await?;
        ctx.hooks = ctx.new_tenant("Bench webhooks").await?;
        ctx.consumers_key = ctx.new_tenant("Bench consumers").await?.1;
        ctx.direct_key = ctx.new_tenant("Bench direct connect").await?.1;
        let direct = ctx.direct_key.clone();
        ctx.direct_stripe = ctx
            .create_as(
                &direct,
                "integrations-create",
                &[],
                json!({"provider": "stripe"}),
            )
            .await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ctx.stripe = ctx
            .create("integrations-create", &[], json!({"provider": "stripe"}))
            .await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ctx.github = ctx
            .create(
                "integrations-create",
                &[],
                json!({"provider": "github", "client_id": "bench-client", "client_secret": "bench-secret"}),
            )
            .await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let main = ctx.key.clone();
        ctx.consumer = ctx
            .create_as(
                &main,
                "consumers-create",
                &[],
                json!({"name": "Consumer A", "email": "a@customer.example", "metadata": {"plan": "pro"}}),
            )
            .await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ctx.create(
            "providers-custom-create",
            &[],
            custom_definition("x-bench-ledger"),
        )
        .await?;
        let hook = format!("{}/hook", ctx.receiver);
        let hooks = ctx.hooks.1.clone();
        ctx.webhook = ctx
            .create_as(
                &hooks,
                "webhooks-create",
                &[],
                json!({"url": hook, "events": ["*"]}),
            )
            .await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok(ctx)
    }

    async fn new_tenant(&self, name: &str) -> Result<(TenantId, String), String> {
        let tenant = linkgate::tenant::create(&self.store, name)
            .await
            .map_err(|e| format!("create tenant: {e}"))?;
        let (_, secret) = linkgate::api_key::create(
            &self.store,
            &tenant.id,
            linkgate::api_key::Role::Admin,
            Some("bench"),
        )
        .await
        .map_err(|e| format!("create key: {e}"))?;
        Ok((tenant.id, secret.expose().to_owned()))
    }

    /// An API Gateway (HTTP API, payload 2.0) event for `function`'s route.
    pub fn http(
        &self,
        function: &str,
        params: &[(&str, &str)],
        query: &str,
        key: Option<&str>,
        body: Option<(&str, String)>,
    ) -> Value {
        let (method, route) = self.routes.get(function).cloned().unwrap_or_default();
        let mut path = route.clone();
        let mut path_params = serde_json::Map::new();
        for (k, v) in params {
            path = path.replace(&format!("{{{k}}}"), v);
            path_params.insert((*k).to_owned(), json!(v));
        }
        let mut headers = serde_json::Map::new();
        headers.insert("host".into(), json!("api.linkgate.example"));
        headers.insert("user-agent".into(), json!("linkgate-bench"));
        if let Some(k) = key {
            headers.insert("authorization".into(), json!(format!("Bearer {k}")));
        }
        if let Some((ct, _)) = &body {
            headers.insert("content-type".into(), json!(ct));
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": format!("{method} {route}"),
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "bench",
                "domainName": "api.linkgate.example",
                "domainPrefix": "api",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.7", "userAgent": "linkgate-bench"},
                "requestId": "bench",
                "routeKey": format!("{method} {route}"),
                "stage": "$default",
                "time": "22/Nov/2026:10:00:00 +0000",
                "timeEpoch": 1795341600000u64
            },
            "isBase64Encoded": false,
        });
        if !path_params.is_empty() {
            event["pathParameters"] = Value::Object(path_params);
        }
        if !query.is_empty() {
            let mut q = serde_json::Map::new();
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                q.insert(k.to_owned(), json!(v));
            }
            event["queryStringParameters"] = Value::Object(q);
        }
        if let Some((_, b)) = body {
            event["body"] = json!(b);
        }
        event
    }

    /// Which tenant's key a function's scenario uses.
    fn key_for(&self, function: &str) -> &str {
        match function {
            "webhooks-list"
            | "webhooks-get"
            | "webhooks-update"
            | "webhooks-rotate-secret"
            | "webhooks-test"
            | "webhooks-deliveries"
            | "webhooks-retry"
            | "webhooks-recover"
            | "webhooks-recovery" => &self.hooks.1,
            "consumers-create" | "consumers-delete" => &self.consumers_key,
            "connections-import" | "credentials-create" | "integrations-connect" => {
                &self.direct_key
            }
            _ => &self.key,
        }
    }

    fn json_event(&self, function: &str, params: &[(&str, &str)], body: Value) -> Value {
        self.json_event_as(self.key_for(function), function, params, body)
    }

    fn json_event_as(
        &self,
        key: &str,
        function: &str,
        params: &[(&str, &str)],
        body: Value,
    ) -> Value {
        self.http(
            function,
            params,
            "",
            Some(key),
            Some(("application/json", body.to_string())),
        )
    }

    /// Runs `event` through a warm setup instance of `function` (not measured).
    pub async fn call(&mut self, function: &str, event: Value) -> Result<Value, String> {
        if !self.setup.contains_key(function) {
            let log = self.logs.join(format!("setup-{function}.log"));
            let instance = Instance::start(
                &crate::binary(&self.bins, function),
                function,
                &self.env,
                &log,
            )
            .await?;
            self.setup.insert(function.to_owned(), instance);
        }
        let instance = self
            .setup
            .get_mut(function)
            .ok_or_else(|| format!("no setup instance for {function}"))?;
        Ok(instance.invoke(event).await?.0)
    }

    /// A management call on the main tenant that must succeed; its JSON body.
    async fn create(
        &mut self,
        function: &str,
        params: &[(&str, &str)],
        body: Value,
    ) -> Result<Value, String> {
        let key = self.key_for(function).to_owned();
        self.create_as(&key, function, params, body).await
    }

    async fn create_as(
        &mut self,
        key: &str,
        function: &str,
        params: &[(&str, &str)],
        body: Value,
    ) -> Result<Value, String> {
        let event = self.json_event_as(key, function, params, body);
        let answer = self.call(function, event).await?;
        match status(&answer) {
            Some(200..=299) => Ok(body_json(&answer)),
            _ => Err(format!("setup {function} answered {answer}")),
        }
    }

    async fn many(
        &mut self,
        function: &str,
        params: &[(&str, &str)],
        count: usize,
        body: impl Fn(usize) -> Value,
    ) -> Result<Vec<Value>, String> {
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            out.push(self.create(function, params, body(i)).await?);
        }
        Ok(out)
    }

    async fn fresh_consumers(
        &mut self,
        key: &str,
        count: usize,
        tag: &str,
    ) -> Result<Vec<String>, String> {
        let mut made = Vec::with_capacity(count);
        for i in 0..count {
            let body = json!({"name": format!("{tag} {i}")});
            made.push(self.create_as(key, "consumers-create", &[], body).await?);
        }
        Ok(made
            .iter()
            .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
            .collect())
    }

    fn produced(&self, function: &str) -> Vec<Value> {
        self.produced.get(function).cloned().unwrap_or_default()
    }

    /// `POST /compat/chift/token`'s body for a new admin key of the main tenant.
    async fn chift_credentials(&self) -> Result<Value, String> {
        let (key, secret) = linkgate::api_key::create(
            &self.store,
            &self.tenant,
            linkgate::api_key::Role::Admin,
            Some("bench chift"),
        )
        .await
        .map_err(|e| format!("create key: {e}"))?;
        Ok(json!({"clientId": key.id, "clientSecret": secret.expose(), "accountId": self.tenant}))
    }

    /// An event for `function` taken by another of its routes (a dialect's): `method` and
    /// `route` as the template has them, `auth` the whole Authorization header's value.
    /// The console's sign-in form posted with `key`: the form's own cookie (under both its
    /// names, HTTPS and local) and the CSRF token derived from it.
    fn console_sign_in(&self, key: &str) -> Value {
        let form_key = linkgate::console::SessionKey::generate().ok();
        let (value, csrf) = form_key
            .map(|k| (k.expose().to_owned(), k.csrf()))
            .unwrap_or_default();
        let mut event = self.http_route(
            "console-action",
            ("POST", "/console/{page}"),
            &[("page", "sign-in")],
            "",
            "",
            None,
        );
        event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
        event["headers"]["cookie"] = json!(format!(
            "linkgate_console_signin={value}; __Host-linkgate_console_signin={value}"
        ));
        event["body"] = json!(format!("csrf={csrf}&api_key={key}"));
        event
    }

    fn http_route(
        &self,
        function: &str,
        (method, route): (&str, &str),
        params: &[(&str, &str)],
        query: &str,
        auth: &str,
        body: Option<Value>,
    ) -> Value {
        let mut event = self.http(
            function,
            params,
            query,
            None,
            body.map(|b| ("application/json", b.to_string())),
        );
        let mut path = route.to_owned();
        for (k, v) in params {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        let key = format!("{method} {route}");
        event["routeKey"] = json!(key);
        event["requestContext"]["routeKey"] = json!(key);
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["path"] = json!(path);
        event["requestContext"]["http"]["method"] = json!(method);
        event["headers"]["authorization"] = json!(auth);
        event
    }

    /// Each dialect's form of an operation, with the native scenarios it is held to.
    pub async fn dialect_scenarios(
        &mut self,
        count: usize,
    ) -> Result<Vec<DialectScenario>, String> {
        let bearer = format!("Bearer {}", self.key);
        let token_answer = {
            let body = self.chift_credentials().await?.to_string();
            let event = self.http(
                "chift-token",
                &[],
                "",
                None,
                Some(("application/json", body)),
            );
            body_json(&self.call("chift-token", event).await?)
        };
        let chift = format!(
            "Bearer {}",
            token_answer["access_token"]
                .as_str()
                .ok_or("no Chift token")?
        );
        let consumer = linkgate::id::ConsumerId::parse(&self.consumer)
            .ok_or("the main consumer's id")?
            .to_uuid();
        let mut out = Vec::new();
        out.push(DialectScenario {
            what: "Chift: read a consumer by its UUID",
            function: "consumers-get",
            native: &["consumers-get"],
            lookups: 0,
            why: "a UUID is our id's 128 bits",
            events: vec![
                self.http_route(
                    "consumers-get",
                    ("GET", "/compat/chift/consumers/{consumer_id}"),
                    &[("consumer_id", &consumer)],
                    "",
                    &chift,
                    None,
                );
                count
            ],
        });
        out.push(DialectScenario {
            what: "Chift: a consumer's connection link (marketplace)",
            function: "connections-create",
            native: &["connections-create"],
            lookups: 0,
            why: "the consumer's UUID is its id",
            events: vec![
                self.http_route(
                    "connections-create",
                    ("POST", "/compat/chift/consumers/{consumer_id}/connections"),
                    &[("consumer_id", &consumer)],
                    "redirect=true",
                    &chift,
                    Some(json!({"name": "Bench"})),
                );
                count
            ],
        });
        out.push(DialectScenario {
            what: "CauseFlow: the active integrations",
            function: "integrations-list",
            native: &["integrations-list"],
            lookups: 0,
            why: "same query, other names",
            events: vec![
                self.http_route(
                    "integrations-list",
                    ("GET", "/compat/causeflow/v1/integrations"),
                    &[],
                    "",
                    &bearer,
                    None,
                );
                count
            ],
        });
        let direct = format!("Bearer {}", self.direct_key);
        let ccfg = linkgate::id::IntegrationId::parse(&self.direct_stripe)
            .map(|i| linkgate::compat::openint::connector_config_id(&i))
            .ok_or("the direct tenant's Stripe integration")?;
        out.push(DialectScenario {
            what: "OpenInt: import for a customer named the first time",
            function: "connections-import",
            native: &["connections-import"],
            lookups: 1,
            why: "customer_id, the platform's id, is found through its reference guard",
            events: (0..count)
                .map(|i| {
                    self.http_route(
                        "connections-import",
                        ("POST", "/compat/openint/v2/connection"),
                        &[],
                        "",
                        &direct,
                        Some(json!({
                            "connector_config_id": ccfg,
                            "customer_id": format!("bench-customer-{i}"),
                            "data": {"connector_name": "stripe", "settings": {"secretKey": STRIPE_KEY}},
                        })),
                    )
                })
                .collect(),
        });
        out.push(DialectScenario {
            what: "OpenInt: a customer's connections",
            function: "connections-list",
            native: &["connections-list"],
            lookups: 1,
            why: "customer_id is found through its reference guard",
            events: vec![
                self.http_route(
                    "connections-list",
                    ("GET", "/compat/openint/v2/connection"),
                    &[],
                    "customer_id=bench-customer-0",
                    &direct,
                    None,
                );
                count
            ],
        });
        let sharing = {
            let event = self.http_route(
                "connections-create",
                ("POST", "/compat/albato/credentials/grant-access-sharing"),
                &[],
                "",
                &bearer,
                Some(json!({"partnerId": linkgate::compat::provider_number("stripe")})),
            );
            body_json(&self.call("connections-create", event).await?)["data"]["id"]
                .as_u64()
                .ok_or("no Albato sharing")?
                .to_string()
        };
        out.push(DialectScenario {
            what: "Albato: a sharing's status",
            function: "links-get",
            native: &["links-get", "connections-get"],
            lookups: 1,
            why: "its number is a key of its own, naming the connection; status is the connection's and its link's",
            events: vec![
                self.http_route(
                    "links-get",
                    ("GET", "/compat/albato/credentials/grant-access-sharing/{id}"),
                    &[("id", &sharing)],
                    "",
                    &bearer,
                    None,
                );
                count
            ],
        });
        Ok(out)
    }

    /// Drops the setup instances (their memory is not the measured functions').
    pub fn stop_setup(&mut self) {
        self.setup.clear();
    }

    /// The scenario for `function`, with `count` events.
    pub async fn scenario(&mut self, function: &str, count: usize) -> Result<Scenario, String> {
        let key = self.key_for(function).to_owned();
        let k = Some(key.as_str());
        let (consumer, stripe, github, webhook) = (
            self.consumer.clone(),
            self.stripe.clone(),
            self.github.clone(),
            self.webhook.clone(),
        );
        let same = |e: Value| vec![e; count];
        let s = |what, expect, events, minimum| Scenario {
            what,
            expect,
            events,
            minimum,
        };
        use Expect::*;
        Ok(match function {
            "bench-baseline" => s(
                "GET / (a bare lambda_http hello)",
                Status(200),
                same(self.http("health", &[], "", None, None)),
                min(0, "no AWS calls"),
            ),
            crate::hot::SDK_FLOOR => s(
                "GET / (the hello, holding a DynamoDB client built as ours are)",
                Status(200),
                same(self.http("health", &[], "", None, None)),
                min(0, "no AWS calls"),
            ),
            "health" => s(
                "GET /health",
                Status(200),
                same(self.http(function, &[], "", None, None)),
                min(0, "answers from the process"),
            ),
            "chift-token" => {
                let body = self.chift_credentials().await?.to_string();
                s(
                    "POST /compat/chift/token (Chift's SDK asks before every call)",
                    Status(200),
                    same(self.http(function, &[], "", None, Some(("application/json", body)))),
                    min(0, "the key authenticates as any request's (cached); the data key too"),
                )
            }
            "route-fallback" => s(
                "DELETE /v1/settings (no such route: 405)",
                Status(405),
                same(self.http(function, &[], "", None, None)),
                min(0, "answers from the process"),
            ),
            "providers-list" => s(
                "a page of providers: the tenant's custom one, then the catalog's first",
                Status(200),
                same(self.http(function, &[], "", k, None)),
                min(1, "Query (the tenant's custom providers); catalog compiled in, a page parsed; API key cached"),
            ),
            "providers-custom-create" => {
                // At most 50 per tenant: spread over tenants of their own.
                let per_tenant = linkgate::custom_provider::MAX_PER_TENANT as usize;
                let mut keys = Vec::new();
                while keys.len() * per_tenant < count {
                    keys.push(self.new_tenant("Bench custom providers").await?.1);
                }
                let events = (0..count)
                    .map(|i| {
                        let body = custom_definition(&format!("x-bench-{}", i % per_tenant));
                        self.http(
                            function,
                            &[],
                            "",
                            Some(&keys[i / per_tenant]),
                            Some(("application/json", body.to_string())),
                        )
                    })
                    .collect();
                self.produced.insert("bench:custom-tenants".into(), keys.iter().map(|k| json!(k)).collect());
                s(
                    "define a provider (50 per tenant, over tenants of their own)",
                    Status(201),
                    events,
                    min(1, "TransactWriteItems (definition + the tenant's count)"),
                )
            }
            "providers-custom-delete" => {
                let keys = self.produced("bench:custom-tenants");
                let made = self.produced("providers-custom-create");
                if made.len() < count {
                    return Err("providers-custom-delete needs providers-custom-create to run first".into());
                }
                let per_tenant = linkgate::custom_provider::MAX_PER_TENANT as usize;
                s(
                    "delete a provider no integration uses",
                    Status(204),
                    made.iter()
                        .take(count)
                        .enumerate()
                        .map(|(i, p)| {
                            let key = keys.get(i / per_tenant).and_then(Value::as_str).unwrap_or_default();
                            self.http(function, &[("id", p["id"].as_str().unwrap_or_default())], "", Some(key), None)
                        })
                        .collect(),
                    min(2, "GetItem (the definition), TransactWriteItems (delete, no integration, count)"),
                )
            }
            "providers-custom-list" => s(
                "list the tenant's custom providers",
                Status(200),
                same(self.http(function, &[], "", k, None)),
                min(1, "Query"),
            ),
            "providers-custom-get" => s(
                "read one custom provider",
                Status(200),
                same(self.http(function, &[("id", "x-bench-ledger")], "", k, None)),
                min(1, "GetItem"),
            ),
            "providers-custom-update" => s(
                "rename a custom provider",
                Status(200),
                (0..count)
                    .map(|i| {
                        self.json_event(function, &[("id", "x-bench-ledger")], json!({"name": format!("Bench Ledger {i}")}))
                    })
                    .collect(),
                min(3, "GetItem (definition), GetItem (its integration's guard), TransactWriteItems (definition + no integration)"),
            ),
            "settings-get" => s(
                "read settings",
                Status(200),
                same(self.http(function, &[], "", k, None)),
                min(1, "GetItem"),
            ),
            "settings-update" => s(
                "change the default link TTL",
                Status(200),
                (0..count)
                    .map(|i| {
                        self.json_event(function, &[], json!({"default_link_ttl_seconds": 86400 + i}))
                    })
                    .collect(),
                min(2, "GetItem, conditional PutItem (optimistic version)"),
            ),
            "integrations-create" => {
                // One integration per provider and tenant: cycle the catalog over spare tenants.
                let providers = body_json(
                    &self
                        .call("providers-list", self.http("providers-list", &[], "", k, None))
                        .await?,
                )["data"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    // the main tenant's own provider is not the spare tenants'
                    .filter(|p| p["custom"] != true)
                    .collect::<Vec<_>>();
                let per_tenant = providers.len().max(1);
                while self.spare_tenants.len() * per_tenant < count {
                    let (_, key) = self.new_tenant("Bench spare").await?;
                    self.spare_tenants.push(key);
                }
                let events = (0..count)
                    .map(|i| {
                        let p = &providers[i % per_tenant];
                        let body = if p["auth_mode"] == "oauth2" {
                            json!({"provider": p["id"], "client_id": "bench", "client_secret": "bench-secret"})
                        } else {
                            json!({"provider": p["id"]})
                        };
                        self.http(
                            function,
                            &[],
                            "",
                            Some(&self.spare_tenants[i / per_tenant]),
                            Some(("application/json", body.to_string())),
                        )
                    })
                    .collect();
                s(
                    "enable a provider (cycling the catalog; a tenant's first call reads its key)",
                    Status(201),
                    events,
                    min(1, "TransactWriteItems (integration + provider guard)"),
                )
            }
            "integrations-list" => s(
                "list the tenant's integrations",
                Status(200),
                same(self.http(function, &[], "", k, None)),
                min(1, "Query"),
            ),
            "integrations-get" => s(
                "read one integration",
                Status(200),
                same(self.http(function, &[("id", &stripe)], "", k, None)),
                min(1, "GetItem"),
            ),
            "integrations-update" => s(
                "rename an integration",
                Status(200),
                (0..count)
                    .map(|i| {
                        self.json_event(function, &[("id", &stripe)], json!({"display_name": format!("Stripe {i}")}))
                    })
                    .collect(),
                min(2, "GetItem, conditional PutItem (optimistic version)"),
            ),
            "integrations-logo" => s(
                "the provider's logo",
                Status(200),
                same(self.http(function, &[("id", &stripe)], "", k, None)),
                min(1, "GetItem (which integration)"),
            ),
            "consumers-create" => s(
                "create a consumer with email and metadata",
                Status(201),
                (0..count)
                    .map(|i| {
                        self.json_event(
                            function,
                            &[],
                            json!({"name": format!("Customer {i}"), "email": format!("c{i}@customer.example"),
                                   "internal_reference": format!("bench-{i}"), "metadata": {"plan": "pro"}}),
                        )
                    })
                    .collect(),
                min(1, "TransactWriteItems (consumer + reference guard)"),
            ),
            "consumers-list" => s(
                "first page of consumers",
                Status(200),
                same(self.http(function, &[], "limit=20", k, None)),
                min(1, "Query"),
            ),
            "consumers-get" => s(
                "read one consumer",
                Status(200),
                same(self.http(function, &[("id", &consumer)], "", k, None)),
                min(1, "GetItem"),
            ),
            "consumers-update" => s(
                "change metadata",
                Status(200),
                (0..count)
                    .map(|i| {
                        self.json_event(function, &[("id", &consumer)], json!({"metadata": {"plan": format!("plan-{i}")}}))
                    })
                    .collect(),
                min(2, "GetItem, conditional write (optimistic version)"),
            ),
            "consumers-delete" => {
                let ids: Vec<String> = self
                    .produced("consumers-create")
                    .iter()
                    .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
                    .collect();
                let ids = if ids.len() >= count {
                    ids
                } else {
                    let key = self.consumers_key.clone();
                    self.fresh_consumers(&key, count, "To delete").await?
                };
                s(
                    "delete a consumer without connections",
                    Status(204),
                    ids.iter()
                        .take(count)
                        .map(|id| self.http(function, &[("id", id)], "", k, None))
                        .collect(),
                    min(2, "Query (live connections?), TransactWriteItems"),
                )
            }
            "connections-create" => s(
                "create a connection and its link (marketplace)",
                Status(201),
                same(self.json_event(
                    function,
                    &[("id", &consumer)],
                    json!({"name": "Accounting", "redirect_url": "https://platform.example/done", "redirect": true}),
                )),
                Minimum {
                    why: "TransactWriteItems (consumer check, connection, link, expiry marker); settings and KMS data key cached",
                    ..min(1, "")
                },
            ),
            "connections-list" => s(
                "a consumer's connections",
                Status(200),
                same(self.http(function, &[("id", &consumer)], "limit=20", k, None)),
                min(1, "Query"),
            ),
            "connections-get" | "connections-update" | "connection-links-create" => {
                let conn = self.produced("connections-create");
                let id = conn
                    .first()
                    .and_then(|c| c["id"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                match function {
                    "connections-get" => s(
                        "read one connection",
                        Status(200),
                        same(self.http(function, &[("id", &id)], "", k, None)),
                        min(1, "GetItem"),
                    ),
                    "connections-update" => s(
                        "rename a connection",
                        Status(200),
                        (0..count)
                            .map(|i| {
                                self.json_event(function, &[("id", &id)], json!({"name": format!("Accounting {i}")}))
                            })
                            .collect(),
                        min(2, "GetItem, conditional write (optimistic version)"),
                    ),
                    _ => s(
                        "a new link for an active connection (re-auth)",
                        Status(201),
                        same(self.json_event(function, &[("id", &id)], json!({}))),
                        min(2, "GetItem (connection), TransactWriteItems (old link revoked, new link)"),
                    ),
                }
            }
            "connect-page" | "connect-submit" => {
                let links: Vec<Value> = self
                    .produced("connections-create")
                    .iter()
                    .map(|c| c["link"].clone())
                    .collect();
                if links.len() < count {
                    return Err(format!("{function} needs connections-create to run first"));
                }
                let events = links
                    .iter()
                    .take(count)
                    .map(|l| {
                        let id = l["id"].as_str().unwrap_or_default();
                        let token = token_of(l);
                        if function == "connect-page" {
                            self.http(function, &[("link_id", id)], &format!("token={token}"), None, None)
                        } else {
                            let form = format!("token={token}&integration_id={stripe}&f_secret_key={STRIPE_KEY}");
                            self.http(function, &[("link_id", id)], "", None,
                                      Some(("application/x-www-form-urlencoded", form)))
                        }
                    })
                    .collect();
                if function == "connect-page" {
                    s(
                        "first open of a link: the marketplace",
                        Status(200),
                        events,
                        Minimum {
                            why: "UpdateItem returning the link (read + record the open); integrations cached",
                            ..min(1, "")
                        },
                    )
                } else {
                    s(
                        "submit a Stripe key: link granted, connection active, redirect",
                        Status(303),
                        events,
                        Minimum {
                            why: "GetItem (link, by id), GetItem (its connection, keyed by the link's tenant), TransactWriteItems; integration and KMS data key cached",
                            ..min(3, "")
                        },
                    )
                }
            }
            "connections-credentials" => {
                let conn = self.produced("connections-create");
                let id = conn
                    .first()
                    .and_then(|c| c["id"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                s(
                    "read an active connection's credentials",
                    Status(200),
                    same(self.http(function, &[("id", &id)], "", k, None)),
                    Minimum {
                        why: "GetItem; KMS data key cached",
                        ..min(1, "")
                    },
                )
            }
            "connections-check" => {
                let conn = self.produced("connections-create");
                let id = conn
                    .first()
                    .and_then(|c| c["id"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                // Locally (and so here) a real provider's check gets no verdict without a
                // call leaving the machine: this measures our side of a check.
                s(
                    "check an active Stripe connection (no verdict: provider calls stay local)",
                    Status(200),
                    same(self.http(function, &[("id", &id)], "", k, None)),
                    Minimum {
                        why: "GetItem (the connection), TransactWriteItems (the check's record); KMS data key cached",
                        ..min(2, "")
                    },
                )
            }
            "links-list" => s(
                "first page of links",
                Status(200),
                same(self.http(function, &[], "limit=20", k, None)),
                min(1, "Query"),
            ),
            "events-list" => s(
                "a page of the tenant's events, newest first",
                Status(200),
                same(self.http(function, &[], "limit=25", k, None)),
                min(linkgate::event::repo::SHARDS as u32, "Query per event shard (a busy tenant's events spread over them); API key cached"),
            ),
            "events-get" => {
                let listed = self.produced("events-list");
                let id = listed
                    .last()
                    .and_then(|l| l["data"][0]["id"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                s(
                    "read one event",
                    Status(200),
                    same(self.http(function, &[("id", &id)], "", k, None)),
                    min(1, "GetItem (its shard follows from its id)"),
                )
            }
            "links-get" => {
                let conn = self.produced("connections-create");
                let id = conn
                    .last()
                    .and_then(|c| c["link"]["id"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                s(
                    "read one link",
                    Status(200),
                    same(self.http(function, &[("id", &id)], "", k, None)),
                    min(1, "GetItem"),
                )
            }
            "links-send" => {
                // Links of a consumer with an email address, each sent once (the per-link
                // rate limit would refuse a second send).
                let made = self
                    .many("connections-create", &[("id", &consumer)], count, |i| {
                        json!({"name": format!("To email {i}")})
                    })
                    .await?;
                let events = made
                    .iter()
                    .map(|c| {
                        self.json_event(
                            function,
                            &[("id", c["link"]["id"].as_str().unwrap_or_default())],
                            json!({}),
                        )
                    })
                    .collect();
                s(
                    "email an open link to its consumer",
                    Status(200),
                    events,
                    min(
                        5,
                        "GetItem link, consumer, tenant; UpdateItem claim; TransactWriteItems record + event (and SES SendEmail)",
                    ),
                )
            }
            "links-revoke" | "connections-revoke" => {
                if !self.produced.contains_key("bench:open-connections") {
                    let made = self
                        .many("connections-create", &[("id", &consumer)], count, |i| {
                            json!({"name": format!("To revoke {i}")})
                        })
                        .await?;
                    self.produced.insert("bench:open-connections".into(), made);
                }
                let made = self.produced("bench:open-connections");
                let events = made
                    .iter()
                    .take(count)
                    .map(|c| {
                        if function == "links-revoke" {
                            self.json_event(function, &[("id", c["link"]["id"].as_str().unwrap_or_default())], json!({}))
                        } else {
                            self.json_event(function, &[("id", c["id"].as_str().unwrap_or_default())], json!({}))
                        }
                    })
                    .collect();
                if function == "links-revoke" {
                    s(
                        "revoke an open link",
                        Status(200),
                        events,
                        min(2, "GetItem, TransactWriteItems (link, expiry marker, event)"),
                    )
                } else {
                    s(
                        "revoke a pending connection (its link already revoked)",
                        Status(200),
                        events,
                        min(2, "GetItem, TransactWriteItems (connection, event)"),
                    )
                }
            }
            "connections-import" => {
                let direct = self.direct_key.clone();
                let consumers = self.fresh_consumers(&direct, count, "Imported").await?;
                let stripe = self.direct_stripe.clone();
                s(
                    "import existing Stripe credentials",
                    Status(201),
                    consumers
                        .iter()
                        .map(|c| {
                            self.json_event(function, &[], json!({"consumer_id": c, "integration_id": stripe,
                                "name": "Imported", "credentials": {"secret_key": STRIPE_KEY}}))
                        })
                        .collect(),
                    Minimum {
                        why: "TransactWriteItems (consumer check, connection, event); integration and KMS data key cached",
                        ..min(1, "")
                    },
                )
            }
            "credentials-create" => s(
                "store a Stripe key for direct connect",
                Status(201),
                same(self.json_event(
                    function,
                    &[],
                    json!({"provider": "stripe", "values": {"secret_key": STRIPE_KEY}}),
                )),
                Minimum {
                    why: "PutItem; KMS data key cached",
                    ..min(1, "")
                },
            ),
            "integrations-connect" => {
                let credentials: Vec<String> = self
                    .produced("credentials-create")
                    .iter()
                    .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
                    .collect();
                if credentials.len() < count {
                    return Err("integrations-connect needs credentials-create to run first".into());
                }
                let direct = self.direct_key.clone();
                let consumers = self.fresh_consumers(&direct, count, "Direct").await?;
                s(
                    "connect a consumer with a stored credential",
                    Status(200),
                    consumers
                        .iter()
                        .zip(credentials)
                        .map(|(c, crd)| {
                            self.json_event(function, &[("id", "stripe")], json!({"credential_id": crd, "consumer_id": c}))
                        })
                        .collect(),
                    min(2, "GetItem (credential), TransactWriteItems (credential used, connection, guard, event)"),
                )
            }
            "connect-oauth" => {
                let made = self
                    .create(
                        "connections-create",
                        &[("id", &consumer)],
                        json!({"name": "GitHub", "integration_id": github}),
                    )
                    .await?;
                let id = made["link"]["id"].as_str().unwrap_or_default().to_owned();
                let token = token_of(&made["link"]);
                s(
                    "start OAuth: state stored, redirect to the provider",
                    Status(302),
                    same(self.http(function, &[("link_id", &id)], &format!("token={token}"), None, None)),
                    Minimum {
                        why: "GetItem (link), TransactWriteItems (state, link waiting_oauth); KMS data key cached",
                        ..min(2, "")
                    },
                )
            }
            "oauth-callback" => s(
                "a callback with a state nobody issued (the error page)",
                Status(400),
                same(self.http(
                    function,
                    &[],
                    "code=bench&state=Zm9yZ2VkLXN0YXRlLWZvcmdlZC1zdGF0ZS1mb3JnZWQ",
                    None,
                    None,
                )),
                min(1, "GetItem of the state (a browser without the flow's binding never spends it)"),
            ),
            "webhooks-create" => {
                let (_, spare) = self.new_tenant("Bench webhooks").await?;
                let hook = format!("{}/created", self.receiver);
                let event = self.http(
                    function,
                    &[],
                    "",
                    Some(&spare),
                    Some(("application/json", json!({"url": hook, "events": ["connection.created"]}).to_string())),
                );
                self.produced.insert("bench:webhook-tenant".into(), vec![json!(spare)]);
                s(
                    "add an endpoint (a tenant of its own, so fan-out stays one delivery)",
                    Status(201),
                    same(event),
                    Minimum {
                        why: "PutItem; KMS data key cached",
                        ..min(1, "")
                    },
                )
            }
            "webhooks-delete" => {
                let spare = self
                    .produced("bench:webhook-tenant")
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let ids = self.produced("webhooks-create");
                if ids.len() < count {
                    return Err("webhooks-delete needs webhooks-create to run first".into());
                }
                s(
                    "delete an endpoint",
                    Status(204),
                    ids.iter()
                        .take(count)
                        .map(|w| self.http(function, &[("id", w["id"].as_str().unwrap_or_default())], "", Some(&spare), None))
                        .collect(),
                    min(1, "conditional DeleteItem"),
                )
            }
            "webhooks-list" => s(
                "list endpoints",
                Status(200),
                same(self.http(function, &[], "", k, None)),
                min(1, "Query"),
            ),
            "webhooks-get" => s(
                "read one endpoint",
                Status(200),
                same(self.http(function, &[("id", &webhook)], "", k, None)),
                min(1, "GetItem"),
            ),
            "webhooks-update" => s(
                "change an endpoint's description",
                Status(200),
                (0..count)
                    .map(|i| {
                        self.json_event(function, &[("id", &webhook)], json!({"description": format!("Every event {i}")}))
                    })
                    .collect(),
                min(2, "GetItem, conditional PutItem (optimistic version)"),
            ),
            "webhooks-rotate-secret" => s(
                "rotate the signing secret",
                Status(200),
                same(self.json_event(function, &[("id", &webhook)], json!({}))),
                Minimum {
                    why: "GetItem, conditional PutItem; KMS data key cached",
                    ..min(2, "")
                },
            ),
            "webhooks-test" => s(
                "send a test event",
                Status(202),
                same(self.json_event(function, &[("id", &webhook)], json!({}))),
                Minimum {
                    why: "GetItem (endpoint), PutItem (delivery); SendMessage",
                    sqs: 1,
                    ..min(2, "")
                },
            ),
            "webhooks-deliveries" => s(
                "an endpoint's delivery log",
                Status(200),
                same(self.http(function, &[("id", &webhook)], "limit=20", k, None)),
                min(1, "Query"),
            ),
            "webhooks-retry" | "webhook-deliver" => {
                let tests = self.produced("webhooks-test");
                if tests.len() < count {
                    return Err(format!("{function} needs webhooks-test to run first"));
                }
                let ids: Vec<String> = tests
                    .iter()
                    .take(count)
                    .map(|t| t["delivery_id"].as_str().unwrap_or_default().to_owned())
                    .collect();
                if function == "webhooks-retry" {
                    s(
                        "retry a delivery now",
                        Status(202),
                        ids.iter()
                            .map(|d| self.json_event(function, &[("id", &webhook), ("delivery_id", d)], json!({})))
                            .collect(),
                        Minimum {
                            why: "GetItem (delivery), conditional UpdateItem; SendMessage",
                            sqs: 1,
                            ..min(2, "")
                        },
                    )
                } else {
                    let tenant = self.hooks.0.to_string();
                    s(
                        "deliver one message to a loopback receiver (204)",
                        Batch,
                        ids.iter()
                            .enumerate()
                            .map(|(i, d)| {
                                let body = json!({"tenant_id": tenant, "endpoint_id": webhook, "delivery_id": d,
                                                  "attempt": 1, "not_before": 0, "manual": false});
                                sqs_event(i, &body, "webhook-deliveries")
                            })
                            .collect(),
                        Minimum {
                            why: "BatchGetItem (endpoint, delivery), UpdateItem (attempt logged); KMS data key cached",
                            ..min(2, "")
                        },
                    )
                }
            }
            "portal-links-create" => s(
                "a portal link for consumer A",
                Status(201),
                same(self.json_event(function, &[("id", &consumer)], json!({}))),
                min(1, "TransactWriteItems (consumer check, portal link)"),
            ),
            "portal-page" => {
                let links = self.produced("portal-links-create");
                if links.len() < count {
                    return Err(format!("{function} needs portal-links-create to run first"));
                }
                let events = links
                    .iter()
                    .take(count)
                    .map(|l| {
                        let id = l["id"].as_str().unwrap_or_default();
                        self.http(function, &[("portal_id", id)], &format!("token={}", token_of(l)), None, None)
                    })
                    .collect();
                s(
                    "open a portal link: spent for a session, on to the portal",
                    Status(303),
                    events,
                    min(2, "GetItem (link), TransactWriteItems (link spent, session put)"),
                )
            }
            "portal-action" => {
                // One session (set up, not measured), asked again and again to confirm a
                // disconnect: the page that asks changes nothing.
                let link = self
                    .create("portal-links-create", &[("id", &consumer)], json!({}))
                    .await?;
                let id = link["id"].as_str().unwrap_or_default().to_owned();
                let open = self.http("portal-page", &[("portal_id", &id)], &format!("token={}", token_of(&link)), None, None);
                let opened = self.call("portal-page", open).await?;
                let cookie = opened["cookies"][0]
                    .as_str()
                    .or(opened["headers"]["set-cookie"].as_str())
                    .and_then(|c| c.split(';').next())
                    .ok_or_else(|| format!("opening the portal set no cookie: {opened}"))?
                    .to_owned();
                let session = cookie
                    .split_once('=')
                    .and_then(|(_, v)| linkgate::portal::SessionKey::parse(v))
                    .ok_or_else(|| format!("not a session cookie: {cookie}"))?;
                let conn = self
                    .produced("connections-create")
                    .first()
                    .and_then(|c| c["id"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                let form = format!("csrf={}&connection_id={conn}&action=disconnect", session.csrf());
                let mut event = self.http(function, &[("portal_id", &id)], "", None,
                                          Some(("application/x-www-form-urlencoded", form)));
                event["headers"]["cookie"] = json!(cookie);
                s(
                    "the portal asks before a disconnect",
                    Status(200),
                    same(event),
                    min(2, "GetItem (session), GetItem (connection); integrations and settings cached"),
                )
            }
            "console-action" => s(
                "sign in to the console with an API key",
                Status(303),
                same(self.console_sign_in(&key)),
                min(1, "PutItem (session); the key is cached"),
            ),
            "console-page" => {
                // One session (set up, not measured), shown the overview again and again.
                let opened = self
                    .call("console-action", self.console_sign_in(&key))
                    .await?;
                let cookie = opened["cookies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .chain(opened["headers"]["set-cookie"].as_str())
                    .filter_map(|c| c.split(';').next())
                    .find(|c| c.contains("linkgate_console="))
                    .ok_or_else(|| format!("signing in set no session cookie: {opened}"))?
                    .to_owned();
                let mut event = self.http_route(function, ("GET", "/console"), &[], "", "", None);
                event["headers"]["cookie"] = json!(cookie);
                s(
                    "the console's overview: 30 days of counters, whatever the tenant's size",
                    Status(200),
                    same(event),
                    min(4, "GetItem (session), BatchGetItem ×3 (8 shards × 30 days and the totals); the key is cached, the session's use written at most once a minute"),
                )
            }
            "webhooks-recover" => {
                let since = (chrono::Utc::now() - chrono::Duration::hours(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                s(
                    "start a recovery of the last hour",
                    Status(202),
                    same(self.json_event(function, &[("id", &webhook)], json!({"since": since}))),
                    Minimum {
                        why: "GetItem (endpoint), PutItem (recovery); SendMessage (first step)",
                        sqs: 1,
                        ..min(2, "")
                    },
                )
            }
            "webhooks-recovery" | "webhook-recover" => {
                let started = self.produced("webhooks-recover");
                if started.len() < count {
                    return Err(format!("{function} needs webhooks-recover to run first"));
                }
                let ids: Vec<String> = started
                    .iter()
                    .take(count)
                    .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
                    .collect();
                if function == "webhooks-recovery" {
                    s(
                        "a recovery's progress",
                        Status(200),
                        ids.iter()
                            .map(|r| self.http(function, &[("id", &webhook), ("recovery_id", r)], "", k, None))
                            .collect(),
                        min(2, "GetItem (endpoint), GetItem (recovery)"),
                    )
                } else {
                    let tenant = self.hooks.0.to_string();
                    s(
                        "one step of a recovery: a page of the endpoint's deliveries",
                        Batch,
                        ids.iter()
                            .enumerate()
                            .map(|(i, r)| {
                                let body = json!({"tenant_id": tenant, "endpoint_id": webhook, "recovery_id": r, "step": 0});
                                sqs_event(i, &body, "webhook-recoveries")
                            })
                            .collect(),
                        min(
                            4,
                            "GetItem (recovery), GetItem (endpoint), Query (a page of deliveries), UpdateItem (progress)",
                        ),
                    )
                }
            }
            "webhook-fanout" => {
                let tenant = self.hooks.0.to_string();
                s(
                    "fan one event out to one endpoint",
                    Batch,
                    (0..count)
                        .map(|i| {
                            json!({"version": "0", "id": format!("00000000-0000-4000-8000-{i:012}"),
                                "detail-type": "connection.created", "source": "linkgate", "account": "123456789012",
                                "time": "2026-11-22T10:00:00Z", "region": "us-east-1", "resources": [],
                                "detail": {"id": format!("evt_0193a1b2c3d47000{i:016x}"), "type": "connection.created",
                                           "tenant_id": tenant, "occurred_at": "2026-11-22T10:00:00.000Z",
                                           "data": {"connection": {"id": "conn_0193a1b2c3d470008000000000000013", "status": "active"}}}})
                        })
                        .collect(),
                    Minimum {
                        why: "Query (endpoints), PutItem (delivery); SendMessage",
                        sqs: 1,
                        ..min(2, "")
                    },
                )
            }
            "event-relay" => {
                let sample = std::fs::read_to_string(crate::root().join("events/event-relay.json"))
                    .map_err(|e| e.to_string())?;
                let tenant = self.tenant.to_string();
                let events = (0..count)
                    .map(|i| {
                        let text = sample
                            .replace("ten_0193a1b2c3d47000800000000000000a", &tenant)
                            .replace("evt_0193a1b2c3d47000800000000000000e", &format!("evt_0193a1b2c3d47000{i:016x}"));
                        serde_json::from_str(&text).unwrap_or(Value::Null)
                    })
                    .collect();
                s(
                    "publish one outbox record to EventBridge",
                    Batch,
                    events,
                    Minimum {
                        why: "PutItem (the count's marker), UpdateItem ×2 (a day's shard, a totals shard); PutEvents",
                        events: 1,
                        ..min(3, "")
                    },
                )
            }
            "token-refresher" => s(
                "a sweep with nothing due",
                Batch,
                same(json!({"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.scheduler",
                            "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "us-east-1",
                            "resources": [], "detail": {}})),
                min(16, "one Query per refresh shard"),
            ),
            "reminder-sender" => s(
                "a sweep with nothing due",
                Batch,
                same(json!({"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.scheduler",
                            "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "us-east-1",
                            "resources": [], "detail": {}})),
                min(16, "one Query per reminder shard"),
            ),
            other => return Err(format!("no scenario for {other}: add one to bench/harness/src/scenarios.rs")),
        })
    }
}

/// Whether `answer` is what the scenario must get.
pub fn check(expect: Expect, answer: &Value) -> Result<(), String> {
    let ok = match expect {
        Expect::Status(code) => status(answer) == Some(code),
        Expect::Batch => {
            answer["batchItemFailures"]
                .as_array()
                .is_none_or(|a| a.is_empty())
                && answer
                    .get("failed")
                    .is_none_or(|f| f.as_u64() == Some(0) || f.is_null())
        }
    };
    if ok {
        Ok(())
    } else {
        let text = answer.to_string();
        let cut: String = text.chars().take(600).collect();
        Err(format!("expected {expect:?}, got {cut}"))
    }
}

/// The JSON body of a measured answer (for scenarios that reuse what it made).
/// One SQS message as Lambda's event source hands it over, from the local queue `queue`.
fn sqs_event(i: usize, body: &Value, queue: &str) -> Value {
    json!({"Records": [{"messageId": format!("00000000-0000-4000-8000-{i:012}"),
        "receiptHandle": "bench", "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795341600000",
                       "SenderId": "bench", "ApproximateFirstReceiveTimestamp": "1795341600001"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:linkgate-local-{queue}"),
        "awsRegion": "us-east-1"}]})
}

pub fn produced_body(answer: &Value) -> Value {
    if answer.get("statusCode").is_some() {
        body_json(answer)
    } else {
        answer.clone()
    }
}

/// A custom provider of the bench's tenants (API key, verified at a public host the bench
/// never reaches: the scenarios only define, read and change it).
fn custom_definition(id: &str) -> Value {
    json!({
        "id": id,
        "name": "Bench Ledger",
        "category": "accounting",
        "auth_mode": "api_key",
        "credential_fields": [{"name": "api_key", "label": "API key", "secret": true, "pattern": "^[A-Za-z0-9_]{8,64}$"}],
        "connection_fields": [{"name": "region", "label": "Region", "options": ["eu", "us"]}],
        "api_base_url": "https://{region}.api.bench-ledger.example/v2",
        "verify": {"url": "https://{region}.api.bench-ledger.example/v2/me", "headers": {"Authorization": "Bearer {api_key}"}}
    })
}
