//! AWS settings for every client, loaded once per process.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;

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
    /// `Amazon`, unless the environment names a trust store, which then wins.
    pub fn for_functions(lookup: impl Fn(&str) -> Option<String>) -> Roots {
        let named = |v: &str| lookup(v).is_some_and(|p| !p.is_empty());
        if named("SSL_CERT_FILE") || named("SSL_CERT_DIR") {
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
    match TlsContext::builder()
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
    }
}

/// The functions' HTTPS client (see [`Roots::for_functions`]).
pub fn http_client() -> SharedHttpClient {
    http_client_with(Roots::for_functions(|v| std::env::var(v).ok()))
}

/// Region, credentials and endpoint from the environment (`AWS_ENDPOINT_URL` points the
/// local stack at moto), with the functions' HTTP client.
pub async fn load() -> aws_config::SdkConfig {
    load_with(http_client()).await
}

pub async fn load_with(http: SharedHttpClient) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
    // Lambda puts the region and the role's credentials in the environment. Naming them skips
    // building the default chains (profile files, SSO, web identity, IMDS), ~0.4 ms of
    // every cold start; both chains would have found the environment's values first anyway.
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(region) = env("AWS_REGION") {
        loader = loader.region(aws_config::Region::new(region));
    }
    if env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn a_named_trust_store_wins() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
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
    }
}
