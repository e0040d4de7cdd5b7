//! Configuration in layers: defaults → TOML file → `FENGHUO_…` environment →
//! command-line flags, validated into [`Settings`].

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::domain::grading::GradeThresholds;
use crate::domain::policy::DeadlinePolicy;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_DATA_DIR: &str = "fenghuo-data";

/// A value that must not reach logs (database URLs carry passwords).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::store::redact(&self.0))
    }
}

/// Where the server's TLS material comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// The development PKI under `<data-dir>/pki`, created on first start, and
    /// the demo organisations seeded from it.
    Development,
    /// A production CA and server certificate.
    Files {
        ca_cert: PathBuf,
        server_cert: PathBuf,
        server_key: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Secret,
    pub tls: TlsSource,
    /// The deadline policy: the shipped one with the policy file's entries over it (Art. 14).
    pub policy: DeadlinePolicy,
    /// Regulators' notice-signing keys, `<dir>/<organisation>/notice-signing.{key,crt}`
    /// (the dev PKI's `clients/` layout). The server signs for a regulator only with the
    /// key registered for it (Art. 8).
    pub notice_signing_dir: PathBuf,
    /// Where to serve `grpc.health.v1` alone, in plain HTTP/2 without a client certificate,
    /// for load balancers that cannot present one. None: not served.
    pub health_listen: Option<SocketAddr>,
    /// Where to serve Prometheus metrics (`GET /metrics`, plain HTTP/1.1, no client
    /// certificate: bind it to loopback or a management network). None: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// Where to serve TAXII 2.1 (HTTPS/1.1 on the gRPC port's certificate and client-certificate
    /// verification; docs/stix.md). None: not served.
    pub taxii_listen: Option<SocketAddr>,
    /// Where to serve the web console (HTTPS/1.1 on the gRPC port's certificate; the browser
    /// presents the organisation's client certificate; README "The web console"). None: not
    /// served.
    pub console_listen: Option<SocketAddr>,
    /// Days monitoring data are kept after a threat was last reported (2009 mechanism Art. 10:
    /// at least 60); see `store::retention` for what is never removed.
    pub retention_days: u32,
    /// SQLite page cache of the whole connection pool, MiB (`store::StoreOptions`).
    pub sqlite_cache_mib: u32,
    /// The organisation that publishes the monthly bulletin (2009 reporting measures Art. 19):
    /// its signing key signs it. None: no bulletin is built by the daily check.
    pub bulletin_publisher: Option<String>,
    /// Directories searched for a font with Chinese characters for the bulletin's PDF.
    pub bulletin_font_dirs: Vec<PathBuf>,
    /// Where to export traces over OTLP/gRPC (`http://127.0.0.1:4317`). None: not exported.
    pub otlp_endpoint: Option<String>,
    pub connections: ConnectionLimits,
    /// Bot counts for each event grade (2009 mechanism Art. 7); identifications show the
    /// grade they give and a departing grade needs a reason.
    pub grading: GradeThresholds,
    pub streams: StreamLimits,
    pub limits: MessageLimits,
}

/// What one organisation's server streams (feeds, notice deliveries, appeal watches, audit
/// follows) may hold: a stream whose reader stops would otherwise keep its next batch in
/// memory for as long as the connection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// A stream whose client has taken nothing for this long while the server waits to send
    /// ends with RESOURCE_EXHAUSTED naming the last cursor delivered.
    pub slow_reader_stall: Duration,
    /// Open streams of each kind per organisation on one server (intake streams included).
    pub max_per_organisation: usize,
    /// Items a server stream makes ahead of what HTTP/2 flow control lets it send.
    pub buffer: usize,
    /// Feed events a subscription reads and prepares at once: held in memory until its
    /// reader has taken them, so a stalled feed holds at most this many.
    pub feed_page: u32,
    /// Items an intake stream (`SubmitThreatStream`, `SubmitThreatBatches`) may have read
    /// but not yet seen acknowledged; at the bound the server stops reading it, and HTTP/2
    /// flow control holds the client back.
    pub max_unacknowledged: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            slow_reader_stall: Duration::from_secs(30),
            max_per_organisation: 32,
            buffer: 16,
            feed_page: 100,
            max_unacknowledged: 4096,
        }
    }
}

