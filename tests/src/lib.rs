//! Helpers shared by the integration tests. They talk to the local stack that
//! `scripts/stack.py up` (run by `make test`) started and described in `target/dev/dev.json`.

pub mod oauth;
pub mod receiver;
pub mod runtime_api;

use aws_sdk_dynamodb::types::AttributeValue;
use linkgate::api_key::{self, Role};
use linkgate::id::TenantId;
use linkgate::store::Store;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Redirects are part of what the tests check, so they are never followed. Each client keeps
/// its own cookies, as a browser does.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("http client")
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    pub api_base_url: String,
    pub api_key: String,
    pub tenant_id: String,
    pub aws_endpoint_url: String,
    pub region: String,
    pub table: String,
    /// The account's settings (the admin CLI, tests acting as the account).
    pub function_env: HashMap<String, String>,
    /// Per function, what Lambda gives it on this stack (see `lambda_env`).
    #[serde(default)]
    pub functions: HashMap<String, HashMap<String, String>>,
    /// The local Lambda service (its Invoke API and `/_local/` additions).
    pub lambda_url: String,
    #[serde(default)]
    pub oauth_provider_url: Option<String>,
    #[serde(default)]
    pub oauth_proxy_url: Option<String>,
    /// The demo customer's connect and portal links `make dev` prints.
    #[serde(default)]
    pub connect_link: Option<String>,
    #[serde(default)]
    pub portal_link: Option<String>,
}

