//! What a function builds once per process and shares across invocations.

use crate::api_key::Authenticator;
use crate::cache::TtlCache;
use crate::config::Config;
use crate::error::ApiError;
use crate::id::TenantId;
use crate::seal::Sealer;
use crate::store::Store;
use std::any::Any;
use std::sync::Arc;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: Authenticator,
    sealer: Option<Sealer>,
    /// Built on first use: only the OAuth functions call providers.
    http: std::sync::OnceLock<reqwest::Client>,
    /// For calls to URLs tenants or providers give (webhooks, credential checks), built on
    /// first use: the deployment's allowed addresses, and with them loopback (the local
    /// stack's own providers).
    outbound: std::sync::OnceLock<reqwest::Client>,
    outbound_loopback: std::sync::OnceLock<reqwest::Client>,
    /// AWS settings, for clients only some functions need (SQS), built on first use.
    aws: Option<aws_types::SdkConfig>,
    sqs: std::sync::OnceLock<aws_sdk_sqs::Client>,
    ses: std::sync::OnceLock<aws_sdk_sesv2::Client>,
    /// What tenants rarely change (settings, active integrations), kept per process and
    /// typed by the modules that own them (see [`App::cached`]).
    tenant_cache: TtlCache<Arc<dyn Any + Send + Sync>>,
}

impl App {
    /// Loads configuration and AWS settings (honours `AWS_ENDPOINT_URL` for the local stack).
    pub async fn from_env() -> Result<App, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let aws = crate::aws::from_env()?;
        let kms = config
            .kms_key_id
            .as_ref()
            .map(|key| Sealer::new(aws.clone(), key.clone()));
        let mut app = App::new(config, aws_sdk_dynamodb::Client::new(&aws), kms);
        app.aws = Some(aws);
        Ok(app)
    }

    pub fn new(config: Config, dynamodb: aws_sdk_dynamodb::Client, sealer: Option<Sealer>) -> App {
        let store = Store::new(dynamodb, config.table_name.clone())
            .with_event_retention(config.event_retention);
        let keys = Authenticator::new(config.api_key_cache_ttl);
        App {
            tenant_cache: TtlCache::new(config.tenant_cache_ttl),
            config,
            store,
            keys,
            sealer,
            http: std::sync::OnceLock::new(),
            outbound: std::sync::OnceLock::new(),
            outbound_loopback: std::sync::OnceLock::new(),
            aws: None,
            sqs: std::sync::OnceLock::new(),
            ses: std::sync::OnceLock::new(),
        }
    }

    /// Envelope encryption for secrets; configured where the template grants the KMS key.
    /// The caller an `Authorization` header names (cached per key, see `api_key`).
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<crate::api_key::Principal, ApiError> {
        self.keys.authenticate(&self.store, authorization).await
    }

    /// As [`App::authenticate`], for an access token standing for a key (`access_token`).
    pub async fn authenticate_token(
        &self,
        authorization: Option<&str>,
    ) -> Result<crate::api_key::Principal, ApiError> {
        crate::access_token::verify(
            &self.keys,
            &self.store,
            self.sealer()?,
            authorization,
            crate::time::now().timestamp(),
        )
        .await
    }

    pub fn sealer(&self) -> Result<&Sealer, ApiError> {
        self.sealer
            .as_ref()
            .ok_or_else(|| ApiError::internal("LINKGATE_KMS_KEY_ID is not set for this function"))
    }
}

/// A tenant's slowly changing data, reused for `LINKGATE_TENANT_CACHE_SECONDS`. Each kind
/// is read and typed by the module that owns it (`settings::of`, `integration::active_of`),
/// so the process context depends on none of them.
impl App {
    /// The tenant's `kind`, if cached and still fresh.
    pub fn cached<T: Any + Send + Sync>(&self, kind: &str, tenant: &TenantId) -> Option<Arc<T>> {
        self.tenant_cache
            .get(&format!("{kind}#{tenant}"))
            .and_then(|v| Arc::clone(&*v).downcast::<T>().ok())
    }

    /// Keeps the tenant's `kind` (when caching is on) and hands it back shared.
    pub fn cache<T: Any + Send + Sync>(&self, kind: &str, tenant: &TenantId, value: T) -> Arc<T> {
        let value = Arc::new(value);
        let shared: Arc<dyn Any + Send + Sync> = value.clone();
        self.tenant_cache.put(&format!("{kind}#{tenant}"), shared);
        value
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

    /// The addresses outbound calls may reach besides public ones: the deployment's
    /// (`webhook_allowed_private`), and loopback when `loopback` (the local stack's
    /// providers).
    pub fn outbound_allowed(&self, loopback: bool) -> Vec<std::net::IpAddr> {
        let mut allow = self.config.webhook_allowed_private.clone();
        if loopback {
            allow.extend([
                std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ]);
        }
        allow
    }

    /// The shared client for URLs checked against [`App::outbound_allowed`] with the same
    /// `loopback` (see `outbound::client`).
    pub fn outbound(&self, loopback: bool) -> Result<&reqwest::Client, ApiError> {
        let cell = if loopback {
            &self.outbound_loopback
        } else {
            &self.outbound
        };
        if let Some(c) = cell.get() {
            return Ok(c);
        }
        let client = crate::outbound::client(&self.outbound_allowed(loopback), "Linkgate/1")
            .map_err(ApiError::internal)?;
        Ok(cell.get_or_init(|| client))
    }
}

/// What an event-driven function does with one event's payload (see `run::event`): boxed,
/// like a route's handler, so a function names it rather than writes its own loop.
pub type EventHandler =
    for<'a> fn(
        &'a App,
        &'a serde_json::Value,
    ) -> futures_util::future::BoxFuture<'a, Result<serde_json::Value, ApiError>>;