/// What one gRPC message and one HTTP/2 stream or connection may make the server hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// The largest gRPC message the server decodes or encodes; a larger one is OUT_OF_RANGE
    /// before its body is read.
    pub max_message_bytes: usize,
    /// What a client may send on one stream before the server has read it (HTTP/2 window).
    pub http2_stream_window: u32,
    /// What a client may send on one connection, all streams together, before the server
    /// has read it.
    pub http2_connection_window: u32,
}

impl Default for MessageLimits {
    fn default() -> Self {
        MessageLimits {
            max_message_bytes: 8 * 1024 * 1024,
            http2_stream_window: 256 * 1024,
            http2_connection_window: 1024 * 1024,
        }
    }
}

impl MessageLimits {
    fn from_file(file: Option<LimitsFileConfig>) -> anyhow::Result<Self> {
        let d = MessageLimits::default();
        let Some(f) = file else { return Ok(d) };
        let limits = MessageLimits {
            max_message_bytes: f.max_message_bytes.unwrap_or(d.max_message_bytes),
            http2_stream_window: f.http2_stream_window.unwrap_or(d.http2_stream_window),
            http2_connection_window: f
                .http2_connection_window
                .unwrap_or(d.http2_connection_window),
        };
        // Below these a report or a frame no longer fits (HTTP/2's smallest window, RFC 9113 6.9.2).
        anyhow::ensure!(
            limits.max_message_bytes >= 64 * 1024,
            "limits.max_message_bytes must be at least 65536"
        );
        for (key, v) in [
            ("http2_stream_window", limits.http2_stream_window),
            ("http2_connection_window", limits.http2_connection_window),
        ] {
            anyhow::ensure!(
                (65_535..=(1 << 31) - 1).contains(&v),
                "limits.{key} must lie between 65535 and 2147483647 (HTTP/2 windows)"
            );
        }
        Ok(limits)
    }
}

impl StreamLimits {
    fn from_file(file: Option<StreamsFileConfig>) -> anyhow::Result<Self> {
        let d = StreamLimits::default();
        let Some(f) = file else { return Ok(d) };
        let slow_reader_stall = match f.slow_reader_stall {
            None => d.slow_reader_stall,
            Some(raw) => parse_duration(&raw).with_context(|| {
                format!("streams.slow_reader_stall {raw:?} is not a positive duration (e.g. 30s)")
            })?,
        };
        let limits = StreamLimits {
            slow_reader_stall,
            max_per_organisation: f.max_per_organisation.unwrap_or(d.max_per_organisation),
            buffer: f.buffer.unwrap_or(d.buffer),
            feed_page: f.feed_page.unwrap_or(d.feed_page),
            max_unacknowledged: f.max_unacknowledged.unwrap_or(d.max_unacknowledged),
        };
        for (key, v) in [
            ("max_per_organisation", limits.max_per_organisation),
            ("buffer", limits.buffer),
            ("feed_page", limits.feed_page as usize),
            ("max_unacknowledged", limits.max_unacknowledged),
        ] {
            anyhow::ensure!(v >= 1, "streams.{key} must be at least 1");
        }
        // A semaphore's permits are u32 and one item per permit.
        anyhow::ensure!(
            limits.max_unacknowledged <= 1 << 20,
            "streams.max_unacknowledged must be at most 1048576"
        );
        Ok(limits)
    }
}

/// What a connection may hold before and after its TLS handshake: without these, 1,124 silent
/// TCP connections used up a 1,024-descriptor process and locked every client out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A client that has not completed its TLS handshake by then is disconnected.
    pub handshake_timeout: Duration,
    /// Open connections, established or handshaking. At the cap the oldest unfinished
    /// handshake gives way to a newcomer; with none left, newcomers wait in the backlog.
    pub max_connections: usize,
    /// Idle time before an HTTP/2 PING (and a TCP keepalive probe) checks the peer is there.
    pub keepalive_interval: Duration,
    /// How long an unanswered PING keeps the connection open.
    pub keepalive_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
        }
    }
}

