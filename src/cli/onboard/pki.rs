//! `fenghuo pki`: a certificate request made at the organisation (its key never leaves it),
//! signed by the platform CA, registered and revoked.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use fenghuo_client::pb;
use serde_json::json;

use crate::cli::ConnectArgs;
use crate::cli::output::Output;

#[derive(Subcommand)]
pub enum PkiCommand {
    /// At the organisation: make its private key and a certificate request naming it
    /// (DIR/client.key, never sent; DIR/client.csr, for the platform operator)
    Request {
        #[arg(long = "for")]
        organisation: String,
        #[arg(long)]
        out: PathBuf,
        /// The certificate's common name (default: the organisation id)
        #[arg(long)]
        name: Option<String>,
    },
    /// At the platform operator: sign a request with the platform CA (ca.crt, ca.key in
    /// --ca-dir), after checking it names exactly urn:fenghuo:org:<organisation>
    Sign {
        csr: PathBuf,
        #[arg(long = "for")]
        organisation: String,
        #[arg(long)]
        ca_dir: PathBuf,
        #[arg(long, default_value_t = fenghuo::pki::dev::MAX_CLIENT_DAYS)]
        days: i64,
        /// Where to write the certificate (PEM)
        #[arg(long)]
        out: PathBuf,
    },
    /// Register a signed certificate for its organisation (RegistryService.RegisterCertificate)
    Register {
        organisation: String,
        #[arg(long)]
        cert: PathBuf,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Revoke a certificate by its fingerprint (e.g. a leaked key)
    Revoke {
        fingerprint: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

impl PkiCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            PkiCommand::Request {
                organisation,
                out,
                name,
            } => {
                std::fs::create_dir_all(&out)
                    .with_context(|| format!("creating {}", out.display()))?;
                let (csr, key) = fenghuo::pki::dev::client_request(
                    &organisation,
                    name.as_deref().unwrap_or(&organisation),
                )?;
                fenghuo::pki::dev::write_secret(&out.join("client.key"), &key)?;
                std::fs::write(out.join("client.csr"), csr)
                    .with_context(|| format!("writing {}", out.join("client.csr").display()))?;
                println!(
                    "{}: private key (keep it here), {}: the request to send to the platform operator",
                    out.join("client.key").display(),
                    out.join("client.csr").display()
                );
                Ok(())
            }
            PkiCommand::Sign {
                csr,
                organisation,
                ca_dir,
                days,
                out,
            } => {
                let read = |f: &str| {
                    std::fs::read_to_string(ca_dir.join(f))
                        .with_context(|| format!("reading {}", ca_dir.join(f).display()))
                };
                let ca = fenghuo::pki::dev::CertificateAuthority::load(
                    &read("ca.crt")?,
                    &read("ca.key")?,
                )?;
                let request = std::fs::read_to_string(&csr)
                    .with_context(|| format!("reading {}", csr.display()))?;
                let cert = ca.sign_client_request(&request, &organisation, days)?;
                std::fs::write(&out, &cert)
                    .with_context(|| format!("writing {}", out.display()))?;
                let parsed = fenghuo::pki::ClientCertificate::from_pem(&cert)?;
                println!(
                    "{}: certificate of {} valid to {}, fingerprint {}",
                    out.display(),
                    parsed.organisation.as_str(),
                    parsed.not_after.to_rfc3339(),
                    parsed.fingerprint
                );
                Ok(())
            }
            PkiCommand::Register {
                organisation,
                cert,
                out,
                connect,
            } => {
                let pem = std::fs::read_to_string(&cert)
                    .with_context(|| format!("reading {}", cert.display()))?;
                let c = connect
                    .client()
                    .await?
                    .registry()
                    .register_certificate(pb::RegisterCertificateRequest {
                        organisation_id: organisation,
                        certificate_pem: pem,
                    })
                    .await?
                    .into_inner();
                out.say(
                    &format!(
                        "certificate {} of {} registered",
                        c.fingerprint, c.organisation_id
                    ),
                    json!({ "fingerprint": c.fingerprint, "organisation_id": c.organisation_id }),
                );
                Ok(())
            }
            PkiCommand::Revoke {
                fingerprint,
                reason,
                out,
                connect,
            } => {
                let c = connect
                    .client()
                    .await?
                    .registry()
                    .revoke_certificate(pb::RevokeCertificateRequest {
                        fingerprint,
                        reason,
                    })
                    .await?
                    .into_inner();
                out.say(
                    &format!("certificate {} of {} revoked", c.fingerprint, c.organisation_id),
                    json!({ "fingerprint": c.fingerprint, "organisation_id": c.organisation_id, "revoked": c.revoked_at.is_some() }),
                );
                Ok(())
            }
        }
    }
}
