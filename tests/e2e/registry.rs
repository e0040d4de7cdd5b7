//! RegistryService: bad input is refused with the field named; scope rules hold.

use fenghuo_client::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::on_both_backends;
use crate::support::{Backend, spawn_app};

fn organisation(id: &str, role: pb::Role, province: &str) -> pb::CreateOrganisationRequest {
    pb::CreateOrganisationRequest {
        id: id.into(),
        name: format!("{id} Ltd"),
        roles: vec![role as i32],
        province: province.into(),
        contacts: crate::support::full_contacts(id),
        ..Default::default()
    }
}

/// The field a refusal names in its BadRequest details.
fn bad_field(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    let details = status
        .get_details_bad_request()
        .expect("BadRequest details");
    details.field_violations[0].field.clone()
}

#[tokio::test]
async fn bad_organisations_are_refused_naming_the_field() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let mut registry = app.client("miit").await.registry();
    let cases = [
        (organisation("X", pb::Role::BasicTelecom, "440000"), "id"),
        (
            organisation("unicom-gd", pb::Role::BasicTelecom, "guangdong"),
            "province",
        ),
        (
            organisation("unicom-gd", pb::Role::BasicTelecom, "440100"),
            "province",
        ),
        (
            organisation("unicom-gd", pb::Role::Unspecified, "440000"),
            "roles[0]",
        ),
        (
            pb::CreateOrganisationRequest {
                roles: vec![],
                ..organisation("unicom-gd", pb::Role::BasicTelecom, "440000")
            },
            "roles",
        ),
        (
            pb::CreateOrganisationRequest {
                name: " ".into(),
                ..organisation("unicom-gd", pb::Role::BasicTelecom, "440000")
            },
            "name",
        ),
        (
            organisation("ca-zj", pb::Role::ProvincialRegulator, "national"),
            "province",
        ),
        (
            pb::CreateOrganisationRequest {
                parent_id: "no-such-group".into(),
                ..organisation("unicom-gd", pb::Role::BasicTelecom, "440000")
            },
            "parent_id",
        ),
    ];
    for (request, field) in cases {
        let err = registry
            .create_organisation(request.clone())
            .await
            .unwrap_err();
        assert_eq!(bad_field(&err), field, "{request:?}: {err}");
    }
    registry
        .create_organisation(organisation("unicom-gd", pb::Role::BasicTelecom, "440000"))
        .await
        .unwrap();
    let err = registry
        .create_organisation(organisation("unicom-gd", pb::Role::BasicTelecom, "440000"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn a_certificate_from_another_ca_or_for_another_organisation_cannot_be_registered() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let mut registry = app.client("miit").await.registry();
    let (rogue, _) = fenghuo::pki::CertificateAuthority::generate("rogue").unwrap();
    let (cert, _) = rogue.issue_client("telecom-gd", "x").unwrap();
    let err = registry
        .register_certificate(pb::RegisterCertificateRequest {
            organisation_id: "telecom-gd".into(),
            certificate_pem: cert,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "certificate_pem");
    assert!(err.message().contains("platform CA"));
    let (cert, _) = app
        .pki()
        .authority()
        .unwrap()
        .issue_client("vendor-bj", "x")
        .unwrap();
    let err = registry
        .register_certificate(pb::RegisterCertificateRequest {
            organisation_id: "telecom-gd".into(),
            certificate_pem: cert,
        })
        .await
        .unwrap_err();
    assert!(
        err.message().contains("names organisation vendor-bj"),
        "{err}"
    );
    let err = registry
        .register_certificate(pb::RegisterCertificateRequest {
            organisation_id: "telecom-gd".into(),
            certificate_pem: "junk".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "certificate_pem");
}

#[tokio::test]
async fn a_provincial_regulator_acts_only_in_its_province_and_cannot_create_authorities() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let mut gdca = app.client("gdca").await.registry();
    gdca.create_organisation(organisation("mobile-gd", pb::Role::BasicTelecom, "440000"))
        .await
        .unwrap();
    let err = gdca
        .create_organisation(organisation("mobile-bj", pb::Role::BasicTelecom, "110000"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("110000"), "{}", err.message());
    let err = gdca
        .create_organisation(organisation(
            "ca-gd-2",
            pb::Role::ProvincialRegulator,
            "440000",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Listing is confined to its province even when it asks for all.
    let listed = gdca
        .list_organisations(pb::ListOrganisationsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .organisations;
    assert!(listed.iter().all(|o| o.province == "440000"), "{listed:?}");
    assert!(listed.iter().any(|o| o.id == "telecom-gd"));
    let err = gdca
        .list_organisations(pb::ListOrganisationsRequest {
            province: "110000".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = gdca
        .list_certificates(pb::ListCertificatesRequest {
            organisation_id: "vendor-bj".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_group_company_manages_its_provincial_subsidiary_but_not_others() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.add_organisation("telecom-group", pb::Role::BasicTelecom, "110000", "")
        .await;
    app.add_organisation(
        "telecom-group-zj",
        pb::Role::BasicTelecom,
        "330000",
        "telecom-group",
    )
    .await;
    let group = app.client("telecom-group").await;
    let sub = group
        .registry()
        .get_organisation(pb::GetOrganisationRequest {
            id: "telecom-group-zj".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sub.parent_id, "telecom-group");
    group
        .registry()
        .list_officers(pb::ListOfficersRequest {
            organisation_id: "telecom-group-zj".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // The subsidiary does not manage its parent, and neither manages a stranger.
    let sub_client = app.client("telecom-group-zj").await;
    let err = sub_client
        .registry()
        .get_organisation(pb::GetOrganisationRequest {
            id: "telecom-group".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = group
        .registry()
        .get_organisation(pb::GetOrganisationRequest {
            id: "telecom-gd".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn officers_and_keys_are_validated() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let mut registry = app.officer("telecom-gd").await.registry();
    let err = registry
        .register_officer(pb::RegisterOfficerRequest {
            organisation_id: "telecom-gd".into(),
            name: "bad name".into(),
            display_name: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "name");
    let err = registry
        .register_officer_key(pb::RegisterOfficerKeyRequest {
            organisation_id: "telecom-gd".into(),
            kid: "k2".into(),
            algorithm: "HS256".into(),
            public_key_pem: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "algorithm");
    let err = registry
        .register_officer_key(pb::RegisterOfficerKeyRequest {
            organisation_id: "telecom-gd".into(),
            kid: "k2".into(),
            algorithm: "ES256".into(),
            public_key_pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "public_key_pem");
    let err = registry
        .revoke_certificate(pb::RevokeCertificateRequest {
            fingerprint: "abc".into(),
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "fingerprint");
    let err = registry
        .update_contacts(pb::UpdateContactsRequest {
            organisation_id: "telecom-gd".into(),
            contacts: vec![pb::Contact {
                role: pb::ContactRole::DayToDayContact as i32,
                person: "Li".into(),
                ..Default::default()
            }],
            effective_on: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "contacts[0]");
    let err = registry
        .list_officers(pb::ListOfficersRequest {
            organisation_id: "telecom-gd".into(),
            page: Some(pb::PageRequest {
                page_size: 5000,
                page_token: String::new(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "page.page_size");
}

on_both_backends!(a_certificate_alone_cannot_register_officers_or_token_keys);

/// A stolen certificate must not let its holder mint an officer and a key of its own and
/// then sign decisions (issue 18 item 4).
async fn a_certificate_alone_cannot_register_officers_or_token_keys(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, public) = fenghuo::pki::dev::generate_token_key().unwrap();
    let key = |kid: &str| pb::RegisterOfficerKeyRequest {
        organisation_id: "miit".into(),
        kid: kid.into(),
        algorithm: "EdDSA".into(),
        public_key_pem: public.clone(),
    };
    let officer = pb::RegisterOfficerRequest {
        organisation_id: "miit".into(),
        name: "intruder".into(),
        display_name: "Intruder".into(),
    };
    let stolen = app.client("miit").await;
    let err = stolen
        .registry()
        .register_officer_key(key("stolen-1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    assert!(err.message().contains("officer token"), "{err}");
    let err = stolen
        .registry()
        .register_officer(officer.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    let err = stolen
        .registry()
        .set_officer_enabled(pb::SetOfficerEnabledRequest {
            organisation_id: "miit".into(),
            name: "duty-officer".into(),
            enabled: false,
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    // An existing officer does it, and the audit log names who.
    let duty = app.officer("miit").await;
    duty.registry().register_officer(officer).await.unwrap();
    duty.registry()
        .register_officer_key(key("second-1"))
        .await
        .unwrap();
    let records = duty
        .audit()
        .query_audit(pb::QueryAuditRequest {
            subject: "officer:miit/intruder".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(records.last().unwrap().officer, "duty-officer");
}

#[tokio::test]
async fn regulators_rotate_notice_signing_keys_and_old_ones_stay_listed() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let anyone = app.client("telecom-gd").await;
    let list = |client: fenghuo_client::Client| async move {
        client
            .registry()
            .list_signing_keys(pb::ListSigningKeysRequest {
                organisation_id: "miit".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .keys
    };
    let seeded = list(anyone.clone()).await;
    assert_eq!(seeded.len(), 1);
    assert!(seeded[0].retired_at.is_none());
    let (cert, _) = app
        .pki()
        .authority()
        .unwrap()
        .issue_signing("miit", "MIIT notice signing 2")
        .unwrap();
    let mut miit = app.client("miit").await.registry();
    let new = miit
        .register_signing_key(pb::RegisterSigningKeyRequest {
            organisation_id: "miit".into(),
            certificate_pem: cert,
        })
        .await
        .unwrap()
        .into_inner();
    let keys = list(anyone).await;
    assert_eq!(keys.len(), 2);
    let old = keys.iter().find(|k| k.key_id == seeded[0].key_id).unwrap();
    assert!(
        old.retired_at.is_some(),
        "the rotated key is retired, not removed"
    );
    assert!(
        keys.iter()
            .any(|k| k.key_id == new.key_id && k.retired_at.is_none())
    );
    // A client (ECDSA) certificate is no signing key; a unit is no regulator.
    let (ecdsa, _) = app
        .pki()
        .authority()
        .unwrap()
        .issue_client("miit", "x")
        .unwrap();
    let err = miit
        .register_signing_key(pb::RegisterSigningKeyRequest {
            organisation_id: "miit".into(),
            certificate_pem: ecdsa,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "certificate_pem");
    let (cert, _) = app
        .pki()
        .authority()
        .unwrap()
        .issue_signing("telecom-gd", "not a regulator")
        .unwrap();
    let err = miit
        .register_signing_key(pb::RegisterSigningKeyRequest {
            organisation_id: "telecom-gd".into(),
            certificate_pem: cert,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
}

/// The read and look-up RPCs refuse malformed input naming the field, like the writes.
#[tokio::test]
async fn malformed_reads_and_lookups_are_refused_naming_the_field() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let miit = app.client("miit").await;
    let cncert = app.client("cncert").await;
    let err = miit
        .registry()
        .lookup_responsible(pb::LookupResponsibleRequest {
            resource: " ".into(),
            at: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "resource");
    let err = miit
        .registry()
        .remove_ownership_entry(pb::RemoveOwnershipEntryRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "id");
    let err = miit
        .registry()
        .list_ownership_entries(pb::ListOwnershipEntriesRequest {
            owner_organisation_id: "X".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "owner_organisation_id");
    let err = miit
        .registry()
        .list_signing_keys(pb::ListSigningKeysRequest {
            organisation_id: "Bad Org".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "organisation_id");
    let err = cncert
        .identification()
        .get_identification(pb::GetIdentificationRequest { key: None })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "key");
    let err = cncert
        .identification()
        .list_unidentified(pb::ListUnidentifiedRequest {
            category: 9,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "category");
    let err = miit
        .threats()
        .get_threat(pb::GetThreatRequest {
            threat_id: "x".into(),
            sightings_page: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "threat_id");
    let err = miit
        .threats()
        .search_threats(pb::SearchThreatsRequest {
            statuses: vec![7],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "statuses[0]");
    let err = miit
        .threats()
        .change_sighting_tlp(pb::ChangeSightingTlpRequest {
            sighting_id: uuid::Uuid::now_v7().to_string(),
            tlp: 1,
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "reason");
    let err = miit
        .audit()
        .query_audit(pb::QueryAuditRequest {
            page: Some(pb::PageRequest {
                page_size: 10,
                page_token: "!!".into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "page.page_token");
}
