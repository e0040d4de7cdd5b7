//! [`Application::build`]: storage, PKI, the timers and every listener, in start-up order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use super::{Application, SERVICE_NAMES, install_crypto_provider, lock_data_dir, timer_handlers};
use crate::api::streams::OpenStreams;
use crate::api::{
    audit::AuditApi, calendar::CalendarApi, registry::RegistryApi, threat::ThreatApi,
};
use crate::auth::layer::AuthLayer;
use crate::auth::monitor::AccessMonitor;
use crate::config::{Settings, TlsSource};
use crate::domain::clock::SharedClock;
use crate::intake::IntakeQueue;
use crate::pb;
use crate::pki::DevPki;
use crate::store::Store;
use crate::timers::{POLL_INTERVAL, Scheduler, TimerHandlers};

/// The CA, server certificate and key in PEM.
struct TlsMaterial {
    ca: String,
    cert: String,
    key: String,
}

impl Application {
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Application> {
        Self::build_with_timers(settings, clock, TimerHandlers::new()).await
    }

    /// [`Application::build`] with extra timer handlers (tests register theirs here).
    pub async fn build_with_timers(
        settings: Settings,
        clock: SharedClock,
        extra_handlers: TimerHandlers,
    ) -> anyhow::Result<Application> {
        install_crypto_provider();
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
        let lock = if settings.is_sqlite() {
            Some(lock_data_dir(&settings.data_dir)?)
        } else {
            None
        };

        let dev_pki =
            matches!(settings.tls, TlsSource::Development).then(|| DevPki::new(&settings.data_dir));
        let tls = match &settings.tls {
            TlsSource::Development => {
                let pki = dev_pki.as_ref().expect("set above");
                if pki.ensure()? {
                    tracing::info!(dir = %pki.dir.display(), "created the development PKI");
                }
                read_tls(pki.ca_cert(), pki.server_cert(), pki.server_key())?
            }
            TlsSource::Files {
                ca_cert,
                server_cert,
                server_key,
            } => read_tls(ca_cert.clone(), server_cert.clone(), server_key.clone())?,
        };

        let store = Store::connect_with(
            settings.database_url.expose(),
            crate::store::StoreOptions {
                sqlite_cache_mib: settings.sqlite_cache_mib,
            },
        )
        .await?;
        // Before serving: TAXII's by-id routes find only indexed sightings. The index is kept
        // once a server serving TAXII has started on this database (its cost, BENCHMARKS.md).
        if settings.taxii_listen.is_some()
            && crate::store::taxii::enable_object_index(&store).await?
        {
            tracing::info!("TAXII object-id index turned on for this database");
        }
        let indexed = crate::store::taxii::backfill_object_ids(&store)
            .await
            .context("indexing the STIX ids of the sightings stored before migration 0021")?;
        if indexed > 0 {
            tracing::info!(indexed, "indexed the STIX ids of earlier sightings");
        }
        if let Some(pki) = &dev_pki {
            let seeded = crate::seed::seed_demo_organisations(&store, pki, clock.now()).await?;
            if seeded > 0 {
                tracing::info!(seeded, "seeded the demo organisations");
            }
        }

        let (shutdown, shutdown_rx) = watch::channel(false);
        let monitor = AccessMonitor::start(store.clone(), shutdown_rx.clone()).await?;
        let policy = Arc::new(settings.policy.clone());

        // Every replica runs the scheduler; the first step fires what fell due while down.
        // The platform's own handlers, by kind, before the scheduler starts.
        let handlers = timer_handlers(&store).merge(extra_handlers);
        let timers = Arc::new(
            Scheduler::new(store.clone(), clock.clone(), handlers.clone())
                .with_daily(crate::timers::calendar::CoverageCheck)
                .with_daily(crate::timers::StatisticsRollUp)
                .with_daily(crate::timers::RetentionSweep {
                    retention_days: settings.retention_days,
                })
                .with_daily_if(settings.bulletin_publisher.clone().map(|publisher| {
                    crate::bulletin::check::BulletinCheck {
                        publisher,
                        keyring: Arc::new(crate::pki::keyring::SigningKeyring::new(
                            settings.notice_signing_dir.clone(),
                        )),
                        font_dirs: settings.bulletin_font_dirs.clone(),
                        fonts: std::sync::OnceLock::new(),
                    }
                })),
        );
        // At start-up, before serving: the calendar's coverage warning reaches the log now.
        timers.run_daily().await;
        let (scheduler, timers_caught_up) =
            timers.clone().spawn(shutdown_rx.clone(), POLL_INTERVAL);
        let statistics_folder = crate::statistics::spawn_folder(store.clone(), shutdown_rx.clone());

        let (health_reporter, health) = tonic_health::server::health_reporter();
        for name in SERVICE_NAMES {
            health_reporter
                .set_service_status(*name, tonic_health::ServingStatus::Serving)
                .await;
        }
        health_reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;

        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let local_addr = listener.local_addr()?;

        let acceptor = crate::listener::server_tls(&tls.ca, &tls.cert, &tls.key)?;
        let limits = settings.connections;
        let cap = crate::listener::effective_cap(
            limits.max_connections,
            crate::listener::raise_descriptor_limit(),
        );
        let ownership = Arc::new(crate::ownership::OwnershipRouter::new(store.clone()));
        let feed = crate::delivery::NoticeSignal::start_on(
            crate::delivery::FEED_CHANNEL,
            settings.database_url.expose(),
            store.dialect(),
            shutdown_rx.clone(),
        );
        let disposal = Arc::new(crate::api::disposal::DisposalApi {
            workflow: crate::disposal::Disposals {
                store: store.clone(),
                clock: clock.clone(),
                policy: policy.clone(),
                keyring: Arc::new(crate::pki::keyring::SigningKeyring::new(
                    settings.notice_signing_dir.clone(),
                )),
                signal: crate::delivery::NoticeSignal::start(
                    settings.database_url.expose(),
                    store.dialect(),
                    shutdown_rx.clone(),
                ),
                router: ownership.clone(),
            },
            notice_streams: OpenStreams::new("notice streams", settings.streams),
        });
        let auth = AuthLayer::new(store.clone(), clock.clone(), monitor, shutdown_rx.clone());
        let queue = IntakeQueue::start(store.clone(), clock.clone(), policy.clone());
        let feed_lag = crate::metrics::FeedLag::default();
        let max_message = settings.limits.max_message_bytes;
        // Every service decodes and encodes at most `[limits] max_message_bytes` a message.
        macro_rules! sized {
            ($service:expr $(,)?) => {
                $service
                    .max_decoding_message_size(max_message)
                    .max_encoding_message_size(max_message)
            };
        }
        // Each service once: gRPC serves it, and the web console calls the same handlers.
        let threat = Arc::new(ThreatApi {
            store: store.clone(),
            clock: clock.clone(),
            queue: queue.clone(),
            router: ownership.clone(),
            feed: feed.clone(),
            open_feeds: OpenStreams::new("feeds", settings.streams),
            intake_streams: OpenStreams::new("intake streams", settings.streams),
            feed_lag: feed_lag.clone(),
            feed_reads: Arc::new(tokio::sync::Semaphore::new(
                crate::api::threat::FEED_READERS,
            )),
        });
        let identification = Arc::new(crate::api::identification::IdentificationApi {
            workflow: crate::identification::Identifications {
                store: store.clone(),
                clock: clock.clone(),
                grading: settings.grading,
                feed: feed.clone(),
                policy: policy.clone(),
            },
        });
        let appeal = Arc::new(crate::api::appeal::AppealApi {
            disposal: disposal.clone(),
            watches: OpenStreams::new("appeal watches", settings.streams),
        });
        let calendar = Arc::new(CalendarApi {
            store: store.clone(),
            clock: clock.clone(),
            handlers,
        });
        let statistics = Arc::new(crate::api::statistics::StatisticsApi {
            store: store.clone(),
            clock: clock.clone(),
            max_message_bytes: max_message,
        });
        // TLS is ours (crate::listener): tonic sees connections whose handshake completed.
        let router = Server::builder()
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(limits.keepalive_timeout))
            // What a client may send before the server reads it ([limits]).
            .initial_stream_window_size(settings.limits.http2_stream_window)
            .initial_connection_window_size(settings.limits.http2_connection_window)
            // Outside authentication: refused calls are counted too.
            .layer(crate::metrics::GrpcMetricsLayer)
            .layer(auth.clone())
            .add_service(health.clone())
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(sized!(
                pb::registry_service_server::RegistryServiceServer::new(RegistryApi {
                    workflow: crate::registry::Registry {
                        store: store.clone(),
                        clock: clock.clone(),
                        ca_pem: tls.ca.clone(),
                    },
                    router: ownership.clone(),
                },)
            ))
            .add_service(sized!(pb::audit_service_server::AuditServiceServer::new(
                AuditApi {
                    store: store.clone(),
                    follows: OpenStreams::new("audit follows", settings.streams),
                },
            )))
            .add_service(
                pb::threat_service_server::ThreatServiceServer::from_arc(threat.clone())
                    .max_decoding_message_size(max_message)
                    .max_encoding_message_size(max_message),
            )
            .add_service(sized!(
                pb::identification_service_server::IdentificationServiceServer::from_arc(
                    identification.clone()
                ),
            ))
            .add_service(sized!(
                pb::disposal_service_server::DisposalServiceServer::from_arc(disposal.clone()),
            ))
            .add_service(sized!(
                pb::appeal_service_server::AppealServiceServer::from_arc(appeal.clone())
            ))
            .add_service(sized!(
                pb::operations_service_server::OperationsServiceServer::new(
                    crate::api::operations::OperationsApi {
                        store: store.clone(),
                        clock: clock.clone(),
                    },
                )
            ))
            .add_service(sized!(
                pb::calendar_service_server::CalendarServiceServer::from_arc(calendar.clone())
            ))
            .add_service(sized!(
                pb::statistics_service_server::StatisticsServiceServer::from_arc(
                    statistics.clone()
                )
            ));

