//! The operator's subcommands beyond `serve`; their output is the CLI's stdout.

pub mod bench;
pub mod calendar;
pub mod notice;
pub mod ownership;

use std::path::PathBuf;

use clap::Args;

/// How the operator CLI connects: a PKI directory (ca.crt, client.crt,
/// client.key) or a demo organisation of the local dev PKI.
#[derive(Args, Clone)]
pub struct ConnectArgs {
    #[arg(
        long,
        env = "FENGHUO_ENDPOINT",
        default_value = "https://127.0.0.1:50051"
    )]
    pub endpoint: String,
    /// Directory holding ca.crt, client.crt and client.key
    #[arg(long, env = "FENGHUO_PKI_DIR", conflicts_with = "org")]
    pub pki: Option<PathBuf>,
    /// A demo organisation of the dev PKI under --data-dir
    #[arg(long)]
    pub org: Option<String>,
    #[arg(long, env = "FENGHUO_DATA_DIR", default_value = fenghuo::config::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Officer token (JWT) for decisions
    #[arg(long, env = "FENGHUO_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ConnectArgs {
    pub async fn client(&self) -> anyhow::Result<fenghuo_client::Client> {
        let dir = match (&self.pki, &self.org) {
            (Some(dir), _) => dir.clone(),
            (None, Some(org)) => fenghuo::pki::DevPki::new(&self.data_dir).client_dir(org),
            (None, None) => anyhow::bail!("name the identity: --pki DIR or --org ID (dev PKI)"),
        };
        let client = fenghuo_client::Client::connect_dir(&self.endpoint, &dir).await?;
        match &self.token {
            Some(t) => client.with_token(t),
            None => Ok(client),
        }
    }
}
