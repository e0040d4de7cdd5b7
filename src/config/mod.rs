//! Configuration in layers: defaults → TOML file → `FENGHUO_…` environment →
//! command-line flags, validated into [`Settings`].

mod file;
mod limits;
mod load;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::domain::grading::GradeThresholds;
use crate::domain::policy::DeadlinePolicy;

pub use self::file::{
    ConnectionsFileConfig, FileConfig, LimitsFileConfig, StreamsFileConfig, TlsFileConfig,
};
pub use self::limits::{ConnectionLimits, MessageLimits, StreamLimits};

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
