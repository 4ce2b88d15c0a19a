//! `linkgate-admin`: create tenants and manage their API keys. Talks to whatever DynamoDB the
//! standard AWS settings point at (`AWS_ENDPOINT_URL` for the local stack), and prints JSON.

use clap::{Parser, Subcommand};
use linkgate::api_key::{self, Role};
use linkgate::aws::Roots;
use linkgate::console;
use linkgate::id::{ApiKeyId, TenantId};
use linkgate::store::Store;
use linkgate::tenant;
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "linkgate-admin", version, about)]
struct Cli {
    /// DynamoDB table of the deployment.
    #[arg(
        long,
        env = "LINKGATE_TABLE",
        global = true,
        default_value = "linkgate-local"
    )]
    table: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tenants: the platforms that use Linkgate.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// API keys of a tenant.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// A one-time link that signs a browser in to the tenant's operator console.
    ConsoleLink {
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
        /// `member` sees; `admin` also acts (retry, recover).
        #[arg(long, value_parser = parse_role, default_value = "member")]
        role: Role,
        /// How long the link waits to be opened (60 to 3600).
        #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(i64).range(60..=3600))]
        ttl_seconds: i64,
        /// The deployment's public address (the API's domain), to print a whole URL.
        #[arg(long, env = "LINKGATE_PUBLIC_BASE_URL")]
        base_url: Option<String>,
    },
    /// Create a demo tenant with an admin key (what `make dev` prints).
    SeedDemo {
        #[arg(long, default_value = "Demo Platform")]
        name: String,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    Create {
        #[arg(long)]
        name: String,
    },
    Get {
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Issue a key; its secret is printed once and never stored.
    Create {
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
        #[arg(long, value_parser = parse_role, default_value = "member")]
        role: Role,
        #[arg(long)]
        name: Option<String>,
    },
    List {
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
    },
    /// Stop a key from authenticating (within a minute in warm functions).
    Revoke {
        #[arg(long, value_parser = parse_tenant)]
        tenant: TenantId,
        #[arg(long = "key", value_parser = parse_key_id)]
        key_id: ApiKeyId,
    },
}

fn parse_tenant(s: &str) -> Result<TenantId, String> {
    TenantId::parse(s).ok_or_else(|| format!("'{s}' is not a tenant id (ten_…)"))
}

fn parse_key_id(s: &str) -> Result<ApiKeyId, String> {
    ApiKeyId::parse(s).ok_or_else(|| format!("'{s}' is not an API key id (key_…)"))
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "role must be 'admin' or 'member'".to_string())
}

type Failure = Box<dyn std::error::Error>;

fn key_json(
    key: &api_key::ApiKey,
    secret: Option<&linkgate::secret::Secret>,
) -> Result<Value, Failure> {
    let mut v = serde_json::to_value(key)?;
    if let Some(secret) = secret {
        v["secret"] = json!(secret.expose());
    }
    Ok(v)
}

async fn run(cli: Cli) -> Result<Value, Failure> {
    // People run this, sometimes behind a proxy that re-signs TLS: the system's roots.
    let aws = linkgate::aws::load_with(linkgate::aws::http_client_with(Roots::System)).await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), cli.table);
    Ok(match cli.command {
        Command::Tenant {
            command: TenantCommand::Create { name },
        } => serde_json::to_value(tenant::create(&store, &name).await?)?,
        Command::Tenant {
            command: TenantCommand::Get { tenant },
        } => {
            let found = tenant::get(&store, &tenant).await?;
            serde_json::to_value(found.ok_or_else(|| format!("no tenant with id {tenant}"))?)?
        }
        Command::Key {
            command: KeyCommand::Create { tenant, role, name },
        } => {
            let (key, secret) = api_key::create(&store, &tenant, role, name.as_deref()).await?;
            key_json(&key, Some(&secret))?
        }
        Command::Key {
            command: KeyCommand::List { tenant },
        } => serde_json::to_value(api_key::list(&store, &tenant).await?)?,
        Command::Key {
            command: KeyCommand::Revoke { tenant, key_id },
        } => serde_json::to_value(api_key::revoke(&store, &tenant, &key_id).await?)?,
        Command::ConsoleLink {
            tenant,
            role,
            ttl_seconds,
            base_url,
        } => {
            if tenant::get(&store, &tenant).await?.is_none() {
                return Err(format!("no tenant with id {tenant}").into());
            }
            let link = console::issue_link(&store, &tenant, role, ttl_seconds).await?;
            let path = link.path();
            let base = base_url.unwrap_or_default();
            json!({
                "id": link.link.id,
                "tenant_id": tenant,
                "role": role,
                "path": path,
                "url": (!base.is_empty()).then(|| format!("{}{path}", base.trim_end_matches('/'))),
                "expires_at": linkgate::time::format(&link.link.expires_at),
            })
        }
        Command::SeedDemo { name } => {
            let tenant = tenant::create(&store, &name).await?;
            let (key, secret) =
                api_key::create(&store, &tenant.id, Role::Admin, Some("demo admin")).await?;
            json!({ "tenant": tenant, "api_key": key_json(&key, Some(&secret))? })
        }
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(out) => {
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("linkgate-admin: {e}");
            ExitCode::FAILURE
        }
    }
}
