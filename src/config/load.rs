//! Settings::load: the layers merged and each value checked.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{
    ConnectionLimits, DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_RETENTION_DAYS, FileConfig,
    MAX_SQLITE_CACHE_MIB, MIN_SQLITE_CACHE_MIB, MessageLimits, Overrides, Secret, Settings,
    StreamLimits, TlsSource,
};
use crate::domain::grading::GradeThresholds;
use crate::domain::policy::DeadlinePolicy;

fn default_font_dirs() -> Vec<PathBuf> {
    crate::bulletin::pdf::DEFAULT_FONT_DIRS
        .iter()
        .map(PathBuf::from)
        .collect()
}

impl Settings {
    /// A development server on an ephemeral loopback port (tests, benchmarks).
    pub fn development(data_dir: &Path, database_url: &str) -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_path_buf(),
            database_url: Secret::new(database_url),
            tls: TlsSource::Development,
            policy: DeadlinePolicy::shipped(),
            notice_signing_dir: data_dir.join("pki").join("clients"),
            health_listen: None,
            metrics_listen: None,
            taxii_listen: None,
            console_listen: None,
            retention_days: DEFAULT_RETENTION_DAYS,
            sqlite_cache_mib: crate::store::DEFAULT_SQLITE_CACHE_MIB,
            bulletin_publisher: None,
            bulletin_font_dirs: default_font_dirs(),
            otlp_endpoint: None,
            connections: ConnectionLimits::default(),
            grading: GradeThresholds::default(),
            streams: StreamLimits::default(),
            limits: MessageLimits::default(),
        }
    }

    pub fn load(config_file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Settings> {
        let file = match config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let listen_raw = overrides
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_raw.parse().with_context(|| {
            format!("listen address {listen_raw:?} is not host:port (e.g. 127.0.0.1:50051)")
        })?;
        let data_dir = overrides
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = overrides
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| {
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join("fenghuo.db").display()
                )
            });
        let tls = match file.tls {
            Some(t) => TlsSource::Files {
                ca_cert: t.ca_cert,
                server_cert: t.server_cert,
                server_key: t.server_key,
            },
            None => TlsSource::Development,
        };
        let policy = match overrides.policy_file.or(file.policy_file) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading the policy file {}", path.display()))?;
                DeadlinePolicy::shipped_with(&text)
                    .with_context(|| format!("in the policy file {}", path.display()))?
            }
            None => DeadlinePolicy::shipped(),
        };
        let health_listen = match overrides.health_listen.or(file.health_listen) {
            Some(raw) => Some(raw.parse().with_context(|| {
                format!("health_listen {raw:?} is not host:port (e.g. 0.0.0.0:50052)")
            })?),
            None => None,
        };
        let metrics_listen = match overrides.metrics_listen.or(file.metrics_listen) {
            Some(raw) => Some(raw.parse().with_context(|| {
                format!("metrics_listen {raw:?} is not host:port (e.g. 127.0.0.1:9464)")
            })?),
            None => None,
        };
        let taxii_listen = match overrides.taxii_listen.or(file.taxii_listen) {
            Some(raw) => Some(raw.parse().with_context(|| {
                format!("taxii_listen {raw:?} is not host:port (e.g. 0.0.0.0:9443)")
            })?),
            None => None,
        };
        let console_listen = match overrides.console_listen.or(file.console_listen) {
            Some(raw) => Some(raw.parse().with_context(|| {
                format!("console_listen {raw:?} is not host:port (e.g. 127.0.0.1:8443)")
            })?),
            None => None,
        };
        let retention_days = file.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
        if retention_days < crate::store::retention::MIN_RETENTION_DAYS {
            anyhow::bail!(
                "retention_days = {retention_days}: monitoring data must be kept at least {} days \
                 (2009 mechanism Art. 10)",
                crate::store::retention::MIN_RETENTION_DAYS
            );
        }
        let otlp_endpoint = overrides.otlp_endpoint.or(file.otlp_endpoint);
        if let Some(raw) = &otlp_endpoint
            && !(raw.starts_with("http://") || raw.starts_with("https://"))
        {
            anyhow::bail!(
                "otlp_endpoint {raw:?} is not a URL (e.g. http://127.0.0.1:4317, an OTLP/gRPC collector)"
            );
        }
        let notice_signing_dir = file
            .notice_signing_dir
            .unwrap_or_else(|| data_dir.join("pki").join("clients"));
        let connections = ConnectionLimits::from_file(file.connections)?;
        let grading = file
            .grading
            .unwrap_or_default()
            .validated()
            .context("in [grading]")?;
        let sqlite_cache_mib = file
            .sqlite_cache_mib
            .unwrap_or(crate::store::DEFAULT_SQLITE_CACHE_MIB);
        if !(MIN_SQLITE_CACHE_MIB..=MAX_SQLITE_CACHE_MIB).contains(&sqlite_cache_mib) {
            anyhow::bail!(
                "sqlite_cache_mib = {sqlite_cache_mib}: the pool's SQLite page cache must be \
                 {MIN_SQLITE_CACHE_MIB} to {MAX_SQLITE_CACHE_MIB} MiB"
            );
        }
        let streams = StreamLimits::from_file(file.streams)?;
        let limits = MessageLimits::from_file(file.limits)?;
        Ok(Settings {
            streams,
            limits,
            grading,
            connections,
            notice_signing_dir,
            health_listen,
            metrics_listen,
            taxii_listen,
            console_listen,
            retention_days,
            sqlite_cache_mib,
            bulletin_publisher: file
                .bulletin_publisher
                .clone()
                .filter(|p| !p.trim().is_empty()),
            bulletin_font_dirs: file
                .bulletin_font_dirs
                .clone()
                .unwrap_or_else(default_font_dirs),
            otlp_endpoint,
            listen,
            data_dir,
            database_url: Secret::new(database_url),
            tls,
            policy,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }
}
