//! The test harness: a real server on loopback, real mTLS, real SQLite files
//! and a real PostgreSQL database per test.

use std::path::PathBuf;
use std::sync::Arc;

use fenghuo::app::Application;
use fenghuo::config::Settings;
use fenghuo::domain::clock::{Clock, ManualClock};
use fenghuo::pki::DevPki;
use fenghuo::pki::dev::DEMO_OFFICER;
use fenghuo::timers::TimerHandlers;
use fenghuo_client::{Client, ClientPki, pb};
use sqlx::Connection;

/// A complete contacts register (Art. 5): one contact in each required role.
pub fn full_contacts(org: &str) -> Vec<pb::Contact> {
    use pb::ContactRole as R;
    [
        (R::LeaderInCharge, "Deputy general manager"),
        (R::ResponsibleDepartment, "Network security department"),
        (R::ResponsiblePerson, "Head of security operations"),
        (R::DayToDayContact, "Duty desk"),
    ]
    .into_iter()
    .map(|(role, who)| pb::Contact {
        role: role as i32,
        department: "Network security department".into(),
        person: format!("{who} of {org}"),
        phone: "+8610 5555 0100".into(),
        email: format!("security@{org}.example"),
    })
    .collect()
}

/// `app`'s clock as an Asia/Shanghai date.
pub fn today(app: &TestApp) -> pb::Date {
    use chrono::Datelike;
    let d = fenghuo::domain::calendar::local_date(app.clock.now());
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            }
        )*
    };
}

pub struct TestApp {
    /// `https://127.0.0.1:<port>`
    pub endpoint: String,
    pub clock: Arc<ManualClock>,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// The extra timer handlers this app (and its replicas and restarts) runs with.
    handlers: TimerHandlers,
    /// Changes to the development settings, for this app, its replicas and restarts.
    adjust: Adjust,
    app: Option<Application>,
    _pg: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

/// A change to [`Settings::development`] before the server starts.
pub type Adjust = Arc<dyn Fn(&mut Settings) + Send + Sync>;

/// Server warnings and errors (an INTERNAL's cause, say) go to the test's captured output,
/// which nextest prints when the test fails; `FENGHUO_TEST_LOG` sets another filter.
fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = std::env::var("FENGHUO_TEST_LOG").unwrap_or_else(|_| "warn".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    });
}

/// Starts the server on a fresh database. `None` means PostgreSQL is not
/// reachable and `CI` is unset: the caller skips. With `CI=true` it panics.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, TimerHandlers::new()).await
}

/// [`spawn_app`] with test timer handlers registered before the scheduler starts.
pub async fn spawn_app_with(backend: Backend, handlers: TimerHandlers) -> Option<TestApp> {
    spawn_app_configured(backend, handlers, Arc::new(|_| {})).await
}

/// [`spawn_app_with`] on development settings changed by `adjust`.
pub async fn spawn_app_configured(
    backend: Backend,
    handlers: TimerHandlers,
    adjust: Adjust,
) -> Option<TestApp> {
    init_test_log();
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let (database_url, pg) = match backend {
        Backend::Sqlite => (
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("fenghuo.db").display()
            ),
            None,
        ),
        Backend::Postgres => {
            let db = PgDatabase::create().await?;
            (db.url.clone(), Some(db))
        }
    };
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = build(
        &data_dir,
        &database_url,
        clock.clone(),
        handlers.clone(),
        &adjust,
    )
    .await;
    Some(TestApp {
        endpoint: format!("https://127.0.0.1:{}", app.local_addr().port()),
        clock,
        data_dir,
        database_url,
        handlers,
        adjust,
        app: Some(app),
        _pg: pg,
        _dir: dir,
    })
}

impl TestApp {
    pub fn pki(&self) -> DevPki {
        DevPki::new(&self.data_dir)
    }

    pub fn client_pki(&self, org: &str) -> ClientPki {
        ClientPki::from_dir(self.pki().client_dir(org)).expect("client pki")
    }

    /// A connection with `org`'s certificate and no officer.
    pub async fn client(&self, org: &str) -> Client {
        Client::connect(&self.endpoint, &self.client_pki(org))
            .await
            .expect("connect")
    }

