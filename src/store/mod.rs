//! Storage: one set of plain sqlx functions over SQLite (embedded, one replica)
//! and PostgreSQL (production, many replicas). Queries are written once in the
//! common SQL subset with `$n` parameters; where the two differ, [`Dialect`]
//! says how. Every function that changes state takes the caller's transaction,
//! so the change and its audit record commit together.

pub mod appeals;
pub mod audit;
pub mod backup;
pub mod bulk;
pub mod bulletins;
pub mod calendar;
pub mod geo;
pub mod identifications;
pub mod notices;
pub mod ownership;
pub mod registry;
pub mod reporting;
pub mod retention;
pub mod statistics;
pub mod taxii;
pub mod threats;
pub mod timers;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions, Executor};

pub type Tx = sqlx::Transaction<'static, Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Connections of a SQLite pool.
const SQLITE_CONNECTIONS: u32 = 8;

/// The SQLite page cache of the whole pool, MiB, unless configured (`sqlite_cache_mib`).
/// 64 keeps the server within 150 MB under a full intake at 1,000,000 threats; 512 was no
/// faster (the OS caches the file too) and took 60 MiB more (BENCHMARKS.md, #15).
pub const DEFAULT_SQLITE_CACHE_MIB: u32 = 64;

/// How a store is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// SQLite: page cache of the whole pool, MiB (split across its connections). The
    /// server's memory grows to it as the database does; PostgreSQL ignores it.
    pub sqlite_cache_mib: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sqlite_cache_mib: DEFAULT_SQLITE_CACHE_MIB,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects and applies the checked-in migrations.
    ///
    /// SQLite runs in WAL mode with `synchronous=FULL`: an acknowledged
    /// submission survives a power cut. PostgreSQL keeps its default
    /// `synchronous_commit=on`, which we re-assert per connection.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        Store::connect_with(url, StoreOptions::default()).await
    }

    /// [`Store::connect`] with `options`.
    pub async fn connect_with(url: &str, options: StoreOptions) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        // Each SQLite connection keeps its own page cache: the pool's budget is split.
        let cache_pragma = format!(
            "PRAGMA cache_size = -{}",
            (u64::from(options.sqlite_cache_mib) * 1024 / SQLITE_CONNECTIONS as u64).max(1024)
        );
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            anyhow::bail!(
                "database URL must start with sqlite: or postgres: (got {})",
                redact(url)
            );
        };
        let options = AnyConnectOptions::from_str(url)
            .with_context(|| format!("parsing database URL {}", redact(url)))?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(2));
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => SQLITE_CONNECTIONS,
                Dialect::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                let cache_pragma = cache_pragma.clone();
                Box::pin(async move {
                    let pragmas: &[&str] = match dialect {
                        Dialect::Sqlite => &[
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 30000",
                            // Statement journals of multi-row INSERTs stay off disk.
                            "PRAGMA temp_store = MEMORY",
                            &cache_pragma,
                            // Checkpoint every ~64 MiB of WAL rather than 4 MiB: fewer
                            // database-file syncs on the intake path.
                            "PRAGMA wal_autocheckpoint = 16384",
                            "PRAGMA journal_size_limit = 67108864",
                        ],
                        Dialect::Postgres => &["SET synchronous_commit = on"],
                    };
                    for p in pragmas {
                        conn.execute(sqlx::AssertSqlSafe(p.to_string())).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}", redact(url)))?;
        let store = Store { pool, dialect };
        let migrator = match dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&store.pool)
            .await
            .context("applying database migrations")?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`) so that two writers queue instead of failing.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
    }

    /// Starts a read-only transaction whose reads all see one snapshot of the database
    /// (SQLite: a deferred transaction in WAL mode; PostgreSQL: REPEATABLE READ).
    pub async fn read_snapshot(&self) -> Result<Tx, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN DEFERRED").await,
            Dialect::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await
            }
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Dialect {
    /// Row lock for read-then-write; SQLite's write transaction already excludes others.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Row lock that passes over rows another transaction holds: replicas claim disjoint work.
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// A database URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// `$start, $start+1, …` for an IN list of `n` values.
pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows of `select` (an SQL text containing `{in}`) with `{in}` replaced by one placeholder
/// per value, bound in order: the IN-list reads of several stores.
pub async fn fetch_in<T>(
    store: &Store,
    select: &str,
    values: &[String],
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(
        select.replace("{in}", &placeholders(1, values.len())),
    ));
    for v in values {
        q = q.bind(v);
    }
    q.fetch_all(store.pool()).await
}

/// Opaque keyset page tokens: the last key of the previous page.
pub mod page {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub const DEFAULT_SIZE: u32 = 100;
    pub const MAX_SIZE: u32 = 1000;

    pub fn encode(last_key: &str) -> String {
        URL_SAFE_NO_PAD.encode(last_key)
    }

    pub fn decode(token: &str) -> Option<String> {
        if token.is_empty() {
            return Some(String::new());
        }
        URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    }

    /// A stream cursor: a position in the log named by `log` (one letter per log, so a
    /// cursor of one stream is refused by another).
    pub fn encode_position(log: char, position: i64) -> String {
        encode(&format!("{log}:{position}"))
    }

    pub fn decode_position(log: char, cursor: &str) -> Option<i64> {
        decode(cursor)?
            .strip_prefix(log)?
            .strip_prefix(':')?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
