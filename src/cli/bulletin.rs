//! `fenghuo bulletin …`: build a month's bulletin on the server's database (the job the
//! daily check does on the first working day of the next month); list the published ones
//! and write one out through StatisticsService over mTLS, as any organisation may; verify
//! one offline.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use fenghuo_client::pb;

use super::ConnectArgs;
use super::calendar::DatabaseArgs;
use super::output::{Output, ts_json};
use fenghuo::bulletin::check::publish_month;
use fenghuo::bulletin::pdf::{DEFAULT_FONT_DIRS, Fonts};
use fenghuo::bulletin::publish;
use fenghuo::domain::bulletin::BulletinMonth;
use fenghuo::pki::keyring::SigningKeyring;
use fenghuo::pki::signing::Signature;

#[derive(Subcommand)]
pub enum BulletinCommand {
    /// Build, sign and store the bulletin of MONTH (YYYY-MM) in Chinese and English from the
    /// statistics, as the publishing institution (2009 reporting measures Art. 19); a month
    /// built again is replaced, and the audit log keeps both
    Build {
        month: String,
        /// The publishing organisation: its signing key signs
        #[arg(long, default_value = "cncert")]
        publisher: String,
        /// Its name as printed under the title [default: its registered name]
        #[arg(long)]
        publisher_name: Option<String>,
        /// Directories searched for a font with Chinese characters
        #[arg(long = "font-dir")]
        font_dirs: Vec<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// The published bulletins, newest month first (StatisticsService.ListBulletins; every
    /// page)
    List {
        /// Only this year's
        #[arg(long, conflicts_with_all = ["from", "to"])]
        year: Option<i32>,
        /// From this month, YYYY-MM
        #[arg(long)]
        from: Option<String>,
        /// To this month, YYYY-MM
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Fetch a published bulletin (StatisticsService.GetBulletin) and write it to DIR:
    /// bulletin.html, bulletin.pdf, manifest.json, signature.bin, chain.der and figures.json
    Get {
        month: String,
        /// zh-CN or en
        #[arg(long, default_value = "zh-CN")]
        lang: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Verify a bulletin written by `get` offline: the signature over manifest.json chains
    /// to the CA and names the publisher, and each document matches its signed SHA-256
    Verify {
        dir: PathBuf,
        #[arg(long)]
        ca: PathBuf,
    },
}

impl BulletinCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            BulletinCommand::Build {
                month: text,
                publisher,
                publisher_name,
                font_dirs,
                database,
            } => {
                let month = BulletinMonth::parse(&text)?.first_day();
                let settings = database.settings()?;
                let dirs = if font_dirs.is_empty() {
                    DEFAULT_FONT_DIRS.iter().map(PathBuf::from).collect()
                } else {
                    font_dirs
                };
                let fonts = Arc::new(Fonts::load(&dirs)?);
                let store = fenghuo::store::Store::connect(settings.database_url.expose()).await?;
                let keyring = SigningKeyring::new(settings.notice_signing_dir.clone());
                let built = publish_month(
                    &store,
                    &keyring,
                    fonts,
                    &publisher,
                    publisher_name,
                    month,
                    chrono::Utc::now(),
                )
                .await;
                store.close().await;
                for row in built? {
                    println!(
                        "published {} {}: {} bytes of HTML, {} bytes of PDF, signed by {} (key {})",
                        row.month,
                        row.language,
                        row.html.len(),
                        row.pdf.len(),
                        row.publisher,
                        &row.key_id[..16.min(row.key_id.len())]
                    );
                }
                Ok(())
            }
            BulletinCommand::List {
                year,
                from,
                to,
                out,
                connect,
            } => list(year, from, to, out, &connect).await,
            BulletinCommand::Get {
                month,
                lang,
                out,
                connect,
            } => {
                let got = connect
                    .client()
                    .await?
                    .statistics()
                    .get_bulletin(pb::GetBulletinRequest {
                        month,
                        language: lang,
                    })
                    .await?
                    .into_inner();
                let summary = got.summary.unwrap_or_default();
                std::fs::create_dir_all(&out)
                    .with_context(|| format!("creating {}", out.display()))?;
                let write = |name: &str, bytes: &[u8]| {
                    std::fs::write(out.join(name), bytes)
                        .with_context(|| format!("writing {}", out.join(name).display()))
                };
                write("bulletin.html", &got.html)?;
                write("bulletin.pdf", &got.pdf)?;
                write("manifest.json", &got.manifest)?;
                write("signature.bin", &got.signature)?;
                // As the server stores it, so `verify` reads what `get` wrote.
                write("chain.der", &publish::encode_chain(&got.signer_chain_der))?;
                write("figures.json", got.figures_json.as_bytes())?;
                println!(
                    "wrote the bulletin of {} ({}) published by {} to {}",
                    summary.month,
                    summary.language,
                    summary.publisher,
                    out.display()
                );
                Ok(())
            }
            BulletinCommand::Verify { dir, ca } => {
                let read = |name: &str| {
                    std::fs::read(dir.join(name))
                        .with_context(|| format!("reading {}", dir.join(name).display()))
                };
                let manifest = read("manifest.json")?;
                let chain = publish::decode_chain(&read("chain.der")?)
                    .context("chain.der is not a certificate chain this platform wrote")?;
                let leaf = chain.first().context("chain.der holds no certificate")?;
                let signature = Signature {
                    signature: read("signature.bin")?,
                    key_id: fenghuo::pki::signing::key_id(leaf),
                    chain_der: chain.clone(),
                };
                let ca_pem = std::fs::read_to_string(&ca)
                    .with_context(|| format!("reading {}", ca.display()))?;
                let html = read_if(&dir, "bulletin.html")?;
                let pdf = read_if(&dir, "bulletin.pdf")?;
                let m = publish::verify(
                    &manifest,
                    &signature,
                    html.as_deref(),
                    pdf.as_deref(),
                    &ca_pem,
                )?;
                println!(
                    "valid: the bulletin of {} ({}) published by {} at {}",
                    m.month, m.language, m.publisher, m.published_at
                );
                Ok(())
            }
        }
    }
}