impl Stack {
    /// The running local stack. Fails loudly when it is not up: these tests never skip.
    pub fn get() -> Stack {
        let path = std::env::var("LINKGATE_DEV_JSON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root().join("target/dev/dev.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} not readable ({e}): start the local stack with `make test` or `.venv/bin/python scripts/stack.py up`",
                path.display()
            )
        });
        serde_json::from_str(&text).expect("dev.json is malformed")
    }

    /// What Lambda gives function `name` on this stack, its role's credentials included (so
    /// moto checks its calls against its policy in template.yaml): for running its binary
    /// directly with `runtime_api::invoke`.
    pub fn lambda_env(&self, name: &str) -> HashMap<String, String> {
        self.functions
            .get(name)
            .unwrap_or_else(|| panic!("no function {name} in dev.json"))
            .clone()
    }

    /// The events `function` was invoked with since `since` (Unix seconds), as the local
    /// Lambda service recorded them (its most recent few hundred): what reached the function.
    pub async fn invocations(&self, function: &str, since: f64) -> Vec<Value> {
        let url = format!(
            "{}/_local/functions/{function}/invocations?since={since}",
            self.lambda_url
        );
        let got: Vec<Value> = client()
            .get(url)
            .send()
            .await
            .expect("the Lambda service answers")
            .json()
            .await
            .expect("a list of invocations");
        got.into_iter().map(|i| i["event"].clone()).collect()
    }

    /// Deploys `function` once more on the local Lambda service as `name`, as the template
    /// has it but with a `timeout` of its own (seconds): for what happens near the limit.
    pub async fn deploy_copy(&self, function: &str, name: &str, timeout: u64) {
        let deployed: Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("target/dev/deployment.json"))
                .expect("the stack wrote target/dev/deployment.json"),
        )
        .expect("deployment.json is JSON");
        let mut spec = deployed["functions"][function].clone();
        assert!(spec.is_object(), "no function {function} deployed");
        spec["name"] = Value::from(name);
        spec["timeout"] = Value::from(timeout);
        spec["binary_path"] = Value::from(
            root()
                .join("target/debug")
                .join(function)
                .to_string_lossy()
                .into_owned(),
        );
        let r = client()
            .put(format!("{}/_local/functions/{name}", self.lambda_url))
            .json(&spec)
            .send()
            .await
            .expect("the Lambda service answers");
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    /// Invokes `function` through the local Lambda service's Invoke API, as API Gateway or
    /// an event source would: its answer, or `Err` with Lambda's error (`errorType`, …).
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<Value, Value> {
        let r = client()
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                self.lambda_url
            ))
            .json(event)
            .send()
            .await
            .expect("the Lambda service answers");
        assert_eq!(r.status(), StatusCode::OK, "{function} was not invoked");
        let failed = r.headers().contains_key("x-amz-function-error");
        let body: Value = r.json().await.expect("a JSON answer");
        if failed {
            Err(body)
        } else {
            Ok(body)
        }
    }

    /// Every authorisation of a function's AWS call the local stack's moto recorded since it
    /// started (target/dev/iam.jsonl): `{function, access_key, action, resource, allowed}`.
    pub fn authorisations(&self) -> Vec<Value> {
        std::fs::read_to_string(root().join("target/dev/iam.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// What the stack's moto answers at `/_local/<path>` (scripts/moto_server.py: what SES
    /// and the queues took, which items mention a text), read in place: never its
    /// dashboard, which walks every object moto ever made, nor a Scan of the whole table.
    async fn moto_local<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> T {
        client()
            .get(format!("{}/_local/{path}", self.aws_endpoint_url))
            .query(query)
            .send()
            .await
            .expect("moto's local answer")
            .json()
            .await
            .expect("moto's local answer is JSON")
    }

    /// Every email SES took, oldest first: each its fields (`destinations`, `raw_data`...)
    /// and its `type` (`RawMessage`, `Message`...).
    pub async fn sent_emails(&self) -> Vec<Value> {
        self.moto_local("ses/messages", &[]).await
    }

    /// A store client on the stack's table, through the real DynamoDB wire API (moto).
    pub async fn store(&self) -> Store {
        let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests");
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .http_client(linkgate::aws::http_client())
            .endpoint_url(&self.aws_endpoint_url)
            .region(aws_sdk_dynamodb::config::Region::new(self.region.clone()))
            .credentials_provider(creds)
            .build();
        Store::new(
            aws_sdk_dynamodb::Client::from_conf(conf),
            self.table.clone(),
        )
    }

    /// What a function builds at cold start (see `linkgate::App`), on the stack's moto,
    /// with the functions' own settings: a stand-in for one more container.
    pub fn app(&self) -> linkgate::App {
        let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests");
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(linkgate::aws::http_client())
            .endpoint_url(&self.aws_endpoint_url)
            .region(aws_config::Region::new(self.region.clone()))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                creds,
            ))
            .build();
        let config = linkgate::config::Config::from_lookup(|k| self.function_env.get(k).cloned())
            .expect("the functions' settings are valid");
        let sealer = config
            .kms_key_id
            .clone()
            .map(|key| linkgate::seal::Sealer::new(sdk.clone(), key));
        linkgate::App::new(config, aws_sdk_dynamodb::Client::new(&sdk), sealer)
    }

    pub fn api(&self, key: &str) -> Api {
        Api {
            base: self.api_base_url.clone(),
            key: Some(key.to_owned()),
            http: client(),
        }
    }

    pub fn anonymous(&self) -> Api {
        Api {
            base: self.api_base_url.clone(),
            key: None,
            http: client(),
        }
    }

    /// The tenant's outbox items (every shard of its events), oldest first.
    pub async fn outbox(
        &self,
        tenant: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let store = self.store().await;
        let mut items = Vec::new();
        for shard in 0..linkgate::event::repo::SHARDS {
            let out = store
                .client()
                .query()
                .table_name(store.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :evt)")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(format!("EV#{tenant}#{shard}")),
                )
                .expression_attribute_values(":evt", AttributeValue::S("EVT#".into()))
                .consistent_read(true)
                .send()
                .await
                .expect("query events");
            items.extend(out.items().iter().cloned());
        }
        let sk = |i: &std::collections::HashMap<String, AttributeValue>| {
            i.get("sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        items.sort_by_key(sk);
        items
    }

    /// The tenant's outbox events of one type, oldest first, as their `detail` JSON.
    pub async fn events(&self, tenant: &TenantId, kind: &str) -> Vec<Value> {
        self.outbox(tenant.as_str())
            .await
            .iter()
            .filter(|i| {
                i.get("type")
                    .and_then(|t| t.as_s().ok())
                    .is_some_and(|t| t == kind)
            })
            .map(|i| serde_json::from_str(i["detail"].as_s().unwrap()).unwrap())
            .collect()
    }

    /// A fresh tenant with one admin and one member key, so tests never share state.
    pub async fn tenant(&self) -> TestTenant {
        let store = self.store().await;
        let tenant = linkgate::tenant::create(&store, "Test Platform")
            .await
            .expect("create tenant");
        let (admin_key, admin) =
            api_key::create(&store, &tenant.id, Role::Admin, Some("test admin"))
                .await
                .expect("create admin key");
        let (member_key, member) = api_key::create(&store, &tenant.id, Role::Member, None)
            .await
            .expect("create member key");
        TestTenant {
            id: tenant.id,
            admin: self.api(admin.expose()),
            admin_key_id: admin_key.id,
            member: self.api(member.expose()),
            member_key_id: member_key.id,
        }
    }
}

pub struct TestTenant {
    pub id: TenantId,
    pub admin: Api,
    pub admin_key_id: linkgate::id::ApiKeyId,
    pub member: Api,
    pub member_key_id: linkgate::id::ApiKeyId,
}

/// The CSRF token a hosted page's first form carries.
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a form with a CSRF token: {page}"))
        .to_owned()
}

