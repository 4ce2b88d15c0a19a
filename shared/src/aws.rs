//! AWS settings for every client, loaded once per process.

use crate::config::ConfigError;
use aws_sdk_dynamodb::config::{ConfigBag, RuntimeComponents, SharedHttpClient};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpConnector,
};

/// The roots of every AWS service endpoint's certificate chain. Trusting only these, instead
/// of the system's store, saves reading and parsing ~150 certificates (twice: the bundle and
/// the directory) on every cold start, ~3 ms of a 6 ms init, and narrows who can
/// impersonate DynamoDB or KMS to Amazon's own CA.
pub const AMAZON_TRUST_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// Where the trust for HTTPS to AWS comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roots {
    /// Amazon Trust Services only: what the functions use.
    Amazon,
    /// The system's store: for people running the admin CLI, possibly behind a proxy that
    /// re-signs TLS, and whenever `SSL_CERT_FILE` or `SSL_CERT_DIR` names one explicitly.
    System,
}

impl Roots {
    /// `Amazon`, unless the environment names a trust store, which then wins, or the region
    /// is in a partition whose endpoints may chain elsewhere (China, the isolated regions).
    pub fn for_functions(lookup: impl Fn(&str) -> Option<String>) -> Roots {
        let named = |v: &str| lookup(v).is_some_and(|p| !p.is_empty());
        let other_partition =
            lookup("AWS_REGION").is_some_and(|r| r.starts_with("cn-") || r.contains("-iso"));
        if named("SSL_CERT_FILE") || named("SSL_CERT_DIR") || other_partition {
            Roots::System
        } else {
            Roots::Amazon
        }
    }

    fn trust_store(self) -> TrustStore {
        match self {
            Roots::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_ROOTS),
            Roots::System => TrustStore::default(),
        }
    }
}

/// HTTPS for the SDK: rustls on ring, the crypto reqwest already links (see Cargo.toml).
pub fn http_client_with(roots: Roots) -> SharedHttpClient {
    let builder = Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    let https = match TlsContext::builder()
        .with_trust_store(roots.trust_store())
        .build()
    {
        Ok(tls) => builder.tls_context(tls).build_https(),
        // Building the context only moves values today; should it ever fail, the SDK's
        // default (system roots) is still a working client.
        Err(error) => {
            tracing::warn!(%error, "TLS context for AWS failed; using the system roots");
            builder.build_https()
        }
    };
    SharedHttpClient::new(ConnectorOnFirstRequest(https))
}

/// The SDK's HTTPS client, minus the connector it builds at every client construction.
///
/// To "validate" it, the SDK's hyper client builds a connector (TLS settings, trust roots
/// decoded from PEM) each time an SDK client is constructed, and throws it away; the first
/// request then builds the one it keeps. That warm-up exists to read a system trust store
/// early: ours is compiled in, so it was a second build of the same thing, ~0.04 ms of every
/// cold start and of every later SDK client (docs/performance.md). Connectors are still
/// built, once per timeout setting and cached, by the first request that needs one; a
/// final-config check still runs.
#[derive(Debug)]
struct ConnectorOnFirstRequest(SharedHttpClient);

impl HttpClient for ConnectorOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        config: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(components, config)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The functions' HTTPS client (see [`Roots::for_functions`]).
pub fn http_client() -> SharedHttpClient {
    http_client_with(Roots::for_functions(|v| std::env::var(v).ok()))
}

/// [`from_lambda_environment`] on the process's environment.
pub fn from_env() -> Result<aws_types::SdkConfig, ConfigError> {
    from_lambda_environment(|v| std::env::var(v).ok())
}

/// The functions' AWS settings, straight from the environment Lambda sets: `AWS_REGION`, the
/// role's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, and
/// `AWS_ENDPOINT_URL` or a service's own `AWS_ENDPOINT_URL_<SERVICE>` (the local stack's
/// moto, a test's unreachable bus). Built by hand rather than by aws-config,
/// whose default chains (profiles, SSO, STS web identity, IMDS) a function never uses: not
/// linking them takes ~0.35 MB off every binary and ~0.4 ms off every cold start. Retries,
/// timeouts, the sleep and the identity cache are the SDK's defaults for the behaviour
/// version, as aws-config would have set them.
pub fn from_lambda_environment(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<aws_types::SdkConfig, ConfigError> {
    // An empty variable counts as unset, for every reader below.
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let need = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        need("AWS_ACCESS_KEY_ID")?,
        need("AWS_SECRET_ACCESS_KEY")?,
        get("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let config = aws_types::SdkConfig::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(need("AWS_REGION")?))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            credentials,
        ))
        .http_client(http_client_with(Roots::for_functions(get)))
        .service_config(Endpoints::from_lookup(get));
    Ok(config.build())
}

