//! `fenghuo bulletin …`: build a month's bulletin on the server's database (the job the
//! daily check does on the first working day of the next month), write a published one
//! out, and verify one offline.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::Subcommand;

use super::calendar::DatabaseArgs;
use fenghuo::bulletin::check::publish_month;
use fenghuo::bulletin::pdf::{DEFAULT_FONT_DIRS, Fonts};
use fenghuo::bulletin::publish;
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
    /// Write a published bulletin to DIR: bulletin.html, bulletin.pdf, manifest.json,
    /// signature.bin, chain.der and figures.json
    Get {
        month: String,
        /// zh-CN or en
        #[arg(long, default_value = "zh-CN")]
        lang: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Verify a bulletin written by `get` offline: the signature over manifest.json chains
    /// to the CA and names the publisher, and each document matches its signed SHA-256
    Verify {
        dir: PathBuf,
        #[arg(long)]
        ca: PathBuf,
    },
}

fn month(text: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .with_context(|| format!("month {text:?}: YYYY-MM, e.g. 2026-11"))
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
                let month = month(&text)?;
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
            BulletinCommand::Get {
                month: text,
                lang,
                out,
                database,
            } => {
                month(&text)?;
                let store = fenghuo::store::Store::connect(&database.url()?).await?;
                let row = fenghuo::store::bulletins::get(&store, &text, &lang).await;
                store.close().await;
                let Some(row) = row? else {
                    bail!("no bulletin of {text} in {lang} has been published");
                };
                std::fs::create_dir_all(&out)?;
                let write = |name: &str, bytes: &[u8]| {
                    std::fs::write(out.join(name), bytes)
                        .with_context(|| format!("writing {}", out.join(name).display()))
                };
                write("bulletin.html", &row.html)?;
                write("bulletin.pdf", &row.pdf)?;
                write("manifest.json", &row.manifest)?;
                write("signature.bin", &row.signature)?;
                write("chain.der", &row.chain_der)?;
                write("figures.json", row.figures.as_bytes())?;
                println!("wrote the bulletin of {text} ({lang}) to {}", out.display());
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

fn read_if(dir: &Path, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    if path.exists() {
        Ok(Some(std::fs::read(&path)?))
    } else {
        Ok(None)
    }
}