/// The value of the cookie `name` that a response sets.
pub fn cookie_set(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

impl Stack {
    /// A browser signed in to the operator console with `key` (as its sign-in form does):
    /// the browser and its session cookie's value.
    pub async fn console(&self, key: &str) -> (Api, String) {
        let browser = self.anonymous();
        let form = browser.get("/console/sign-in").await;
        assert_eq!(form.status, 200, "{}", form.text);
        let csrf = csrf_of(&form.text);
        let r = browser
            .post_form("/console/sign-in", &[("csrf", &csrf), ("api_key", key)])
            .await;
        assert_eq!(r.status, 303, "{}", r.text);
        let session = cookie_set(&r, "linkgate_console")
            .unwrap_or_else(|| panic!("a session cookie: {:?}", r.headers));
        (browser, session)
    }
}

impl TestTenant {
    /// A new consumer from its creation body: its id.
    pub async fn consumer(&self, body: &Value) -> String {
        self.admin.create_id("/v1/consumers", body).await
    }

    /// A new connection of `consumer` from its creation body: the connection as created, its
    /// first link included.
    pub async fn connect(&self, consumer: &str, body: &Value) -> Value {
        let r = self
            .admin
            .post(&format!("/v1/consumers/{consumer}/connections"), body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()
    }

    /// A new consumer (`consumer`: its creation body) with one connection (`connection`: its
    /// creation body): the connection as created, its first link included.
    pub async fn connection(&self, consumer: &Value, connection: &Value) -> Value {
        let id = self.consumer(consumer).await;
        self.connect(&id, connection).await
    }

    /// A new consumer and connection whose link waits to be opened.
    pub async fn open_link(&self) -> OpenLink {
        let connection = self
            .connection(&json!({"name": "Waiting"}), &json!({"name": "Waiting"}))
            .await;
        OpenLink::of(&connection)
    }
}

/// A link as the platform hands it out (`link` in a connection's answer, or a link's own
/// answer with its `url`): what a customer's browser opens and submits.
pub struct OpenLink {
    pub id: String,
    pub token: String,
    /// `/connect/lnk_…?token=…`, relative to the API base.
    pub path: String,
}

impl OpenLink {
    /// The link of a connection's answer (`link`), or a link answer itself.
    pub fn of(answer: &Value) -> OpenLink {
        let link = if answer["link"].is_object() {
            &answer["link"]
        } else {
            answer
        };
        let url = link["url"].as_str().expect("a link with its url");
        OpenLink {
            id: link["id"].as_str().expect("a link id").to_owned(),
            token: url.split("token=").nth(1).expect("a token").to_owned(),
            path: url
                .trim_start_matches(&Stack::get().api_base_url)
                .to_owned(),
        }
    }

    /// Opens the page in `browser`.
    pub async fn open(&self, browser: &Api) -> Reply {
        browser.get(&self.path).await
    }

    /// Submits the page's form from `browser` as the customer would: the token, then
    /// `fields` (`integration_id`, `f_<field>`…).
    pub async fn complete(&self, browser: &Api, fields: &[(&str, &str)]) -> Reply {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", &self.token);
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        browser
            .raw(
                reqwest::Method::POST,
                &format!("/connect/{}", self.id),
                Some((
                    "application/x-www-form-urlencoded",
                    form.finish().into_bytes(),
                )),
                &[],
            )
            .await
    }
}

/// Polls `probe` (every 100 ms) until what it sees is `done`, or `limit` passes: what it saw
/// last, for the caller to assert on. The one way tests wait for something asynchronous.
pub async fn eventually<T>(
    limit: std::time::Duration,
    mut probe: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let seen = probe().await;
        if done(&seen) || std::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {:?}", self.text))
    }

    /// Asserts the documented error shape and returns its code.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let error = &body["error"];
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "no message: {body}"
        );
        assert!(
            error["request_id"].as_str().is_some_and(|m| !m.is_empty()),
            "no request_id: {body}"
        );
        assert_eq!(
            self.headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            error["request_id"].as_str(),
            "x-request-id header and body disagree"
        );
        error["code"].as_str().unwrap_or_default().to_owned()
    }

    /// The fields named in `error.details`.
    pub fn error_fields(&self) -> Vec<String> {
        self.json()["error"]["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|e| e["field"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    key: Option<String>,
    http: reqwest::Client,
}

impl Api {
    /// The key this client sends.
    pub fn raw_key(&self) -> &str {
        self.key.as_deref().unwrap_or_default()
    }

    pub fn with_key(&self, key: &str) -> Api {
        Api {
            key: Some(key.to_owned()),
            ..self.clone()
        }
    }

    /// Sends a request with optional raw body and extra headers.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.try_raw(method, path, body, headers)
            .await
            .unwrap_or_else(|e| panic!("{path}: request to the local stack failed: {e}"))
    }

    /// As `raw`, but a connection the local stack refused or reset is the caller's to judge
    /// (API Gateway never refuses one).
    pub async fn try_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(key) = &self.key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        if let Some((content_type, bytes)) = body {
            if !content_type.is_empty() {
                req = req.header("content-type", content_type);
            }
            req = req.body(bytes);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        Ok(Reply {
            status,
            headers,
            text,
        })
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.raw(Method::GET, path, None, &[]).await
    }

    /// A form post, as a browser sends one.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        self.raw(
            Method::POST,
            path,
            Some((
                "application/x-www-form-urlencoded",
                form.finish().into_bytes(),
            )),
            &[],
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.raw(Method::DELETE, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.raw(
            Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
            &[],
        )
        .await
    }

    /// Every page of a cursor-paged list, first to last (each must answer 200): follows
    /// `next_cursor` by adding `cursor=` to `path`, and stops after `limit` pages so a cursor
    /// that never ends fails the test instead of hanging it.
    pub async fn pages(&self, path: &str, limit: usize) -> Vec<Value> {
        let joiner = if path.contains('?') { '&' } else { '?' };
        let mut pages: Vec<Value> = Vec::new();
        let mut next = path.to_owned();
        loop {
            let r = self.get(&next).await;
            assert_eq!(r.status, 200, "GET {next}: {}", r.text);
            let page = r.json();
            let cursor = page["next_cursor"].as_str().map(str::to_owned);
            pages.push(page);
            match cursor {
                Some(c) => next = format!("{path}{joiner}cursor={c}"),
                None => return pages,
            }
            assert!(
                pages.len() < limit,
                "GET {path}: the cursors end within {limit} pages"
            );
        }
    }

    /// The items of every page of a cursor-paged list, in order.
    pub async fn all(&self, path: &str) -> Vec<Value> {
        items(&self.pages(path, 1_000).await)
    }

    /// Creates a resource and returns its id (the create must answer 201).
    pub async fn create_id(&self, path: &str, body: &Value) -> String {
        let r = self.post(path, body).await;
        assert_eq!(r.status, 201, "POST {path}: {}", r.text);
        r.json()["id"].as_str().expect("an id").to_owned()
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.raw(
            Method::PATCH,
            path,
            Some(("application/json", body.to_string().into_bytes())),
            &[],
        )
        .await
    }
}

