//! A production platform on its own PKI: empty at first start, entered by `fenghuo
//! bootstrap`, then onboarding through the API (the CLI runs as a process).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fenghuo::app::Application;
use fenghuo::config::{Overrides, Settings};
use fenghuo::domain::clock::SystemClock;
use fenghuo::pki::CertificateAuthority;
use fenghuo_client::{Client, ClientPki, pb};
use tonic::Code;

use crate::on_both_backends;
use crate::support::{Backend, PgDatabase};

pub(crate) fn fenghuo(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(args)
        .env_remove("FENGHUO_TOKEN")
        .env_remove("FENGHUO_CONFIG")
        .env_remove("FENGHUO_DATABASE_URL")
        .env_remove("FENGHUO_DATA_DIR")
        .output()
        .expect("runs fenghuo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A CA of the operator's own (not the dev PKI), its server certificate, and the
/// configuration file naming them.
struct ProductionPki {
    dir: PathBuf,
    ca: CertificateAuthority,
    config: PathBuf,
}

impl ProductionPki {
    fn create(dir: &Path, database_url: &str) -> ProductionPki {
        let (ca, _ca_key) = CertificateAuthority::generate("Platform CA (test)").unwrap();
        std::fs::write(dir.join("ca.crt"), &ca.cert_pem).unwrap();
        let (cert, key) = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
        std::fs::write(dir.join("server.crt"), cert).unwrap();
        std::fs::write(dir.join("server.key"), key).unwrap();
        let config = dir.join("fenghuo.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\ndatabase_url = {:?}\n\n[tls]\nca_cert = {:?}\nserver_cert = {:?}\nserver_key = {:?}\n",
                dir.join("data").display().to_string(),
                database_url,
                dir.join("ca.crt").display().to_string(),
                dir.join("server.crt").display().to_string(),
                dir.join("server.key").display().to_string(),
            ),
        )
        .unwrap();
        ProductionPki {
            dir: dir.to_path_buf(),
            ca,
            config,
        }
    }

    /// A client identity directory (ca.crt, client.crt, client.key) for `org`.
    fn client(&self, org: &str) -> PathBuf {
        let dir = self.dir.join(org);
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = self.ca.issue_client(org, &format!("{org} client")).unwrap();
        std::fs::write(dir.join("client.crt"), cert).unwrap();
        fenghuo::pki::dev::write_secret(&dir.join("client.key"), &key).unwrap();
        std::fs::write(dir.join("ca.crt"), &self.ca.cert_pem).unwrap();
        dir
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

on_both_backends!(a_server_on_its_own_pki_is_entered_by_bootstrap_then_onboards_through_the_api);

async fn a_server_on_its_own_pki_is_entered_by_bootstrap_then_onboards_through_the_api(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let pg = match backend {
        Backend::Postgres => match PgDatabase::create().await {
            Some(db) => Some(db),
            None => return,
        },
        Backend::Sqlite => None,
    };
    let database_url = match &pg {
        Some(db) => db.url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("fenghuo.db").display()
        ),
    };
    let pki = ProductionPki::create(dir.path(), &database_url);
    let config = path(&pki.config);
    let admin = pki.client("miit");
    let keys = dir.path().join("officer-keys");
    let (ok, _, err) = fenghuo(&["token", "keygen", "--out", path(&keys)]);
    assert!(ok, "{err}");

    // Refused before anything is written: a certificate of another CA, a unit's role.
    let (stranger_ca, _) = CertificateAuthority::generate("Another CA").unwrap();
    let (stranger, _) = stranger_ca.issue_client("miit", "miit").unwrap();
    std::fs::write(dir.path().join("stranger.crt"), stranger).unwrap();
    let (ok, _, err) = fenghuo(&[
        "bootstrap",
        "--config",
        config,
        "--org",
        "miit",
        "--name",
        "MIIT",
        "--role",
        "national_regulator",
        "--cert",
        path(&dir.path().join("stranger.crt")),
    ]);
    assert!(!ok);
    assert!(err.contains("not issued by the configured CA"), "{err}");
    let (ok, _, err) = fenghuo(&[
        "bootstrap",
        "--config",
        config,
        "--org",
        "miit",
        "--name",
        "MIIT",
        "--role",
        "basic_telecom",
        "--cert",
        path(&admin.join("client.crt")),
    ]);
    assert!(!ok);
    assert!(
        err.contains("national_regulator or platform_operator"),
        "{err}"
    );

    let (ok, out, err) = fenghuo(&[
        "bootstrap",
        "--config",
        config,
        "--org",
        "miit",
        "--name",
        "MIIT",
        "--role",
        "national_regulator",
        "--cert",
        path(&admin.join("client.crt")),
        "--officer",
        "chief",
        "--officer-key",
        path(&keys.join("officer-token.pub")),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("bootstrapped miit"), "{out}");
    // Once only: a second bootstrap never writes over a registry.
    let ops = pki.client("ops");
    let (ok, _, err) = fenghuo(&[
        "bootstrap",
        "--config",
        config,
        "--org",
        "ops",
        "--name",
        "Ops",
        "--role",
        "platform_operator",
        "--cert",
        path(&ops.join("client.crt")),
    ]);
    assert!(!ok);
    assert!(err.contains("already holds 1 organisation"), "{err}");

    let settings = Settings::load(Some(&pki.config), Overrides::default()).unwrap();
    assert!(matches!(
        settings.tls,
        fenghuo::config::TlsSource::Files { .. }
    ));
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .unwrap();
    let endpoint = format!("https://127.0.0.1:{}", app.local_addr().port());
    let miit = Client::connect(&endpoint, &ClientPki::from_dir(&admin).unwrap())
        .await
        .unwrap();
    let me = miit.who_am_i().await.unwrap();
    assert_eq!(me.organisation.unwrap().id, "miit");
    // No demo organisations on a production PKI.
    assert!(
        !fenghuo::pki::DevPki::new(&dir.path().join("data"))
            .ca_cert()
            .exists()
    );

    // Onboard a unit through the API and call as it.
    miit.registry()
        .create_organisation(pb::CreateOrganisationRequest {
            id: "telecom-sz".into(),
            name: "Shenzhen Telecom".into(),
            roles: vec![pb::Role::BasicTelecom as i32],
            province: "440000".into(),
            parent_id: String::new(),
            contacts: crate::support::full_contacts("telecom-sz"),
        })
        .await
        .unwrap();
    let unit_dir = pki.client("telecom-sz");
    let unit_identity = ClientPki::from_dir(&unit_dir).unwrap();
    let refused = Client::connect(&endpoint, &unit_identity)
        .await
        .unwrap()
        .who_am_i()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    miit.registry()
        .register_certificate(pb::RegisterCertificateRequest {
            organisation_id: "telecom-sz".into(),
            certificate_pem: unit_identity.cert_pem.clone(),
        })
        .await
        .unwrap();
    let unit = Client::connect(&endpoint, &unit_identity).await.unwrap();
    let me = unit.who_am_i().await.unwrap();
    assert_eq!(me.organisation.unwrap().id, "telecom-sz");

    // The bootstrapped officer takes a decision with a token from `fenghuo token issue --key`.
    let (ok, token, err) = fenghuo(&[
        "token",
        "issue",
        "--org",
        "miit",
        "--officer",
        "chief",
        "--key",
        path(&keys.join("officer-token.key")),
        "--key-id",
        "miit-1",
        "--cert",
        path(&admin.join("client.crt")),
    ]);
    assert!(ok, "{err}");
    let officer = miit.with_token(token.trim()).unwrap();
    officer
        .registry()
        .set_organisation_enabled(pb::SetOrganisationEnabledRequest {
            id: "telecom-sz".into(),
            enabled: false,
            reason: "bootstrap test".into(),
        })
        .await
        .unwrap();
    let records = miit
        .audit()
        .query_audit(pb::QueryAuditRequest {
            subject: "organisation:miit".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(records[0].action, "registry.bootstrap", "{records:?}");
    let records = miit
        .audit()
        .query_audit(pb::QueryAuditRequest {
            subject: "organisation:telecom-sz".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(records.last().unwrap().officer, "chief");
    app.stop().await.unwrap();
}
