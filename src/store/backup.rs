//! Online backup and restore of the embedded SQLite database.
//!
//! A backup is `VACUUM INTO`: one read transaction, so the copy is the database as of one
//! commit while the server goes on writing (WAL readers do not block the writer). Everything
//! acknowledged before the backup began is in it, because a submission is acknowledged only
//! after its commit. SQLite does not sync the file `VACUUM INTO` writes, so the copy is written
//! under a temporary name, synced, checked (integrity and the audit chain) and only then
//! renamed into place. PostgreSQL is backed up with its own tools (`pg_dump`, or base backups
//! with WAL archiving for point-in-time recovery); the README says how.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::{Dialect, Store};

/// What a backup holds, read from the copy itself.
#[derive(Debug)]
pub struct BackupReport {
    pub bytes: u64,
    pub audit_records: u64,
    pub threats: i64,
    pub sightings: i64,
    pub notices: i64,
    pub appeals: i64,
}

impl std::fmt::Display for BackupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} bytes; integrity ok; audit chain intact: {} records; {} threats, {} sightings, {} notices, {} appeals",
            self.bytes,
            self.audit_records,
            self.threats,
            self.sightings,
            self.notices,
            self.appeals
        )
    }
}

/// The file a `sqlite:` URL names.
pub fn sqlite_path(database_url: &str) -> anyhow::Result<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .context("backup and restore by fenghuo are for SQLite; for PostgreSQL use pg_dump / pg_restore or a base backup with WAL archiving (README, Backups)")?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        bail!("the database URL names no file");
    }
    Ok(PathBuf::from(path))
}

/// Copies the live database at `store` to `to`, which must not exist.
///
/// # Errors
/// `to` exists, the store is PostgreSQL, or the copy fails its checks (then nothing is left
/// at `to`).
pub async fn backup(store: &Store, to: &Path) -> anyhow::Result<BackupReport> {
    if store.dialect() != Dialect::Sqlite {
        bail!(
            "backup by fenghuo is for SQLite; for PostgreSQL use pg_dump / pg_restore or a base backup with WAL archiving (README, Backups)"
        );
    }
    if to.exists() {
        bail!("{} exists: a backup never overwrites a file", to.display());
    }
    let partial = with_suffix(to, ".partial");
    let _ = std::fs::remove_file(&partial);
    let target = partial
        .to_str()
        .context("the backup path is not valid UTF-8")?
        .to_owned();
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(store.pool())
        .await
        .with_context(|| format!("writing {}", partial.display()))?;
    let checked = async {
        sync_file(&partial)?;
        verify(&partial).await
    }
    .await;
    match checked {
        Ok(report) => {
            std::fs::rename(&partial, to)
                .with_context(|| format!("renaming the backup to {}", to.display()))?;
            sync_parent(to)?;
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e.context("the backup failed its checks and was removed"))
        }
    }
}

/// Replaces the database file at `database` with the backup `from`. The server must be
/// stopped (the caller holds the data directory's lock). The replaced file is kept beside it
/// as `NAME.replaced-YYYYMMDDTHHMMSSZ`, with its WAL, so a mistaken restore can be undone.
///
/// # Errors
/// The backup fails its checks (nothing is changed then), or a file operation fails.
pub async fn restore(from: &Path, database: &Path) -> anyhow::Result<BackupReport> {
    if !from.is_file() {
        bail!("{} is not a file", from.display());
    }
    // Check a copy: opening a database may touch it, and the backup stays as it was.
    let incoming = with_suffix(database, ".restoring");
    let _ = std::fs::remove_file(&incoming);
    std::fs::copy(from, &incoming)
        .with_context(|| format!("copying {} beside the database", from.display()))?;
    let report = match verify(&incoming).await {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            return Err(e.context(format!(
                "{} is not a usable backup; the database was not changed",
                from.display()
            )));
        }
    };
    // verify() closed its pool, which checkpoints and removes the copy's WAL.
    sync_file(&incoming)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    if database.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let file = with_suffix(database, suffix);
            if file.exists() {
                let kept = with_suffix(database, &format!(".replaced-{stamp}{suffix}"));
                std::fs::rename(&file, &kept)
                    .with_context(|| format!("moving {} aside", file.display()))?;
            }
        }
    }
    std::fs::rename(&incoming, database)
        .with_context(|| format!("putting the backup in place at {}", database.display()))?;
    sync_parent(database)?;
    Ok(report)
}

/// Opens a copy, checks its integrity and audit chain, and counts what it holds.
pub async fn verify(path: &Path) -> anyhow::Result<BackupReport> {
    // A file that is no SQLite database at all is told at once (the pool would retry opening
    // it until its acquire timeout).
    let mut magic = [0u8; 16];
    let read = std::io::Read::read(
        &mut std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        &mut magic,
    )?;
    if read < 16 || &magic != b"SQLite format 3\0" {
        bail!("{} is not an SQLite database", path.display());
    }
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let result = async {
        let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(store.pool())
            .await?;
        if integrity != "ok" {
            bail!("SQLite integrity check: {integrity}");
        }
        let chain = super::audit::verify_chain(&store).await?;
        if let Some((seq, problem)) = chain.problem {
            bail!("the audit chain is broken at record {seq}: {problem}");
        }
        let count = |table: &'static str| {
            let store = store.clone();
            async move {
                let (n,): (i64,) =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                        .fetch_one(store.pool())
                        .await?;
                Ok::<i64, sqlx::Error>(n)
            }
        };
        Ok(BackupReport {
            bytes: 0,
            audit_records: chain.records_checked,
            threats: count("threats").await?,
            sightings: count("sightings").await?,
            notices: count("notices").await?,
            appeals: count("appeals").await?,
        })
    }
    .await;
    store.close().await;
    let mut report = result?;
    report.bytes = std::fs::metadata(path)?.len();
    Ok(report)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn sync_file(path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", path.display()))
}

/// A rename is durable once the directory holding it is synced.
fn sync_parent(path: &Path) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}
