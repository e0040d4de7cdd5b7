//! The TOML file's tables as read, before validation.

use std::path::PathBuf;

use serde::Deserialize;

use crate::domain::grading::GradeThresholds;

/// The TOML file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub tls: Option<TlsFileConfig>,
    /// A deadline-policy TOML laid over the shipped one (`data/policy/default.toml`).
    pub policy_file: Option<PathBuf>,
    pub notice_signing_dir: Option<PathBuf>,
    pub health_listen: Option<String>,
    pub metrics_listen: Option<String>,
    pub taxii_listen: Option<String>,
    pub console_listen: Option<String>,
    pub retention_days: Option<u32>,
    pub sqlite_cache_mib: Option<u32>,
    pub bulletin_publisher: Option<String>,
    pub bulletin_font_dirs: Option<Vec<PathBuf>>,
    pub otlp_endpoint: Option<String>,
    pub connections: Option<ConnectionsFileConfig>,
    /// `[grading]`: `particularly_serious_bots`, `serious_bots`, `major_bots`.
    pub grading: Option<GradeThresholds>,
    pub streams: Option<StreamsFileConfig>,
    pub limits: Option<LimitsFileConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamsFileConfig {
    pub slow_reader_stall: Option<String>,
    pub max_per_organisation: Option<usize>,
    pub buffer: Option<usize>,
    pub feed_page: Option<u32>,
    pub max_unacknowledged: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFileConfig {
    pub max_message_bytes: Option<usize>,
    pub http2_stream_window: Option<u32>,
    pub http2_connection_window: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsFileConfig {
    pub handshake_timeout: Option<String>,
    pub max: Option<usize>,
    pub keepalive_interval: Option<String>,
    pub keepalive_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFileConfig {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}