impl ConnectionLimits {
    fn from_file(file: Option<ConnectionsFileConfig>) -> anyhow::Result<Self> {
        let d = ConnectionLimits::default();
        let Some(f) = file else { return Ok(d) };
        let duration = |key: &str, raw: Option<String>, default: Duration| match raw {
            None => Ok(default),
            Some(raw) => parse_duration(&raw).with_context(|| {
                format!(
                    "connections.{key} {raw:?} is not a positive duration (e.g. 300ms, 10s, 2m)"
                )
            }),
        };
        let max_connections = f.max.unwrap_or(d.max_connections);
        anyhow::ensure!(max_connections >= 1, "connections.max must be at least 1");
        Ok(ConnectionLimits {
            handshake_timeout: duration(
                "handshake_timeout",
                f.handshake_timeout,
                d.handshake_timeout,
            )?,
            max_connections,
            keepalive_interval: duration(
                "keepalive_interval",
                f.keepalive_interval,
                d.keepalive_interval,
            )?,
            keepalive_timeout: duration(
                "keepalive_timeout",
                f.keepalive_timeout,
                d.keepalive_timeout,
            )?,
        })
    }
}

/// `300ms`, `10s`, `2m`: a whole number and a unit, more than zero.
fn parse_duration(raw: &str) -> anyhow::Result<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let n: u64 = number.parse()?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        other => anyhow::bail!("unknown unit {other:?}"),
    };
    anyhow::ensure!(!d.is_zero(), "must be more than zero");
    Ok(d)
}

fn default_font_dirs() -> Vec<PathBuf> {
    crate::bulletin::pdf::DEFAULT_FONT_DIRS
        .iter()
        .map(PathBuf::from)
        .collect()
}

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

/// Days kept by default: three times the 60 the 2009 mechanism Art. 10 requires, so a
/// report can still be inspected in the next quarter's review.
pub const DEFAULT_RETENTION_DAYS: u32 = 180;
/// Bounds of `sqlite_cache_mib`: at least 1 MiB per pooled connection.
pub const MIN_SQLITE_CACHE_MIB: u32 = 8;
pub const MAX_SQLITE_CACHE_MIB: u32 = 65536;