/// The services the functions call, by the id the SDK names them with.
const SERVICES: &[&str] = &["DynamoDB", "KMS", "EventBridge", "SQS", "SESv2"];
const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// Endpoint overrides from the environment, answered per service the way aws-config does:
/// `AWS_ENDPOINT_URL_<SERVICE ID>` (upper case, spaces as `_`) before `AWS_ENDPOINT_URL`.
/// Read once: the SDK asks whenever a client is built.
#[derive(Debug, Default)]
struct Endpoints {
    general: Option<String>,
    by_service: Vec<(&'static str, String)>,
}

impl Endpoints {
    /// `lookup` answers `None` for unset or empty variables.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Endpoints {
        Endpoints {
            general: lookup(ENDPOINT_URL),
            by_service: SERVICES
                .iter()
                .filter_map(|id| Some((*id, lookup(&service_variable(id))?)))
                .collect(),
        }
    }
}

fn service_variable(service_id: &str) -> String {
    format!(
        "{ENDPOINT_URL}_{}",
        service_id.to_ascii_uppercase().replace(' ', "_")
    )
}

impl aws_types::service_config::LoadServiceConfig for Endpoints {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        if key.env() != ENDPOINT_URL {
            return None;
        }
        self.by_service
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(key.service_id()))
            .map(|(_, url)| url.clone())
            .or_else(|| self.general.clone())
    }
}