    /// A bare channel as `org` that grants each stream 64 KiB and never more until it is
    /// read: a client that stops reading soon makes the server wait.
    pub async fn narrow_channel(&self, org: &str) -> tonic::transport::Channel {
        use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
        fenghuo_client::install_crypto_provider();
        let pki = self.client_pki(org);
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&pki.ca_pem))
            .identity(Identity::from_pem(&pki.cert_pem, &pki.key_pem));
        Endpoint::from_shared(self.endpoint.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .initial_stream_window_size(65_535)
            .connect()
            .await
            .unwrap()
    }

    /// A certificate for `org` from the platform CA that was never registered.
    pub fn unregistered_pki(&self, org: &str) -> ClientPki {
        let (cert, key) = self
            .pki()
            .authority()
            .unwrap()
            .issue_client(org, "unregistered")
            .unwrap();
        ClientPki {
            ca_pem: self.client_pki(org).ca_pem,
            cert_pem: cert,
            key_pem: key,
        }
    }

    /// A TLS channel that trusts the platform CA but presents no client certificate; `None`
    /// when the server refuses it at the handshake.
    pub async fn certificate_less_channel(&self) -> Option<tonic::transport::Channel> {
        use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
        fenghuo_client::install_crypto_provider();
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(self.client_pki("miit").ca_pem));
        Endpoint::from_shared(self.endpoint.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .ok()
    }

    /// A connection with `org`'s certificate acting as its duty officer.
    pub async fn officer(&self, org: &str) -> Client {
        self.client(org)
            .await
            .with_token(&self.token(org, DEMO_OFFICER))
            .unwrap()
    }

    /// A 15-minute token signed with `org`'s development key at the manual clock's now.
    pub fn token(&self, org: &str, officer: &str) -> String {
        self.token_with(org, officer, self.clock.now(), 900)
    }

    pub fn token_with(
        &self,
        org: &str,
        officer: &str,
        at: chrono::DateTime<chrono::Utc>,
        lifetime: i64,
    ) -> String {
        let pki = self.pki();
        let key = std::fs::read_to_string(pki.token_key(org)).unwrap();
        let cert =
            fenghuo::pki::ClientCertificate::from_pem(&self.client_pki(org).cert_pem).unwrap();
        fenghuo::auth::token::sign_ed25519(
            &key,
            &fenghuo::seed::demo_kid(org),
            org,
            officer,
            &cert.thumbprint,
            at,
            lifetime,
        )
        .unwrap()
    }

    /// Registers an organisation through the API as the national regulator, with a
    /// certificate from the dev CA, a duty officer and a token key laid out like the demo ones.
    pub async fn add_organisation(&self, id: &str, role: pb::Role, province: &str, parent: &str) {
        let miit = self.client("miit").await;
        miit.registry()
            .create_organisation(pb::CreateOrganisationRequest {
                id: id.into(),
                name: format!("{id} (test)"),
                roles: vec![role as i32],
                province: province.into(),
                parent_id: parent.into(),
                contacts: full_contacts(id),
            })
            .await
            .expect("create organisation");
        self.issue_certificate(id).await;
        let (private, public) = fenghuo::pki::dev::generate_token_key().unwrap();
        let pki = self.pki();
        fenghuo::pki::dev::write_secret(&pki.token_key(id), &private).unwrap();
        // Registering officers and keys takes an officer's token: the national regulator's.
        let mut registry = self.officer("miit").await.registry();
        registry
            .register_officer(pb::RegisterOfficerRequest {
                organisation_id: id.into(),
                name: DEMO_OFFICER.into(),
                display_name: "Duty officer".into(),
            })
            .await
            .expect("register officer");
        registry
            .register_officer_key(pb::RegisterOfficerKeyRequest {
                organisation_id: id.into(),
                kid: fenghuo::seed::demo_kid(id),
                algorithm: "EdDSA".into(),
                public_key_pem: public,
            })
            .await
            .expect("register key");
    }

    /// Issues and registers a (new) client certificate for `org` in its client directory.
    pub async fn issue_certificate(&self, org: &str) -> pb::Certificate {
        // Connect before the files change: `org` may be miit itself.
        let miit = self.client("miit").await;
        let pki = self.pki();
        let (cert, key) = pki
            .authority()
            .unwrap()
            .issue_client(org, &format!("{org} client"))
            .unwrap();
        let dir = pki.client_dir(org);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("client.crt"), &cert).unwrap();
        fenghuo::pki::dev::write_secret(&dir.join("client.key"), &key).unwrap();
        std::fs::write(
            dir.join("ca.crt"),
            std::fs::read_to_string(pki.ca_cert()).unwrap(),
        )
        .unwrap();
        miit.registry()
            .register_certificate(pb::RegisterCertificateRequest {
                organisation_id: org.into(),
                certificate_pem: cert,
            })
            .await
            .expect("register certificate")
            .into_inner()
    }

    /// A second server on the same database and data directory: another replica
    /// (PostgreSQL only; SQLite locks its data directory).
    pub async fn spawn_replica(&self) -> TestApp {
        self.spawn_replica_with(self.handlers.clone()).await
    }

    /// [`TestApp::spawn_replica`] with timer handlers of its own.
    pub async fn spawn_replica_with(&self, handlers: TimerHandlers) -> TestApp {
        let app = build(
            &self.data_dir,
            &self.database_url,
            self.clock.clone(),
            handlers.clone(),
            &self.adjust,
        )
        .await;
        TestApp {
            endpoint: format!("https://127.0.0.1:{}", app.local_addr().port()),
            clock: self.clock.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            handlers,
            adjust: self.adjust.clone(),
            app: Some(app),
            _pg: None,
            _dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn application(&self) -> &Application {
        self.app.as_ref().expect("running")
    }

    /// Fires every timer due at the manual clock's now, step by step; returns how many fired.
    pub async fn drive_timers_until_idle(&self) -> usize {
        self.application()
            .timers()
            .run_until_idle()
            .await
            .expect("timers fire")
    }

    /// Stops the server only (the database stays) and returns it stopped.
    pub async fn stopped(mut self) -> StoppedApp {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("clean stop");
        }
        StoppedApp(self)
    }

    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("clean stop");
        }
    }
}