/// The items of pages of a list (each page's `data`, which every page must have), in order.
pub fn items(pages: &[Value]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|page| page["data"].as_array().expect("a page has data").clone())
        .collect()
}

/// The template parsed as YAML, short-form tags kept as YAML tags.
pub fn openapi() -> serde_yaml::Value {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).expect("openapi.yaml exists");
    serde_yaml::from_str(&text).expect("openapi.yaml parses")
}

pub fn template() -> serde_yaml::Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("read template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml parses")
}

/// One HTTP route of the template: method, path and the binary that serves it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
}

/// The path `template_routes` gives the `$default` route (method `ANY`).
pub const DEFAULT_ROUTE: &str = "$default";

impl Route {
    pub fn is_default(&self) -> bool {
        self.path == DEFAULT_ROUTE
    }

    /// API Gateway's `routeKey` for it.
    pub fn key(&self) -> String {
        if self.is_default() {
            DEFAULT_ROUTE.to_owned()
        } else {
            format!("{} {}", self.method, self.path)
        }
    }
}

/// Every HTTP route of the template, the `$default` route included.
pub fn template_routes() -> Vec<Route> {
    let t = template();
    let mut out = Vec::new();
    let resources = t["Resources"].as_mapping().expect("Resources");
    for (_, res) in resources {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = res["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("every function names its Binary")
            .to_owned();
        if let Some(events) = res["Properties"]["Events"].as_mapping() {
            for (_, ev) in events {
                if ev["Type"].as_str() == Some("HttpApi") {
                    let props = &ev["Properties"];
                    // Neither Path nor Method: SAM makes it the API's `$default` route.
                    let (method, path) = match (props["Method"].as_str(), props["Path"].as_str()) {
                        (None, None) => ("ANY".to_owned(), DEFAULT_ROUTE.to_owned()),
                        (m, p) => (
                            m.expect("Method").to_uppercase(),
                            p.expect("Path").to_owned(),
                        ),
                    };
                    out.push(Route {
                        method,
                        path,
                        function: binary.clone(),
                    });
                }
            }
        }
    }
    out.sort();
    out
}

/// The sample API Gateway event of `function` (events/<function>.json), asking for `path`
/// (path parameters `params`) with API key `key` and a JSON `body`: what the local gateway
/// would hand the function, for running its binary directly.
pub fn api_event(
    function: &str,
    path: &str,
    params: &[(&str, &str)],
    key: &str,
    body: Option<&Value>,
) -> Value {
    let text = std::fs::read_to_string(root().join(format!("events/{function}.json")))
        .unwrap_or_else(|e| panic!("events/{function}.json: {e}"));
    let mut event: Value = serde_json::from_str(&text).expect("a JSON sample event");
    event["rawPath"] = Value::from(path);
    event["requestContext"]["http"]["path"] = Value::from(path);
    event["pathParameters"] = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    event["headers"]["authorization"] = Value::from(format!("Bearer {key}"));
    event["headers"]["content-type"] = Value::from("application/json");
    event["body"] = body.map_or(Value::Null, |b| Value::from(b.to_string()));
    event
}

/// Asserts a 400 `validation_error` whose details name at least `fields`.
pub fn assert_validation(r: &Reply, fields: &[&str]) {
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error_code(), "validation_error");
    let got = r.error_fields();
    for f in fields {
        assert!(
            got.iter().any(|g| g == f),
            "expected {f} in details, got {got:?} ({})",
            r.text
        );
    }
}

/// Every item of the stack's table with `needle` in an attribute's name or text, each as
/// its `Debug` dump (to prove secrets are not stored in plain text).
pub async fn table_mentions(needle: &str) -> Vec<String> {
    let items: Vec<HashMap<String, serde_dynamo::AttributeValue>> = Stack::get()
        .moto_local("dynamodb/mentions", &[("needle", needle)])
        .await;
    items
        .into_iter()
        .map(|item| {
            let item: HashMap<String, AttributeValue> =
                item.into_iter().map(|(k, v)| (k, v.into())).collect();
            format!("{item:?}")
        })
        .collect()
}

/// Every message any of the stack's queues took (webhook deliveries, the DLQs), delivered
/// and deleted or not, whose dump mentions `needle`. Read from moto's record, so nothing is
/// received and no receive count moves.
pub async fn queue_mentions(needle: &str) -> Vec<String> {
    let messages: Vec<Value> = Stack::get().moto_local("sqs/messages", &[]).await;
    messages
        .iter()
        .map(Value::to_string)
        .filter(|dump| dump.contains(needle))
        .collect()
}
