//! What a function builds once per process and shares across invocations.

use crate::api_key::Authenticator;
use crate::config::Config;
use crate::store::Store;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: Authenticator,
}

impl App {
    /// Loads configuration and AWS settings (honours `AWS_ENDPOINT_URL` for the local stack).
    pub async fn from_env() -> Result<App, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let aws = aws_config::load_from_env().await;
        Ok(App::new(config, aws_sdk_dynamodb::Client::new(&aws)))
    }

    pub fn new(config: Config, dynamodb: aws_sdk_dynamodb::Client) -> App {
        let store = Store::new(dynamodb, config.table_name.clone());
        let keys = Authenticator::new(config.api_key_cache_ttl);
        App {
            config,
            store,
            keys,
        }
    }
}