async fn list(
    year: Option<i32>,
    from: Option<String>,
    to: Option<String>,
    out: Output,
    connect: &ConnectArgs,
) -> anyhow::Result<()> {
    let mut client = connect.client().await?.statistics();
    let mut request = pb::ListBulletinsRequest {
        page: Some(pb::PageRequest::default()),
        year: year.unwrap_or(0),
        from_month: from.unwrap_or_default(),
        to_month: to.unwrap_or_default(),
    };
    let mut shown = 0;
    loop {
        let page = client.list_bulletins(request.clone()).await?.into_inner();
        for b in &page.bulletins {
            let published = ts_json(b.published_at);
            out.say(
                &format!(
                    "{} {:<5} published {} by {} (key {}): HTML {} bytes, PDF {} bytes",
                    b.month,
                    b.language,
                    published.as_str().unwrap_or("?"),
                    b.publisher,
                    &b.key_id[..16.min(b.key_id.len())],
                    b.html_bytes,
                    b.pdf_bytes
                ),
                serde_json::json!({
                    "month": b.month,
                    "language": b.language,
                    "publisher": b.publisher,
                    "published_at": published,
                    "key_id": b.key_id,
                    "html_bytes": b.html_bytes,
                    "pdf_bytes": b.pdf_bytes,
                }),
            );
        }
        shown += page.bulletins.len();
        if page.next_page_token.is_empty() {
            break;
        }
        request.page = Some(pb::PageRequest {
            page_token: page.next_page_token,
            ..Default::default()
        });
    }
    if shown == 0 {
        out.note("no bulletins published");
    }
    Ok(())
}

fn read_if(dir: &Path, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    if path.exists() {
        Ok(Some(std::fs::read(&path)?))
    } else {
        Ok(None)
    }
}