        let incoming = crate::listener::incoming(listener, acceptor, limits, cap);
        let (health_server, health_addr) = match settings.health_listen {
            Some(addr) => {
                let (task, addr) = serve_plain_health(addr, health, shutdown_rx.clone()).await?;
                (Some(task), Some(addr))
            }
            None => (None, None),
        };
        let (metrics_server, metrics_addr) = match settings.metrics_listen {
            Some(addr) => {
                let (task, addr) = crate::metrics::serve(
                    addr,
                    store.clone(),
                    clock.clone(),
                    feed_lag.clone(),
                    shutdown_rx.clone(),
                )
                .await?;
                (Some(task), Some(addr))
            }
            None => (None, None),
        };
        // TAXII and the console: HTTPS/1.1 on the gRPC port's certificate and client check.
        let side_listener = || -> anyhow::Result<crate::https::Listening> {
            Ok(crate::https::Listening {
                acceptor: crate::listener::server_tls_for(
                    &tls.ca,
                    &tls.cert,
                    &tls.key,
                    &[b"http/1.1"],
                )?,
                limits,
                cap,
            })
        };
        let (taxii_server, taxii_addr) = match settings.taxii_listen {
            Some(addr) => {
                let listening = side_listener()?;
                let state = |local_addr| crate::taxii::Taxii {
                    store: store.clone(),
                    clock: clock.clone(),
                    queue: queue.clone(),
                    router: ownership.clone(),
                    auth: auth.clone(),
                    local_addr,
                };
                let (task, addr) =
                    crate::taxii::serve(addr, listening, state, shutdown_rx.clone()).await?;
                (Some(task), Some(addr))
            }
            None => (None, None),
        };
        let (console_server, console_addr) = match settings.console_listen {
            Some(addr) => {
                let listening = side_listener()?;
                let console = Arc::new(crate::console::Console {
                    auth: auth.clone(),
                    clock: clock.clone(),
                    threat,
                    identification,
                    disposal: disposal.clone(),
                    appeal,
                    calendar,
                    statistics,
                });
                let (task, addr) = crate::https::serve(
                    "web console",
                    addr,
                    listening,
                    |_| crate::console::router(console),
                    shutdown_rx.clone(),
                )
                .await?;
                (Some(task), Some(addr))
            }
            None => (None, None),
        };
        let mut stop = shutdown_rx;
        let server = tokio::spawn(async move {
            let signal = async move {
                let _ = stop.wait_for(|s| *s).await;
                health_reporter.set_not_serving::<pb::registry_service_server::RegistryServiceServer<RegistryApi>>().await;
                health_reporter
                    .set_service_status("", tonic_health::ServingStatus::NotServing)
                    .await;
            };
            router.serve_with_incoming_shutdown(incoming, signal).await
        });
        tracing::info!(%local_addr, "fenghuo is serving");
        Ok(Application {
            local_addr,
            health_addr,
            health_server,
            metrics_addr,
            metrics_server,
            taxii_addr,
            taxii_server,
            console_addr,
            console_server,
            store,
            shutdown,
            server,
            timers,
            scheduler,
            statistics_folder,
            timers_caught_up,
            policy,
            _lock: lock,
        })
    }
}

/// `grpc.health.v1` and nothing else, in plain HTTP/2 with no client certificate: a load
/// balancer's probe learns only whether this replica serves, and reaches no RPC of the platform.
async fn serve_plain_health(
    addr: SocketAddr,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(JoinHandle<Result<(), tonic::transport::Error>>, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the health port {addr}"))?;
    let bound = listener.local_addr()?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let task = tokio::spawn(async move {
        Server::builder()
            .add_service(health)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%bound, "grpc.health.v1 (plain, no client certificate) is serving");
    Ok((task, bound))
}

fn read_tls(ca: PathBuf, cert: PathBuf, key: PathBuf) -> anyhow::Result<TlsMaterial> {
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
    };
    Ok(TlsMaterial {
        ca: read(&ca)?,
        cert: read(&cert)?,
        key: read(&key)?,
    })
}
