//! `fenghuo officer`: register an officer, and make and register the organisation's
//! token-signing key.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use fenghuo_client::pb;
use serde_json::json;

use crate::cli::ConnectArgs;
use crate::cli::output::Output;

#[derive(Subcommand)]
pub enum OfficerCommand {
    /// Register an officer of an organisation (another officer's token)
    Add {
        organisation: String,
        /// The `sub` of the officer's tokens
        #[arg(long)]
        name: String,
        /// The officer's full name, as audit records show it
        #[arg(long)]
        display_name: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Make the organisation's Ed25519 token-signing key pair in DIR (the same as `token
    /// keygen`): the private key stays with the organisation, the public one is registered
    /// with `officer register-key`
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Register the organisation's token-signing public key (PEM), made by `officer keygen`
    RegisterKey {
        organisation: String,
        #[arg(long)]
        kid: String,
        #[arg(long)]
        public_key: PathBuf,
        /// EdDSA or ES256
        #[arg(long, default_value = "EdDSA")]
        algorithm: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

impl OfficerCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            OfficerCommand::Add {
                organisation,
                name,
                display_name,
                out,
                connect,
            } => {
                let o = connect
                    .client()
                    .await?
                    .registry()
                    .register_officer(pb::RegisterOfficerRequest {
                        organisation_id: organisation,
                        name,
                        display_name,
                    })
                    .await?
                    .into_inner();
                out.say(
                    &format!("officer {} of {} registered", o.name, o.organisation_id),
                    json!({ "organisation_id": o.organisation_id, "name": o.name, "enabled": o.enabled }),
                );
                Ok(())
            }
            OfficerCommand::Keygen { out } => crate::cli::token_keygen(&out),
            OfficerCommand::RegisterKey {
                organisation,
                kid,
                public_key,
                algorithm,
                out,
                connect,
            } => {
                let pem = std::fs::read_to_string(&public_key)
                    .with_context(|| format!("reading {}", public_key.display()))?;
                anyhow::ensure!(
                    !pem.contains("PRIVATE KEY"),
                    "{} holds a private key: register the public key only",
                    public_key.display()
                );
                let k = connect
                    .client()
                    .await?
                    .registry()
                    .register_officer_key(pb::RegisterOfficerKeyRequest {
                        organisation_id: organisation,
                        kid,
                        algorithm,
                        public_key_pem: pem,
                    })
                    .await?
                    .into_inner();
                out.say(
                    &format!("token key {} of {} registered", k.kid, k.organisation_id),
                    json!({ "organisation_id": k.organisation_id, "kid": k.kid }),
                );
                Ok(())
            }
        }
    }
}
