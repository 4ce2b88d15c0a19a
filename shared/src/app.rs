//! What a function builds once per process and shares across invocations.

use crate::api_key::Authenticator;
use crate::cache::TtlCache;
use crate::config::Config;
use crate::error::ApiError;
use crate::id::{IntegrationId, TenantId};
use crate::integration::Integration;
use crate::seal::Sealer;
use crate::settings::Settings;
use crate::store::Store;
use crate::store::StoreError;
use lambda_http::Request;
use std::future::Future;
use std::sync::Arc;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: Authenticator,
    sealer: Option<Sealer>,
    /// Built on first use: only the OAuth functions call providers.
    http: std::sync::OnceLock<reqwest::Client>,
    /// AWS settings, for clients only some functions need (SQS), built on first use.
    aws: Option<aws_types::SdkConfig>,
    sqs: std::sync::OnceLock<aws_sdk_sqs::Client>,
    ses: std::sync::OnceLock<aws_sdk_sesv2::Client>,
    settings: TtlCache<Settings>,
    integrations: TtlCache<Vec<Integration>>,
}

impl App {
    /// Loads configuration and AWS settings (honours `AWS_ENDPOINT_URL` for the local stack).
    pub async fn from_env() -> Result<App, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let aws = crate::aws::from_env()?;
        let kms = config
            .kms_key_id
            .as_ref()
            .map(|key| Sealer::new(aws_sdk_kms::Config::from(&aws), key.clone()));
        let mut app = App::new(config, aws_sdk_dynamodb::Client::new(&aws), kms);
        app.aws = Some(aws);
        Ok(app)
    }

    pub fn new(config: Config, dynamodb: aws_sdk_dynamodb::Client, sealer: Option<Sealer>) -> App {
        let store = Store::new(dynamodb, config.table_name.clone());
        let keys = Authenticator::new(config.api_key_cache_ttl);
        App {
            settings: TtlCache::new(config.tenant_cache_ttl),
            integrations: TtlCache::new(config.tenant_cache_ttl),
            config,
            store,
            keys,
            sealer,
            http: std::sync::OnceLock::new(),
            aws: None,
            sqs: std::sync::OnceLock::new(),
            ses: std::sync::OnceLock::new(),
        }
    }

    /// Envelope encryption for secrets; configured where the template grants the KMS key.
    pub fn sealer(&self) -> Result<&Sealer, ApiError> {
        self.sealer
            .as_ref()
            .ok_or_else(|| ApiError::internal("LINKGATE_KMS_KEY_ID is not set for this function"))
    }
}

/// A tenant's settings and active integrations, reused for `LINKGATE_TENANT_CACHE_SECONDS`.
impl App {
    pub async fn settings(&self, tenant: &TenantId) -> Result<Arc<Settings>, StoreError> {
        if let Some(s) = self.settings.get(tenant.as_str()) {
            return Ok(s);
        }
        let loaded = crate::settings::load(&self.store, tenant).await?;
        Ok(self.settings.put(tenant.as_str(), loaded))
    }

    /// Active integrations, newest first (the connect page's marketplace).
    pub async fn active_integrations(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<Vec<Integration>>, StoreError> {
        if let Some(i) = self.integrations.get(tenant.as_str()) {
            return Ok(i);
        }
        let loaded = crate::integration::active(&self.store, tenant).await?;
        Ok(self.integrations.put(tenant.as_str(), loaded))
    }

    /// One active integration of the tenant, if `id` names one.
    pub async fn active_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<Integration>, StoreError> {
        Ok(self
            .active_integrations(tenant)
            .await?
            .iter()
            .find(|i| i.id() == id)
            .cloned())
    }
}

impl App {
    pub fn sqs(&self) -> Result<&aws_sdk_sqs::Client, ApiError> {
        if let Some(c) = self.sqs.get() {
            return Ok(c);
        }
        let aws = self
            .aws
            .as_ref()
            .ok_or_else(|| ApiError::internal("no AWS settings for SQS"))?;
        Ok(self.sqs.get_or_init(|| aws_sdk_sqs::Client::new(aws)))
    }

    pub fn ses(&self) -> Result<&aws_sdk_sesv2::Client, ApiError> {
        if let Some(c) = self.ses.get() {
            return Ok(c);
        }
        let aws = self
            .aws
            .as_ref()
            .ok_or_else(|| ApiError::internal("no AWS settings for SES"))?;
        Ok(self.ses.get_or_init(|| aws_sdk_sesv2::Client::new(aws)))
    }

    /// The client for provider calls: one timeout, no redirects followed (a token endpoint
    /// that redirects is misconfigured or hostile).
    pub fn http(&self) -> Result<&reqwest::Client, ApiError> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let client = reqwest::Client::builder()
            .timeout(self.config.oauth_timeout)
            .connect_timeout(self.config.oauth_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("linkgate")
            .build()
            .map_err(ApiError::internal)?;
        Ok(self.http.get_or_init(|| client))
    }
}

/// Runs a scheduled function (EventBridge Scheduler): the event says nothing it needs, and
/// the answer is the run's counts. `run` gets the invocation's deadline.
pub async fn run_scheduled<F, Fut>(run: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static App, std::time::SystemTime) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, ApiError>> + Send + 'static,
{
    crate::telemetry::init();
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let done = run(app, event.context.deadline());
            async move { Ok::<_, lambda_runtime::Error>(done.await?) }
        },
    ))
    .await
}

/// What an event-driven function does with one event's payload: boxed, like a route's
/// handler, so functions name it rather than write their own loop.
pub type EventHandler =
    for<'a> fn(
        &'a App,
        &'a serde_json::Value,
    ) -> futures_util::future::BoxFuture<'a, Result<serde_json::Value, ApiError>>;

/// Runs one event-driven function (an SQS source, an EventBridge rule target): logging set
/// up, the app built once per process, then `handle` answers each event. An error fails the
/// invocation, so the source retries it (or sends it to its dead-letter queue).
pub async fn run_event(handle: EventHandler) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_runtime::Error>(handle(app, &event.payload).await?)
        },
    ))
    .await
}

/// Runs one HTTP function: logging set up, the app built once per process, then `route`
/// serves every invocation. The app lives as long as the process, so it is leaked on purpose.
pub async fn run_http(route: &'static crate::http::Route) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        crate::http::serve(app, req, route)
    }))
    .await
}