/// Values given by environment or flags (clap merges the two; flags win).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub policy_file: Option<PathBuf>,
    pub health_listen: Option<String>,
    pub metrics_listen: Option<String>,
    pub taxii_listen: Option<String>,
    pub console_listen: Option<String>,
    pub otlp_endpoint: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grading_thresholds_come_from_the_file_and_must_descend() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fenghuo.toml");
        std::fs::write(&file, "[grading]\nmajor_bots = 50000\n").unwrap();
        let s = Settings::load(Some(&file), Overrides::default()).unwrap();
        assert_eq!(s.grading.major_bots, 50_000);
        assert_eq!(s.grading.serious_bots, 500_000);
        std::fs::write(&file, "[grading]\nmajor_bots = 900000\n").unwrap();
        let err = Settings::load(Some(&file), Overrides::default()).unwrap_err();
        assert!(format!("{err:#}").contains("must fall"), "{err:#}");
    }

    #[test]
    fn the_console_is_served_only_where_configured_and_the_flag_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fenghuo.toml");
        assert!(
            Settings::load(None, Overrides::default())
                .unwrap()
                .console_listen
                .is_none()
        );
        std::fs::write(&file, "console_listen = \"127.0.0.1:8443\"\n").unwrap();
        let s = Settings::load(Some(&file), Overrides::default()).unwrap();
        assert_eq!(s.console_listen.unwrap().port(), 8443);
        let flag = Overrides {
            console_listen: Some("127.0.0.1:9444".into()),
            ..Default::default()
        };
        assert_eq!(
            Settings::load(Some(&file), flag)
                .unwrap()
                .console_listen
                .unwrap()
                .port(),
            9444
        );
        std::fs::write(&file, "console_listen = \"everywhere\"\n").unwrap();
        let err = Settings::load(Some(&file), Overrides::default()).unwrap_err();
        assert!(format!("{err:#}").contains("console_listen"), "{err:#}");
    }

    #[test]
    fn the_sqlite_page_cache_is_configured_within_its_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fenghuo.toml");
        assert_eq!(
            Settings::load(None, Overrides::default())
                .unwrap()
                .sqlite_cache_mib,
            crate::store::DEFAULT_SQLITE_CACHE_MIB
        );
        std::fs::write(&file, "sqlite_cache_mib = 64\n").unwrap();
        let s = Settings::load(Some(&file), Overrides::default()).unwrap();
        assert_eq!(s.sqlite_cache_mib, 64);
        std::fs::write(&file, "sqlite_cache_mib = 4\n").unwrap();
        let err = Settings::load(Some(&file), Overrides::default()).unwrap_err();
        assert!(
            format!("{err:#}").contains("sqlite_cache_mib = 4"),
            "{err:#}"
        );
    }

    #[test]
    fn defaults_give_sqlite_in_the_data_dir() {
        let s = Settings::load(None, Overrides::default()).unwrap();
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            s.database_url.expose(),
            "sqlite://fenghuo-data/fenghuo.db?mode=rwc"
        );
        assert!(matches!(s.tls, TlsSource::Development));
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("fenghuo-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("fenghuo.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:6000\"\ndata_dir = \"/srv/f\"\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&file),
            Overrides {
                listen: Some("127.0.0.1:7000".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.listen.port(), 7000);
        assert_eq!(s.data_dir, PathBuf::from("/srv/f"));
    }

    #[test]
    fn a_policy_file_overrides_the_shipped_deadlines_for_a_province() {
        use crate::domain::policy::{Level, TimeLimit};
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("policy.toml");
        std::fs::write(
            &policy,
            "[provinces.\"440000\".platform.general]\nreceipt = \"2h\"\n",
        )
        .unwrap();
        let config = dir.path().join("fenghuo.toml");
        std::fs::write(
            &config,
            format!("policy_file = {:?}\n", policy.display().to_string()),
        )
        .unwrap();
        let s = Settings::load(Some(&config), Overrides::default()).unwrap();
        assert_eq!(
            s.policy.receipt_limit("440000", Level::General, false),
            Some(TimeLimit::Hours(2))
        );
        assert_eq!(
            s.policy.receipt_limit("110000", Level::General, false),
            Some(TimeLimit::WorkingDays(1))
        );
        std::fs::write(&policy, "[platform.general]\nreceipt = \"soon\"\n").unwrap();
        let err = Settings::load(Some(&config), Overrides::default()).unwrap_err();
        assert!(
            format!("{err:#}").contains("platform.general.receipt"),
            "{err:#}"
        );
    }

    #[test]
    fn connection_limits_come_from_the_connections_table() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("fenghuo.toml");
        std::fs::write(
            &config,
            "[connections]\nhandshake_timeout = \"300ms\"\nmax = 100\nkeepalive_interval = \"2m\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&config), Overrides::default()).unwrap();
        assert_eq!(
            s.connections,
            ConnectionLimits {
                handshake_timeout: Duration::from_millis(300),
                max_connections: 100,
                keepalive_interval: Duration::from_secs(120),
                keepalive_timeout: Duration::from_secs(10),
            }
        );
        std::fs::write(&config, "[connections]\nhandshake_timeout = \"0s\"\n").unwrap();
        let err = Settings::load(Some(&config), Overrides::default()).unwrap_err();
        assert!(format!("{err:#}").contains("handshake_timeout"), "{err:#}");
    }

    #[test]
    fn stream_limits_come_from_the_streams_table() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("fenghuo.toml");
        std::fs::write(&config, "[streams]\nslow_reader_stall = \"5s\"\n").unwrap();
        let s = Settings::load(Some(&config), Overrides::default()).unwrap();
        assert_eq!(
            s.streams,
            StreamLimits {
                slow_reader_stall: Duration::from_secs(5),
                ..StreamLimits::default()
            }
        );
        std::fs::write(
            &config,
            "[streams]\nbuffer = 2\nfeed_page = 7\nmax_unacknowledged = 64\n\n[limits]\nmax_message_bytes = 1048576\nhttp2_stream_window = 65535\n",
        )
        .unwrap();
        let s = Settings::load(Some(&config), Overrides::default()).unwrap();
        assert_eq!(
            (
                s.streams.buffer,
                s.streams.feed_page,
                s.streams.max_unacknowledged
            ),
            (2, 7, 64)
        );
        assert_eq!(
            s.limits,
            MessageLimits {
                max_message_bytes: 1 << 20,
                http2_stream_window: 65_535,
                ..MessageLimits::default()
            }
        );
        std::fs::write(&config, "[limits]\nhttp2_connection_window = 1000\n").unwrap();
        let err = Settings::load(Some(&config), Overrides::default()).unwrap_err();
        assert!(
            format!("{err:#}").contains("http2_connection_window"),
            "{err:#}"
        );
        std::fs::write(&config, "[streams]\nmax_per_organisation = 0\n").unwrap();
        let err = Settings::load(Some(&config), Overrides::default()).unwrap_err();
        assert!(
            format!("{err:#}").contains("max_per_organisation"),
            "{err:#}"
        );
    }

    #[test]
    fn the_database_password_is_not_printed() {
        let s = Secret::new("postgres://fenghuo:hunter2@db/fenghuo");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
