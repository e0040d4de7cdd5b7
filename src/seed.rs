//! Seeds the demo organisations of the development PKI into the database:
//! each with its certificate, one officer and its officer-token key.

use anyhow::Context;

use crate::domain::clock::to_micros;
use crate::pki::dev::DEMO_OFFICER;
use crate::pki::{ClientCertificate, DEMO_ORGANISATIONS, DevPki};
use crate::store::Store;
use crate::store::audit::{self, Actor};
use crate::store::registry::{self, CertificateRow, OfficerKeyRow, OfficerRow, OrganisationRow};

pub fn demo_kid(org_id: &str) -> String {
    format!("dev-{org_id}")
}

/// A development officer token for `org`, signed with its dev key and bound to
/// its dev client certificate (`fenghuo token issue`, the benches).
pub fn demo_officer_token(
    pki: &DevPki,
    org: &str,
    officer: &str,
    now: chrono::DateTime<chrono::Utc>,
    lifetime_secs: i64,
) -> anyhow::Result<String> {
    let key = std::fs::read_to_string(pki.token_key(org)).with_context(|| {
        format!(
            "reading {} (run `fenghuo serve` once to create the dev PKI)",
            pki.token_key(org).display()
        )
    })?;
    let cert_path = pki.client_dir(org).join("client.crt");
    let cert_pem = std::fs::read_to_string(&cert_path)
        .with_context(|| format!("reading {}", cert_path.display()))?;
    let cert = ClientCertificate::from_pem(&cert_pem)?;
    crate::auth::token::sign_ed25519(
        &key,
        &demo_kid(org),
        org,
        officer,
        &cert.thumbprint,
        now,
        lifetime_secs,
    )
}

/// Placeholder contacts of a demo unit, one per required role (Art. 5).
fn demo_contacts(
    org: &str,
    role: crate::domain::organisation::Role,
) -> Vec<crate::domain::contacts::Contact> {
    use crate::domain::contacts::{Contact, ContactRole, keeps_register};
    if !keeps_register(&[role]) {
        return Vec::new();
    }
    ContactRole::REQUIRED
        .into_iter()
        .map(|role| Contact {
            role,
            department: "Network security department".into(),
            person: format!("{} (demo)", role.as_str()),
            phone: "+86 10 5555 0100".into(),
            email: format!("security@{org}.example"),
        })
        .collect()
}

/// Inserts what is missing; a second start changes nothing.
pub async fn seed_demo_organisations(
    store: &Store,
    pki: &DevPki,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<usize> {
    let mut seeded = 0;
    for demo in DEMO_ORGANISATIONS {
        if registry::get_organisation(store, demo.id).await?.is_some() {
            continue;
        }
        let dir = pki.client_dir(demo.id);
        let cert_pem = std::fs::read_to_string(dir.join("client.crt"))
            .with_context(|| format!("reading {}", dir.display()))?;
        let cert = ClientCertificate::from_pem(&cert_pem)?;
        let token_key = std::fs::read_to_string(pki.token_public_key(demo.id))?;
        let at = to_micros(now);
        let mut tx = store.begin().await?;
        let mut org = OrganisationRow::new(demo.id, demo.name, &[demo.role], demo.province, at);
        // Units keep the Art. 5 contacts register from the start, like any created unit.
        let contacts = demo_contacts(demo.id, demo.role);
        if !contacts.is_empty() {
            org.contacts_json = serde_json::to_string(&contacts)?;
            org.contacts_updated_at = Some(at);
        }
        match registry::insert_organisation(&mut tx, &org).await {
            Ok(()) => {}
            // Another replica seeded it at the same moment.
            Err(e) if registry::is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
        if !contacts.is_empty() {
            let change = crate::registry::organisations::creation_change(demo.id, &contacts, at);
            registry::update_contacts(&mut tx, &change).await?;
        }
        registry::insert_certificate(&mut tx, &CertificateRow::new(&cert, demo.id, &cert_pem, at))
            .await?;
        registry::insert_officer(
            &mut tx,
            &OfficerRow {
                org_id: demo.id.into(),
                name: DEMO_OFFICER.into(),
                display_name: "Duty officer (demo)".into(),
                enabled: 1,
                registered_at: at,
            },
        )
        .await?;
        registry::insert_officer_key(
            &mut tx,
            &OfficerKeyRow {
                org_id: demo.id.into(),
                kid: demo_kid(demo.id),
                algorithm: "EdDSA".into(),
                public_key_pem: token_key.trim().into(),
                registered_at: at,
                revoked_at: None,
            },
        )
        .await?;
        if demo.role.signs_documents() {
            let signing_pem = std::fs::read_to_string(pki.signing_certificate(demo.id))?;
            let signing = ClientCertificate::from_pem(&signing_pem)?;
            registry::insert_signing_key(
                &mut tx,
                &registry::SigningKeyRow {
                    key_id: crate::pki::signing::key_id(&signing.der),
                    org_id: demo.id.into(),
                    certificate_pem: signing_pem.trim().into(),
                    valid_from: to_micros(signing.not_before),
                    valid_until: to_micros(signing.not_after),
                    registered_at: at,
                    retired_at: None,
                },
            )
            .await?;
        }
        let details = serde_json::json!({"role": demo.role.as_str(), "province": demo.province, "certificate": cert.fingerprint});
        audit::append(
            &mut tx,
            store.dialect(),
            now,
            &Actor::system(),
            "registry.seed_demo",
            &format!("organisation:{}", demo.id),
            details,
        )
        .await?;
        tx.commit().await?;
        seeded += 1;
    }
    Ok(seeded)
}
