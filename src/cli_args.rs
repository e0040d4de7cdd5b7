//! The command line's clap definitions: the commands, and the arguments of those `main.rs`
//! runs itself (serve, bootstrap, token, audit, threat, bench); the rest parse in `cli/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cli::{self, ConnectArgs};
use fenghuo::config::{Overrides, Settings};

#[derive(Parser)]
#[command(
    name = "fenghuo",
    version,
    about = "Public-internet threat monitoring and disposal platform (MIIT Measures 2017)"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the gRPC server (mTLS). With no PKI configured it creates a development CA.
    Serve(ServerArgs),
    /// Enter a new production platform: register its first organisation (national regulator
    /// or platform operator), certificate and officer in an empty database, before first start.
    Bootstrap(BootstrapArgs),
    /// Officers' tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Copy the live SQLite database to FILE while the server runs (a consistent snapshot,
    /// synced and checked: integrity and the audit chain). PostgreSQL: use pg_dump (README).
    Backup {
        /// The backup file; never overwritten
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Replace the SQLite database with a checked backup; the server must be stopped. The
    /// replaced file is kept beside it as NAME.replaced-<UTC time>.
    Restore {
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The official working-day calendar, from the shipped data (and a database's loaded years).
    #[command(subcommand)]
    Calendar(cli::calendar::CalendarCommand),
    /// The ownership registry (Art. 9): bulk CSV import, look-ups.
    #[command(subcommand)]
    Ownership(cli::ownership::OwnershipCommand),
    /// Signed disposal notices (Art. 8): fetch one as it travels, verify one offline.
    #[command(subcommand)]
    Notice(cli::notice::NoticeCommand),
    /// Decisions (Art. 8): issue one measure on a confirmed threat, revoke a notice.
    #[command(subcommand)]
    Decision(cli::decision::DecisionCommand),
    /// A unit's notices (Art. 8, 9): list, follow into a directory, acknowledge, report results.
    #[command(subcommand)]
    Notices(cli::notices::NoticesCommand),
    /// The regulator's review queue (Art. 9, 12).
    #[command(subcommand)]
    Review(cli::disposal::ReviewCommand),
    /// Compliance (Art. 12): summaries, non-compliance records, enforcement.
    #[command(subcommand)]
    Compliance(cli::disposal::ComplianceCommand),
    /// The institution's identification (Art. 7): queue, confirm, reject.
    #[command(subcommand)]
    Identify(cli::identify::IdentifyCommand),
    /// Appeals (Art. 10): measures on a resource, file, withdraw, answer, watch, list.
    #[command(subcommand, visible_alias = "appeals")]
    Appeal(cli::appeals::AppealCommand),
    /// Organisations and their contacts (Art. 5).
    #[command(subcommand)]
    Org(cli::onboard::OrgCommand),
    /// Officers and their token-signing keys.
    #[command(subcommand)]
    Officer(cli::onboard::OfficerCommand),
    /// Client certificates: a request made where the key stays, signed by the platform CA,
    /// registered, revoked.
    #[command(subcommand)]
    Pki(cli::onboard::PkiCommand),
    /// The platform's status: version, backend, calendar years, timers, open alerts.
    Status {
        #[command(flatten)]
        out: cli::output::Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Operator alerts.
    #[command(subcommand)]
    Alerts(cli::operations::AlertsCommand),
    /// Statistics (issue #15): threats, disposal and appeals over a period.
    #[command(subcommand)]
    Stats(cli::stats::StatsCommand),
    /// The country-range dataset the statistics count control servers by.
    #[command(subcommand)]
    Geo(cli::stats::GeoCommand),
    /// The monthly bulletin (2009 reporting measures Art. 19): build, list and get over mTLS,
    /// verify offline.
    #[command(subcommand)]
    Bulletin(cli::bulletin::BulletinCommand),
    /// Show who the server takes this identity for.
    Whoami(ConnectArgs),
    /// Threats: submit files of reports (Art. 6), read them as the connecting organisation
    /// sees them, re-mark a sighting.
    #[command(subcommand)]
    Threat(ThreatCommand),
    /// Follow the shared feed, one line per event, resumable with --cursor.
    Feed {
        #[command(flatten)]
        connect: ConnectArgs,
        /// Resume after this event's cursor
        #[arg(long)]
        cursor: Option<String>,
        /// Stop after this many events
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Measure the production path (figures for BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Ownership routing: longest-prefix look-ups over random mixed v4/v6 prefixes, one thread.
    Routing {
        #[arg(long, default_value_t = 1_000_000)]
        prefixes: usize,
        #[arg(long, default_value_t = 10_000_000)]
        lookups: usize,
    },
    /// Stream threats over one mTLS stream into a fresh in-process server.
    Ingest {
        #[arg(long, default_value_t = 1_000_000)]
        items: u64,
        /// A PostgreSQL server to run against (a scratch database is created and dropped)
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Notice fan-out: units each on its own mTLS SubscribeNotices stream, decisions
    /// issued at --rate; latency from IssueDecision's answer to arrival on the stream.
    Notices {
        #[arg(long, default_value_t = 1000)]
        units: usize,
        /// Decisions per second, one notice each, round-robin over the units
        #[arg(long, default_value_t = 100)]
        rate: u32,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// A PostgreSQL server to run against (a scratch database is created and dropped)
        #[arg(long)]
        database_url: Option<String>,
        /// 2: decisions on replica A, half the subscribers on replica B (PostgreSQL only)
        #[arg(long, default_value_t = 1)]
        replicas: usize,
    },
    /// Server memory under open streams: --streams feed subscribers and notice followers and
    /// one feed that is never read, while a unit ingests --items over SubmitThreatBatches;
    /// the server runs as a child `fenghuo serve`, its RSS sampled every second, and another
    /// organisation's GetThreat/SubmitThreat latency is timed throughout.
    Streams {
        #[arg(long, default_value_t = 2000)]
        streams: usize,
        /// How many of the streams are feed subscribers (the rest follow notices)
        #[arg(long, default_value_t = 200)]
        feeds: usize,
        #[arg(long, default_value_t = 100)]
        per_connection: usize,
        #[arg(long, default_value_t = 1_000_000)]
        items: u64,
        /// Items per SubmitThreatBatch message
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// The server's [streams] feed_page [default: the server's default]
        #[arg(long)]
        feed_page: Option<u32>,
        /// A PostgreSQL server to run against (a scratch database is created and dropped)
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Insert --count open timers, a fraction of them due, then time finding and firing the
    /// due ones with the scheduler (one replica, default batch).
    Timers {
        #[arg(long, default_value_t = 1_000_000)]
        count: usize,
        /// Fraction of the timers already due
        #[arg(long, default_value_t = 0.01)]
        due_fraction: f64,
        /// sqlite://… or postgres://… [default: a fresh SQLite file in the temp directory]
        #[arg(long)]
        database_url: Option<String>,
    },
    /// TAXII 2.1: POST envelopes of STIX objects to the submissions collection of a fresh
    /// in-process server over one HTTPS/1.1 connection, then read the feed back in pages of 1,000;
    /// then the same with OASIS medallion and EclecticIQ OpenTAXII when installed
    Taxii {
        #[arg(long, default_value_t = 20_000)]
        objects: usize,
        /// Objects per envelope
        #[arg(long, default_value_t = 500)]
        envelope: usize,
        /// A PostgreSQL server to run against (a scratch database is created and dropped)
        #[arg(long)]
        database_url: Option<String>,
        /// A Python with OASIS medallion and/or EclecticIQ OpenTAXII installed, run beside
        /// fenghuo on the same envelopes (scripts/taxii/compare-requirements.txt)
        /// [default: .venv/bin/python if it exists]
        #[arg(long)]
        python: Option<std::path::PathBuf>,
        /// Measure medallion's and OpenTAXII's paged reads on a second instance holding only
        /// the first envelopes up to this many objects (they read back superlinearly)
        #[arg(long)]
        compare_read_max: Option<usize>,
        /// Run fenghuo alone
        #[arg(long)]
        no_compare: bool,
        /// GETs of objects/{id}/ timed after the paged read, on ids spread over the collection
        #[arg(long, default_value_t = 200)]
        by_id: usize,
    },
    /// Statistics (issue #15): --threats items through the real intake over --days days, then
    /// each statistics query's p50/p99 over mTLS, the process's RSS, and the intake's
    /// throughput with and without the statistics counters
    Stats {
        #[arg(long, default_value_t = 1_000_000)]
        threats: u64,
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Items of each arm of the with/without-counters comparison
        #[arg(long, default_value_t = 200_000)]
        compare: u64,
        /// Calls per query
        #[arg(long, default_value_t = 50)]
        calls: usize,
        /// A PostgreSQL server to run against (a scratch database is created and dropped)
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The storage ceiling for intake: bare multi-row inserts of sighting-shaped rows
    /// (primary key, a unique (submission_id, reporter) index, ~300-byte body) in
    /// transactions of 2,048 rows with the server's durability settings, no other work
    Limits {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        /// sqlite://… or postgres://… [default: a fresh SQLite file in the temp directory]
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Args, Clone)]
pub(crate) struct ServerArgs {
    /// Address to listen on [default: 127.0.0.1:50051]
    #[arg(long, env = "FENGHUO_LISTEN")]
    listen: Option<String>,
    /// TOML configuration file
    #[arg(long, env = "FENGHUO_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory: SQLite database and development PKI [default: ./fenghuo-data]
    #[arg(long, env = "FENGHUO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite://… or postgres://… [default: SQLite in the data directory]
    #[arg(long, env = "FENGHUO_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Deadline-policy TOML laid over the shipped one (per-province overrides, Art. 14)
    #[arg(long, env = "FENGHUO_POLICY_FILE")]
    policy_file: Option<PathBuf>,
    /// Also serve grpc.health.v1 alone, plain HTTP/2 without client certificates, here
    /// (for load balancers) [default: not served]
    #[arg(long, env = "FENGHUO_HEALTH_LISTEN")]
    health_listen: Option<String>,
    /// Also serve Prometheus metrics (GET /metrics, plain HTTP, no client certificate) here;
    /// bind it to loopback or a management network [default: not served]
    #[arg(long, env = "FENGHUO_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Serve TAXII 2.1 over HTTPS on this address (the same certificate and client-certificate
    /// check as gRPC), e.g. 0.0.0.0:9443 [default: not served]
    #[arg(long, env = "FENGHUO_TAXII_LISTEN")]
    taxii_listen: Option<String>,
    /// Serve the web console over HTTPS on this address (the same certificate and
    /// client-certificate check as gRPC; the browser presents the organisation's
    /// certificate, e.g. the dev PKI's client.p12), e.g. 127.0.0.1:8443 [default: not served]
    #[arg(long, env = "FENGHUO_CONSOLE_LISTEN")]
    console_listen: Option<String>,
    /// Export traces over OTLP/gRPC to this collector, e.g. http://127.0.0.1:4317
    /// [default: not exported]
    #[arg(long, env = "FENGHUO_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
}

impl ServerArgs {
    pub(crate) fn settings(&self) -> anyhow::Result<Settings> {
        Settings::load(
            self.config.as_deref(),
            Overrides {
                listen: self.listen.clone(),
                data_dir: self.data_dir.clone(),
                database_url: self.database_url.clone(),
                policy_file: self.policy_file.clone(),
                health_listen: self.health_listen.clone(),
                metrics_listen: self.metrics_listen.clone(),
                taxii_listen: self.taxii_listen.clone(),
                console_listen: self.console_listen.clone(),
                otlp_endpoint: self.otlp_endpoint.clone(),
            },
        )
    }
}

#[derive(Subcommand)]
pub(crate) enum ThreatCommand {
    /// One threat with the sightings visible to you
    Get {
        id: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Threats matching an indicator (IP, domain, URL, e-mail, phone, SHA-256)
    Search {
        indicator: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Stream files of reports (CSV or JSON Lines) over SubmitThreatStream; a re-run sends
    /// only the lines not yet acknowledged. Exit 1 when some line was refused.
    Submit(cli::threat::SubmitArgs),
    /// The sightings visible to you as one STIX 2.1 bundle (ExportStix; docs/stix.md)
    Export(cli::threat::ExportArgs),
    /// The columns a first report of an Art. 2 category needs, and one row the server accepts
    Template(cli::threat::TemplateArgs),
    /// Re-mark one of your organisation's sightings
    Tlp(cli::threat::TlpArgs),
    /// Your organisation's stored STIX import defaults, used by its TAXII POSTs (docs/stix.md)
    #[command(subcommand)]
    StixDefaults(cli::threat::StixDefaultsCommand),
    /// The benchmark's CSV of --lines rows on stdout (the `bench ingest` mix)
    #[command(hide = true)]
    Generate {
        #[arg(long, default_value_t = 1_000_000)]
        lines: u64,
    },
}

#[derive(Args)]
pub(crate) struct BootstrapArgs {
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// The organisation's id, as its certificate names it (SAN URI urn:fenghuo:org:<id>)
    #[arg(long)]
    pub(crate) org: String,
    #[arg(long)]
    pub(crate) name: String,
    /// national_regulator or platform_operator
    #[arg(long)]
    pub(crate) role: String,
    /// "national", or a GB/T 2260 province code (a platform operator's seat)
    #[arg(long, default_value = "national")]
    pub(crate) province: String,
    /// The administrator's client certificate (PEM), issued by the configured CA
    #[arg(long)]
    pub(crate) cert: PathBuf,
    /// The first officer, who may take decisions with a token signed by --officer-key
    #[arg(long, requires = "officer_key")]
    pub(crate) officer: Option<String>,
    /// The organisation's Ed25519 token-signing public key (PEM; `fenghuo token keygen`)
    #[arg(long, requires = "officer")]
    pub(crate) officer_key: Option<PathBuf>,
    /// The key id tokens name in their `kid` header [default: <org>-1]
    #[arg(long)]
    pub(crate) key_id: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Sign an officer token: with the dev PKI's key of --org (pki/clients/<org>/officer-token.key),
    /// or with --key, --key-id and --cert for an organisation's own key and certificate.
    Issue {
        #[arg(long)]
        org: String,
        #[arg(long)]
        officer: String,
        /// Lifetime in seconds (at most 900)
        #[arg(long, default_value_t = 900)]
        ttl: i64,
        #[arg(long, env = "FENGHUO_DATA_DIR", default_value = fenghuo::config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// The organisation's Ed25519 private key (PEM) instead of the dev PKI's
        #[arg(long, requires_all = ["key_id", "cert"])]
        key: Option<PathBuf>,
        /// The key id registered for --key
        #[arg(long, requires = "key")]
        key_id: Option<String>,
        /// The client certificate the token is bound to (cnf.x5t#S256)
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
    },
    /// Make an Ed25519 token-signing key pair: DIR/officer-token.key (mode 0600) and
    /// DIR/officer-token.pub, the public half to register.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Recompute the whole chain; exit 1 if any record was altered or removed.
    Verify(ServerArgs),
}
