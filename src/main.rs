//! `fenghuo`: the server and the operator's command line.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use fenghuo::app::Application;
use fenghuo::config::{Overrides, Settings};
use fenghuo::domain::clock::SystemClock;

/// glibc's allocator was a fifth of intake time; mimalloc handles the many small,
/// short-lived allocations of the gRPC and SQL paths better.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;

use cli::ConnectArgs;

#[derive(Parser)]
#[command(
    name = "fenghuo",
    version,
    about = "Public-internet threat monitoring and disposal platform (MIIT Measures 2017)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
enum BenchCommand {
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
enum ThreatCommand {
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
struct BootstrapArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The organisation's id, as its certificate names it (SAN URI urn:fenghuo:org:<id>)
    #[arg(long)]
    org: String,
    #[arg(long)]
    name: String,
    /// national_regulator or platform_operator
    #[arg(long)]
    role: String,
    /// "national", or a GB/T 2260 province code (a platform operator's seat)
    #[arg(long, default_value = "national")]
    province: String,
    /// The administrator's client certificate (PEM), issued by the configured CA
    #[arg(long)]
    cert: PathBuf,
    /// The first officer, who may take decisions with a token signed by --officer-key
    #[arg(long, requires = "officer_key")]
    officer: Option<String>,
    /// The organisation's Ed25519 token-signing public key (PEM; `fenghuo token keygen`)
    #[arg(long, requires = "officer")]
    officer_key: Option<PathBuf>,
    /// The key id tokens name in their `kid` header [default: <org>-1]
    #[arg(long)]
    key_id: Option<String>,
}

#[derive(Subcommand)]
enum TokenCommand {
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
enum AuditCommand {
    /// Recompute the whole chain; exit 1 if any record was altered or removed.
    Verify(ServerArgs),
}

fn threat_line(t: &fenghuo_client::pb::Threat) -> String {
    let status = fenghuo_client::pb::ThreatStatus::try_from(t.status)
        .map(|s| s.as_str_name())
        .unwrap_or("?");
    format!(
        "{} {} {} sightings={} {}",
        t.id, t.dedup_key, status, t.sighting_count, t.indicator
    )
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let cli = Cli::parse();
    // Only `serve` exports traces; a bad setting is reported by `serve` itself below.
    let otlp = match &cli.command {
        Command::Serve(args) => args.settings().ok().and_then(|s| s.otlp_endpoint),
        _ => None,
    };
    let (exporter, otlp_layer) = match otlp.as_deref().map(fenghuo::metrics::otlp::Tracing::start) {
        Some(Ok((exporter, layer))) => (Some(exporter), Some(layer)),
        Some(Err(e)) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::EnvFilter::try_from_env("FENGHUO_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colour for a person at a terminal, plain text for a log file or a collector.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(otlp_layer)
        .init();
    let result = run(cli).await;
    if let Some(exporter) = exporter {
        exporter.shutdown();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            match e.downcast_ref::<tonic::Status>() {
                Some(status) => eprintln!("{}", cli::output::describe_status(status)),
                None => eprintln!("error: {e:#}"),
            }
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let settings = args.settings()?;
            let app = Application::build(settings.clone(), Arc::new(SystemClock)).await?;
            if matches!(settings.tls, fenghuo::config::TlsSource::Development) {
                let pki = fenghuo::pki::DevPki::new(&settings.data_dir);
                eprintln!(
                    "fenghuo listening on {} (mTLS)\n  development CA:      {}\n  demo client certs:  {}/<org-id>/client.crt, client.key\n  demo organisations: {}",
                    app.local_addr(),
                    pki.ca_cert().display(),
                    pki.dir.join("clients").display(),
                    fenghuo::pki::DEMO_ORGANISATIONS
                        .iter()
                        .map(|o| o.id)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            if let Some(taxii) = app.taxii_addr() {
                eprintln!(
                    "fenghuo TAXII 2.1 listening on {taxii} (HTTPS, mTLS): https://{taxii}/taxii2/"
                );
            }
            if let Some(console) = app.console_addr() {
                eprintln!(
                    "fenghuo console listening on {console} (HTTPS, mTLS): https://localhost:{}/",
                    console.port()
                );
            }
            app.run_until_stopped().await?;
        }
        Command::Bootstrap(args) => cli::bootstrap(args).await?,
        Command::Token(TokenCommand::Issue {
            org,
            officer,
            ttl,
            data_dir,
            key,
            key_id,
            cert,
        }) => {
            if !(1..=fenghuo::auth::token::MAX_LIFETIME_SECS).contains(&ttl) {
                anyhow::bail!("--ttl must be 1 to 900 seconds");
            }
            let now = chrono::Utc::now();
            let token = match (key, key_id, cert) {
                (Some(key), Some(kid), Some(cert)) => {
                    cli::own_officer_token(&key, &kid, &cert, &org, &officer, now, ttl)?
                }
                _ => {
                    let pki = fenghuo::pki::DevPki::new(&data_dir);
                    fenghuo::seed::demo_officer_token(&pki, &org, &officer, now, ttl)?
                }
            };
            println!("{token}");
        }
        Command::Token(TokenCommand::Keygen { out }) => cli::token_keygen(&out)?,
        Command::Whoami(connect) => {
            let me = connect.client().await?.who_am_i().await?;
            let org = me.organisation.unwrap_or_default();
            let roles: Vec<String> = org
                .roles
                .iter()
                .map(|r| {
                    fenghuo_client::pb::Role::try_from(*r)
                        .map(|r| r.as_str_name().to_owned())
                        .unwrap_or_default()
                })
                .collect();
            println!(
                "{} {} province={} roles={}",
                org.id,
                org.name,
                org.province,
                roles.join(",")
            );
            println!("certificate {}", me.certificate_fingerprint);
            if !me.officer.is_empty() {
                println!("officer {}", me.officer);
            }
        }
        Command::Threat(ThreatCommand::Get { id, connect }) => {
            let t = connect.client().await?.threat(&id).await?;
            println!("{}", threat_line(&t));
            for s in &t.sightings {
                let tlp = s.report.as_ref().map(|r| r.tlp).unwrap_or_default();
                let tlp = fenghuo_client::pb::Tlp::try_from(tlp)
                    .map(|t| t.as_str_name())
                    .unwrap_or("?");
                println!(
                    "  sighting {} by {} {}",
                    s.id, s.reporter_organisation_id, tlp
                );
            }
        }
        Command::Threat(ThreatCommand::Search { indicator, connect }) => {
            let found = connect.client().await?.search(&indicator).await?;
            if found.is_empty() {
                eprintln!("no threats match {indicator} (among those visible to you)");
            }
            for t in found {
                println!("{}", threat_line(&t));
            }
        }
        Command::Threat(ThreatCommand::Submit(args)) => return cli::threat::submit(args).await,
        Command::Threat(ThreatCommand::Export(args)) => return cli::threat::export(&args).await,
        Command::Threat(ThreatCommand::Template(args)) => cli::threat::template(&args)?,
        Command::Threat(ThreatCommand::Tlp(args)) => cli::threat::tlp(&args).await?,
        Command::Threat(ThreatCommand::StixDefaults(command)) => {
            cli::threat::stix_defaults(&command).await?
        }
        Command::Threat(ThreatCommand::Generate { lines }) => cli::threat::generate(lines)?,
        Command::Feed {
            connect,
            cursor,
            limit,
        } => {
            use fenghuo_client::pb::feed_event::Event;
            use tokio_stream::StreamExt;
            let mut feed = connect.client().await?.feed(cursor.as_deref()).await?;
            eprintln!(
                "following the feed {}; one line per event as it commits, nothing while nothing happens (Ctrl-C to stop)",
                match &cursor {
                    Some(c) => format!("after cursor {c}"),
                    None => "from the oldest retained event".into(),
                }
            );
            let mut n = 0;
            while let Some(event) = feed.next().await {
                let e = event?;
                let what = match &e.event {
                    Some(Event::NewThreat(t)) => format!("new_threat {}", t.indicator),
                    Some(Event::NewSighting(s)) => {
                        format!("new_sighting {} by {}", s.id, s.reporter_organisation_id)
                    }
                    Some(Event::Identified(i)) => format!("identified {}", i.outcome),
                    Some(Event::TlpChanged(c)) => {
                        format!("tlp_changed {} {}->{}", c.sighting_id, c.old_tlp, c.new_tlp)
                    }
                    Some(Event::Heartbeat(_)) => "heartbeat".into(),
                    None => "unknown".into(),
                };
                println!("{} {} {}", e.cursor, e.threat_id, what);
                n += 1;
                if limit.is_some_and(|l| n >= l) {
                    break;
                }
            }
        }
        Command::Bench(BenchCommand::Routing { prefixes, lookups }) => {
            let r = fenghuo::domain::routing::lookup_benchmark(prefixes, lookups, 0x5eed);
            println!(
                "routing: {:.0} look-ups/s on one thread ({} prefixes kept of {prefixes}, {lookups} look-ups, {} hits, table built in {:.2} s; commit {})",
                r.lookups_per_sec,
                r.prefixes,
                r.hits,
                r.build_secs,
                fenghuo::bench::COMMIT
            );
        }
        Command::Bench(BenchCommand::Ingest {
            items,
            database_url,
        }) => {
            println!(
                "{}",
                fenghuo::bench::ingest(items, database_url.as_deref()).await?
            );
        }
        Command::Bench(BenchCommand::Taxii {
            objects,
            envelope,
            database_url,
            python,
            compare_read_max,
            no_compare,
            by_id,
        }) => {
            println!(
                "{}",
                fenghuo::bench::taxii(fenghuo::bench::TaxiiBench {
                    objects,
                    envelope,
                    database_url,
                    compare: fenghuo::bench::CompareWith {
                        python,
                        read_max: compare_read_max,
                        skip: no_compare,
                    },
                    by_id,
                })
                .await?
            );
        }
        Command::Bench(BenchCommand::Streams {
            streams,
            feeds,
            per_connection,
            items,
            batch,
            feed_page,
            database_url,
        }) => {
            let line = fenghuo::bench::streams(fenghuo::bench::StreamsBench {
                streams,
                feeds,
                per_connection,
                items,
                batch,
                feed_page,
                database_url,
            })
            .await?;
            println!("{line}");
        }
        Command::Bench(BenchCommand::Notices {
            units,
            rate,
            seconds,
            database_url,
            replicas,
        }) => {
            cli::bench::notices(fenghuo::bench::NoticeBench {
                units,
                rate,
                seconds,
                database_url,
                replicas,
            })
            .await?
        }
        Command::Backup { to, server } => {
            let settings = server.settings()?;
            let store = fenghuo::store::Store::connect(settings.database_url.expose()).await?;
            let report = fenghuo::store::backup::backup(&store, &to).await;
            store.close().await;
            println!("backup written to {}: {}", to.display(), report?);
        }
        Command::Restore { from, server } => {
            let settings = server.settings()?;
            let database = fenghuo::store::backup::sqlite_path(settings.database_url.expose())?;
            std::fs::create_dir_all(&settings.data_dir)?;
            // The server's own lock: a restore under a running server is refused.
            let _lock = fenghuo::app::lock_data_dir(&settings.data_dir)?;
            let report = fenghuo::store::backup::restore(&from, &database).await?;
            println!(
                "restored {} into {}: {report}",
                from.display(),
                database.display()
            );
        }
        Command::Audit(AuditCommand::Verify(args)) => {
            let settings = args.settings()?;
            let store = fenghuo::store::Store::connect(settings.database_url.expose()).await?;
            let report = fenghuo::store::audit::verify_chain(&store).await?;
            match report.problem {
                None => println!("audit chain intact: {} records", report.records_checked),
                Some((seq, problem)) => {
                    println!(
                        "audit chain BROKEN at record {seq}: {problem} ({} records verified before it)",
                        report.records_checked
                    );
                    return Ok(std::process::ExitCode::from(1));
                }
            }
        }
        Command::Calendar(command) => command.run().await?,
        Command::Ownership(command) => command.run().await?,
        Command::Notice(command) => command.run().await?,
        Command::Decision(command) => command.run().await?,
        Command::Identify(command) => command.run().await?,
        Command::Status { out, connect } => cli::operations::status(out, connect).await?,
        Command::Alerts(command) => command.run().await?,
        Command::Stats(command) => command.run().await?,
        Command::Geo(command) => command.run().await?,
        Command::Bulletin(command) => command.run().await?,
        Command::Org(command) => command.run().await?,
        Command::Officer(command) => command.run().await?,
        Command::Pki(command) => command.run().await?,
        Command::Appeal(command) => command.run().await?,
        Command::Notices(command) => command.run().await?,
        Command::Review(command) => command.run().await?,
        Command::Compliance(command) => command.run().await?,
        Command::Bench(BenchCommand::Timers {
            count,
            due_fraction,
            database_url,
        }) => cli::bench::timers(count, due_fraction, database_url).await?,
        Command::Bench(BenchCommand::Stats {
            threats,
            days,
            compare,
            calls,
            database_url,
        }) => {
            println!(
                "{}",
                fenghuo::bench::stats::stats(fenghuo::bench::stats::StatsBench {
                    threats,
                    days,
                    compare,
                    calls,
                    database_url,
                })
                .await?
            );
        }
        Command::Bench(BenchCommand::Limits { rows, database_url }) => {
            cli::bench::limits(rows, database_url).await?
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
