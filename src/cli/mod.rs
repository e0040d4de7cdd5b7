//! The operator's subcommands beyond `serve`; their output is the CLI's stdout.

pub mod appeals;
pub mod bench;
pub mod bulletin;
pub mod calendar;
pub mod decision;
pub mod disposal;
pub mod identify;
pub mod notice;
pub mod notices;
pub mod onboard;
pub mod operations;
pub mod output;
pub mod ownership;
pub mod protect;
pub mod stats;
pub mod threat;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
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
    /// The directory of ca.crt, client.crt and client.key.
    pub fn pki_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(match (&self.pki, &self.org) {
            (Some(dir), _) => dir.clone(),
            (None, Some(org)) => fenghuo::pki::DevPki::new(&self.data_dir).client_dir(org),
            (None, None) => anyhow::bail!("name the identity: --pki DIR or --org ID (dev PKI)"),
        })
    }

    pub async fn client(&self) -> anyhow::Result<fenghuo_client::Client> {
        let dir = self.pki_dir()?;
        let pki = fenghuo_client::ClientPki::from_dir(&dir)?;
        let client = fenghuo_client::Client::connect(&self.endpoint, &pki).await?;
        let Some(token) = &self.token else {
            return Ok(client);
        };
        // A token is bound to one organisation's certificate: presented as another it can
        // only be refused, so it is not sent at all.
        let connecting = fenghuo::pki::ClientCertificate::from_pem(&pki.cert_pem)
            .map(|c| c.organisation.to_string())
            .with_context(|| format!("reading {}", dir.join("client.crt").display()))?;
        match token_issuer(token) {
            Some(issuer) if issuer == connecting => {}
            issuer => {
                eprintln!(
                    "note: the officer token (FENGHUO_TOKEN / --token) is for {}; not sent as {connecting}",
                    issuer.as_deref().unwrap_or("an unreadable issuer")
                );
                return Ok(client);
            }
        }
        let noted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        Ok(client
            .with_token(token)?
            .on_token_skipped(Arc::new(move |path: &str| {
                if !noted.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    eprintln!(
                        "note: the officer token is not sent to {} (docs/authorization.md: no officer token)",
                        path.trim_start_matches("/fenghuo.v1.").replace('/', ".")
                    );
                }
            })))
    }
}

/// The `iss` claim of a JWT, read without verifying it (the server verifies).
fn token_issuer(token: &str) -> Option<String> {
    token_claim(token, "iss")
}

/// The officer a token names (its `sub`), read without verifying it.
pub fn token_officer(token: &str) -> Option<String> {
    token_claim(token, "sub")
}

fn token_claim(token: &str, claim: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    claims.get(claim)?.as_str().map(str::to_owned)
}

/// `fenghuo bootstrap`: the first organisation of a platform on its own PKI.
pub async fn bootstrap(args: crate::BootstrapArgs) -> anyhow::Result<()> {
    let settings = args.server.settings()?;
    let fenghuo::config::TlsSource::Files { ca_cert, .. } = &settings.tls else {
        anyhow::bail!(
            "bootstrap is for a server on its own PKI: name it in the configuration's [tls] section (--config FILE); the development PKI seeds its demo organisations by itself"
        );
    };
    let ca_pem = std::fs::read_to_string(ca_cert)
        .with_context(|| format!("reading the CA certificate {}", ca_cert.display()))?;
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
    };
    let role = fenghuo::domain::organisation::Role::parse(&args.role).ok_or_else(|| {
        anyhow::anyhow!(
            "--role {:?}: national_regulator or platform_operator",
            args.role
        )
    })?;
    let officer = match (&args.officer, &args.officer_key) {
        (Some(name), Some(key)) => Some(fenghuo::bootstrap::FoundingOfficer {
            name: name.clone(),
            key_id: args
                .key_id
                .clone()
                .unwrap_or_else(|| format!("{}-1", args.org)),
            public_key_pem: read(key)?,
        }),
        _ => None,
    };
    let founding = fenghuo::bootstrap::Founding {
        id: args.org.clone(),
        name: args.name.clone(),
        role,
        province: args.province.clone(),
        certificate_pem: read(&args.cert)?,
        officer,
    };
    let store = fenghuo::store::Store::connect(settings.database_url.expose()).await?;
    let outcome =
        fenghuo::bootstrap::bootstrap(&store, &ca_pem, &founding, chrono::Utc::now()).await;
    store.close().await;
    outcome?;
    println!(
        "bootstrapped {} ({}) with its certificate{}; start the server and onboard the others with RegistryService.CreateOrganisation and RegisterCertificate",
        founding.id,
        role,
        founding
            .officer
            .as_ref()
            .map(|o| format!(", officer {} and token key {}", o.name, o.key_id))
            .unwrap_or_default()
    );
    Ok(())
}

/// A token signed with an organisation's own key, bound to its certificate.
pub fn own_officer_token(
    key: &std::path::Path,
    kid: &str,
    cert: &std::path::Path,
    org: &str,
    officer: &str,
    now: chrono::DateTime<chrono::Utc>,
    ttl: i64,
) -> anyhow::Result<String> {
    let key_pem =
        std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let cert_pem =
        std::fs::read_to_string(cert).with_context(|| format!("reading {}", cert.display()))?;
    let cert = fenghuo::pki::ClientCertificate::from_pem(&cert_pem)?;
    if cert.organisation.as_str() != org {
        anyhow::bail!(
            "--cert names organisation {}, not {org}: a token is bound to its organisation's certificate",
            cert.organisation
        );
    }
    fenghuo::auth::token::sign_ed25519(&key_pem, kid, org, officer, &cert.thumbprint, now, ttl)
}

/// `fenghuo token keygen`: an Ed25519 key pair for officers' tokens.
pub fn token_keygen(out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let private = out.join("officer-token.key");
    if private.exists() {
        anyhow::bail!("{} exists; not overwriting a key", private.display());
    }
    let (key, public) = fenghuo::pki::dev::generate_token_key()?;
    fenghuo::pki::dev::write_secret(&private, &key)?;
    std::fs::write(out.join("officer-token.pub"), &public)?;
    println!("{}", out.join("officer-token.pub").display());
    Ok(())
}