/// The default chains (environment, profiles, SSO…) for programs people run: the admin CLI.
pub async fn load_with(http: SharedHttpClient) -> aws_types::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::lookup;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn the_amazon_roots_are_the_five_published_certificates() {
        let ders: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(AMAZON_TRUST_ROOTS)
            .collect::<Result<_, _>>()
            .expect("the bundle is valid PEM");
        let fingerprints: Vec<String> = ders
            .iter()
            .map(|d| hex::encode_upper(<sha2::Sha256 as sha2::Digest>::digest(d.as_ref())))
            .collect();
        // As published at amazontrust.com/repository (and shipped by Mozilla's store).
        assert_eq!(
            fingerprints,
            [
                "8ECDE6884F3D87B1125BA31AC3FCB13D7016DE7F57CC904FE1CB97C6AE98196E",
                "1BA5B2AA8C65401A82960118F80BEC4F62304D83CEC4713A19C39C011EA46DB4",
                "18CE6CFE7BF14E60B2E347B8DFE868CB31D02EBB3ADA271569F50343B46DB3A4",
                "E35D28419ED02025CFA69038CD623962458DA5C695FBDEA3C22B0BFB25897092",
                "568D6905A2C88708A4B3025190EDCFEDB1974A606A13C6E5290FCB2AE63EDAB5",
            ]
        );
    }

    #[test]
    fn a_client_trusting_the_amazon_roots_builds() {
        // The SDK parses the roots into trust anchors when a service client is built from
        // the config (and panics on one it cannot use), so building one is the check.
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .http_client(http_client_with(Roots::Amazon))
            .build();
        let _client = aws_sdk_dynamodb::Client::from_conf(config);
    }

    const LAMBDA: &[(&str, &str)] = &[
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    #[tokio::test]
    async fn lambda_environment_gives_region_credentials_and_endpoint() {
        use aws_sdk_dynamodb::config::ProvideCredentials;
        let config = from_lambda_environment(lookup(LAMBDA)).expect("complete environment");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None);
        assert!(config.service_config().is_some_and(|c| c
            .load_config(
                aws_types::service_config::ServiceConfigKey::builder()
                    .service_id("DynamoDB")
                    .env("AWS_ENDPOINT_URL")
                    .profile("endpoint_url")
                    .build()
                    .expect("complete key")
            )
            .is_none()));
        let creds = config
            .credentials_provider()
            .expect("credentials")
            .provide_credentials()
            .await
            .expect("static credentials");
        assert_eq!(creds.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(creds.secret_access_key(), "secret");
        assert_eq!(creds.session_token(), Some("token"));

        const LOCAL: &[(&str, &str)] = &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5055"),
        ];
        let local = from_lambda_environment(lookup(LOCAL)).expect("local stack");
        let endpoint = |service: &str| {
            let key = aws_types::service_config::ServiceConfigKey::builder()
                .service_id(service)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .expect("complete key");
            local.service_config().and_then(|c| c.load_config(key))
        };
        assert_eq!(
            endpoint("DynamoDB").as_deref(),
            Some("http://127.0.0.1:5055")
        );
    }

    #[test]
    fn a_service_endpoint_wins_over_the_general_one() {
        use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
        let endpoints = Endpoints::from_lookup(lookup(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5055"),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:9"),
        ]));
        let key = |service: &'static str, env: &'static str| {
            ServiceConfigKey::builder()
                .service_id(service)
                .env(env)
                .profile("endpoint_url")
                .build()
                .expect("complete key")
        };
        let url = |service, env| endpoints.load_config(key(service, env));
        assert_eq!(
            url("EventBridge", "AWS_ENDPOINT_URL").as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(
            url("DynamoDB", "AWS_ENDPOINT_URL").as_deref(),
            Some("http://127.0.0.1:5055")
        );
        assert_eq!(url("DynamoDB", "AWS_SOMETHING_ELSE"), None);
        assert_eq!(
            service_variable("Some Service"),
            "AWS_ENDPOINT_URL_SOME_SERVICE"
        );
        let none = Endpoints::from_lookup(lookup(&[]));
        assert_eq!(none.load_config(key("SQS", "AWS_ENDPOINT_URL")), None);
    }

    #[test]
    fn a_missing_region_or_key_is_named() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let without = |name: &str| (name != missing).then(|| lookup(LAMBDA)(name)).flatten();
            match from_lambda_environment(without) {
                Err(ConfigError::Missing(name)) => assert_eq!(name, missing),
                other => panic!("{missing}: expected Missing, got {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn a_named_store_or_another_partition_means_the_system_roots() {
        let env = lookup;
        assert_eq!(Roots::for_functions(env(&[])), Roots::Amazon);
        assert_eq!(
            Roots::for_functions(env(&[("SSL_CERT_FILE", "")])),
            Roots::Amazon
        );
        assert_eq!(
            Roots::for_functions(env(&[("SSL_CERT_FILE", "/etc/proxy-ca.pem")])),
            Roots::System
        );
        assert_eq!(
            Roots::for_functions(env(&[("SSL_CERT_DIR", "/etc/ssl/certs")])),
            Roots::System
        );
        for (region, roots) in [
            ("eu-west-1", Roots::Amazon),
            ("us-gov-west-1", Roots::Amazon),
            ("cn-north-1", Roots::System),
            ("us-iso-east-1", Roots::System),
            ("us-isob-east-1", Roots::System),
        ] {
            assert_eq!(
                Roots::for_functions(env(&[("AWS_REGION", region)])),
                roots,
                "{region}"
            );
        }
    }

    /// An HTTP client that counts the SDK's calls into it.
    #[derive(Debug, Default)]
    struct Counts {
        validations: std::sync::atomic::AtomicUsize,
        connectors: std::sync::atomic::AtomicUsize,
    }

    #[derive(Debug, Clone, Default)]
    struct Counting(std::sync::Arc<Counts>);

    impl HttpClient for Counting {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            self.0
                .connectors
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https()
                .http_connector(settings, components)
        }

        fn validate_base_client_config(
            &self,
            _: &aws_sdk_dynamodb::config::RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.0
                .validations
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    fn client_over(http: SharedHttpClient) -> aws_sdk_dynamodb::Client {
        let config = from_lambda_environment(lookup(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]))
        .unwrap();
        let config = aws_sdk_dynamodb::config::Builder::from(&config)
            .http_client(http)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    #[test]
    fn constructing_an_sdk_client_builds_no_connector() {
        // The SDK does ask the client to build one when it is constructed…
        let bare = Counting::default();
        let _client = client_over(SharedHttpClient::new(bare.clone()));
        assert_eq!(
            bare.0.validations.load(std::sync::atomic::Ordering::SeqCst),
            1
        );

        // …which ours does not pass on: the first request builds the one it keeps.
        let inner = Counting::default();
        let _client = client_over(SharedHttpClient::new(ConnectorOnFirstRequest(
            SharedHttpClient::new(inner.clone()),
        )));
        assert_eq!(
            inner
                .0
                .validations
                .load(std::sync::atomic::Ordering::SeqCst),
            0
        );
        assert_eq!(
            inner.0.connectors.load(std::sync::atomic::Ordering::SeqCst),
            0
        );
    }
}