/// A test app whose server is down while its database (and manual clock) live on.
pub struct StoppedApp(TestApp);

impl StoppedApp {
    pub fn clock(&self) -> &Arc<ManualClock> {
        &self.0.clock
    }

    /// Starts a server again on the same database and data directory.
    pub async fn restart(self) -> TestApp {
        let mut t = self.0;
        let app = build(
            &t.data_dir,
            &t.database_url,
            t.clock.clone(),
            t.handlers.clone(),
            &t.adjust,
        )
        .await;
        t.endpoint = format!("https://127.0.0.1:{}", app.local_addr().port());
        t.app = Some(app);
        t
    }
}

impl StoppedApp {
    /// [`StoppedApp::restart`] listening on the port it listened on before, so that clients
    /// connected to it (their channels, their resuming streams) find it again.
    pub async fn restart_on_the_same_port(mut self) -> TestApp {
        let port: u16 = self
            .0
            .endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the endpoint names a port");
        let adjust = self.0.adjust.clone();
        self.0.adjust = Arc::new(move |settings: &mut Settings| {
            adjust(settings);
            settings.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        });
        self.restart().await
    }
}

async fn build(
    data_dir: &std::path::Path,
    database_url: &str,
    clock: Arc<ManualClock>,
    handlers: TimerHandlers,
    adjust: &Adjust,
) -> Application {
    let mut settings = Settings::development(data_dir, database_url);
    adjust(&mut settings);
    Application::build_with_timers(settings, clock, handlers)
        .await
        .expect("server starts")
}

/// A database of its own on the test PostgreSQL, dropped with the test.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// `None`: PostgreSQL is unreachable and `CI` is unset (the caller skips).
    pub async fn create() -> Option<PgDatabase> {
        let admin_url = std::env::var("FENGHUO_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) if std::env::var("CI").is_err() => {
                eprintln!(
                    "skipped: PostgreSQL unreachable at {admin_url} ({e}); CI would fail here"
                );
                return None;
            }
            Err(e) => panic!("PostgreSQL unreachable at {admin_url} with CI set: {e}"),
        };
        let name = format!("fenghuo_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(&admin_url);
        let url = format!("{base}/{name}");
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; use a thread of its own to block on the drop.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            });
        })
        .join();
    }
}

pub fn code<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> tonic::Code {
    match result {
        Ok(_) => tonic::Code::Ok,
        Err(s) => s.code(),
    }
}
