//! `fenghuo`: the server and the operator's command line.

use std::sync::Arc;

use clap::Parser;

use fenghuo::app::Application;
use fenghuo::domain::clock::SystemClock;

/// glibc's allocator was a fifth of intake time; mimalloc handles the many small,
/// short-lived allocations of the gRPC and SQL paths better.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_purge_delay` (its place in `mi_option_e`; the sys crate names
/// no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the OS after 100 ms instead of mimalloc's 1 s: under a full
/// intake the second's worth of freed buffers was about 60 MiB of the server's RSS
/// (BENCHMARKS.md, #15), for no measurable throughput.
fn return_freed_memory_sooner() {
    // SAFETY: sets a process-wide integer option; mimalloc reads it at each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) }
}

mod cli;
mod cli_args;

use cli_args::{
    AuditCommand, BenchCommand, BootstrapArgs, Cli, Command, ThreatCommand, TokenCommand,
};

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
    return_freed_memory_sooner();
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

#[cfg(test)]
mod tests {
    /// The option's place in mimalloc's enum is hard-coded: its default (1,000 ms, which no
    /// neighbouring option has) shows it is still the purge delay.
    #[test]
    fn the_purge_delay_option_is_the_one_mimalloc_defaults_to_a_second() {
        // SAFETY: reads a process-wide integer option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(delay, 1000, "option 15 is not mimalloc's purge delay");
        }
    }
}
