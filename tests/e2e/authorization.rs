//! Walks every cell of docs/authorization.md over real mTLS: each role against
//! each RPC, with and without an officer token, and — for the RPCs built so
//! far — the `own` and `province` cells against records inside and outside.

use std::collections::HashMap;
use std::str::FromStr;

use bytes::{Buf, BufMut};
use fenghuo_client::pb;
use prost::Message;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

/// The organisation that holds each role in the walk (demo ones plus four added).
pub(crate) const ROLE_ORGS: [(&str, &str, &str); 11] = [
    ("national_regulator", "miit", "national"),
    ("provincial_regulator", "gdca", "440000"),
    ("institution", "cncert", "national"),
    ("platform_operator", "platform-op", "national"),
    ("basic_telecom", "telecom-gd", "440000"),
    ("internet_enterprise", "ie-gd", "440000"),
    ("security_vendor", "vendor-bj", "110000"),
    ("domain_registry", "registry-bj", "110000"),
    ("domain_registrar", "registrar-bj", "110000"),
    ("affected_party", "party-gd", "440000"),
    ("informational_recipient", "cac-gd", "440000"),
];

struct Row {
    rpc: String,
    token: bool,
    cells: HashMap<String, String>,
}

/// Parsed here independently of the server's own parser.
fn matrix() -> Vec<Row> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/authorization.md"
    ))
    .unwrap();
    let mut lines = doc.lines().skip_while(|l| !l.starts_with("| RPC |"));
    let header: Vec<String> = cells(lines.next().unwrap());
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let c = cells(l);
            Row {
                rpc: c[0].trim_matches('`').to_owned(),
                token: c[1] == "yes",
                cells: header[2..header.len() - 1]
                    .iter()
                    .cloned()
                    .zip(c[2..c.len() - 1].iter().cloned())
                    .collect(),
            }
        })
        .collect()
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_owned())
        .collect()
}

/// (rpc, client_streaming, server_streaming) for every method of the contract.
fn contract() -> Vec<(String, bool, bool)> {
    let fds = prost_types::FileDescriptorSet::decode(fenghuo::pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = Vec::new();
    for file in fds.file.iter().filter(|f| f.package() == "fenghuo.v1") {
        for s in &file.service {
            for m in &s.method {
                out.push((
                    format!("{}.{}", s.name(), m.name()),
                    m.client_streaming(),
                    m.server_streaming(),
                ));
            }
        }
    }
    out
}

#[derive(Clone, Default)]
pub(crate) struct RawCodec;
pub(crate) struct Raw;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// Calls any RPC with an encoded request; returns the status code of the outcome.
async fn call(
    channel: Channel,
    token: Option<&str>,
    rpc: &str,
    streaming: (bool, bool),
    body: Vec<u8>,
) -> Code {
    let (service, method) = rpc.split_once('.').unwrap();
    let path =
        http::uri::PathAndQuery::from_str(&format!("/fenghuo.v1.{service}/{method}")).unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    fn with_token<T>(mut r: tonic::Request<T>, token: Option<&str>) -> tonic::Request<T> {
        if let Some(t) = token {
            r.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        r
    }
    let result = match streaming {
        (false, false) => grpc
            .unary(with_token(tonic::Request::new(body), token), path, RawCodec)
            .await
            .map(|_| ()),
        (false, true) => grpc
            .server_streaming(with_token(tonic::Request::new(body), token), path, RawCodec)
            .await
            .map(|_| ()),
        (true, false) => grpc
            .client_streaming(
                with_token(tonic::Request::new(tokio_stream::iter(vec![body])), token),
                path,
                RawCodec,
            )
            .await
            .map(|_| ()),
        (true, true) => grpc
            .streaming(
                with_token(tonic::Request::new(tokio_stream::iter(vec![body])), token),
                path,
                RawCodec,
            )
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => Code::Ok,
        Err(s) => s.code(),
    }
}

pub(crate) async fn setup(app: &TestApp) {
    app.add_organisation("platform-op", pb::Role::PlatformOperator, "national", "")
        .await;
    app.add_organisation("ie-gd", pb::Role::InternetEnterprise, "440000", "")
        .await;
    app.add_organisation("registry-bj", pb::Role::DomainRegistry, "110000", "")
        .await;
    app.add_organisation("cac-gd", pb::Role::InformationalRecipient, "440000", "")
        .await;
}

on_both_backends!(every_cell_of_the_authorization_matrix_holds_over_mtls);

async fn every_cell_of_the_authorization_matrix_holds_over_mtls(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app).await;
    let rows = matrix();
    let by_rpc: HashMap<&str, &Row> = rows.iter().map(|r| (r.rpc.as_str(), r)).collect();
    let contract = contract();
    let missing: Vec<_> = contract
        .iter()
        .filter(|(rpc, ..)| !by_rpc.contains_key(rpc.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "RPCs with no row in docs/authorization.md: {missing:?}"
    );

    let mut channels = HashMap::new();
    for (role, org, _) in ROLE_ORGS {
        channels.insert(
            role,
            (
                org,
                app.client(org).await.raw_channel(),
                app.token(org, "duty-officer"),
            ),
        );
    }
    let mut failures = Vec::new();
    let mut walked = 0;
    for (rpc, cs, ss) in &contract {
        let row = by_rpc[rpc.as_str()];
        for (role, _, _) in ROLE_ORGS {
            let cell = row.cells[role].as_str();
            let (org, channel, token) = &channels[role];
            let got = call(channel.clone(), Some(token), rpc, (*cs, *ss), Vec::new()).await;
            walked += 1;
            let ok = match cell {
                "deny" => got == Code::PermissionDenied,
                _ => got != Code::PermissionDenied && got != Code::Unauthenticated,
            };
            if !ok {
                failures.push(format!("{rpc} as {role} ({org}): cell {cell}, got {got:?}"));
            }
            if row.token && cell != "deny" {
                let got = call(channel.clone(), None, rpc, (*cs, *ss), Vec::new()).await;
                if got != Code::Unauthenticated {
                    failures.push(format!(
                        "{rpc} as {role} without an officer token: got {got:?}"
                    ));
                }
            }
        }
    }
    assert_eq!(walked, contract.len() * 11);
    failures.extend(scoped_cells(&app, &rows, &channels).await);
    assert!(
        failures.is_empty(),
        "{} cells do not hold:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A request addressing organisation `target`, for the RPCs whose scope is
/// checked against a record today.
async fn targeted(
    app: &TestApp,
    rpc: &str,
    target: &str,
    province: &str,
    n: usize,
) -> Option<Vec<u8>> {
    let o = target.to_owned();
    Some(match rpc {
        "RegistryService.CreateOrganisation" => pb::CreateOrganisationRequest {
            id: format!("scope-test-{n}"),
            name: "Scope test".into(),
            roles: vec![pb::Role::BasicTelecom as i32],
            province: province.into(),
            contacts: crate::support::full_contacts("scope-test"),
            ..Default::default()
        }
        .encode_to_vec(),
        "RegistryService.GetOrganisation" => pb::GetOrganisationRequest { id: o }.encode_to_vec(),
        "RegistryService.ListOrganisations" => pb::ListOrganisationsRequest {
            province: province.into(),
            ..Default::default()
        }
        .encode_to_vec(),
        "RegistryService.SetOrganisationEnabled" => pb::SetOrganisationEnabledRequest {
            id: o,
            enabled: true,
            reason: String::new(),
        }
        .encode_to_vec(),
        "RegistryService.UpdateContacts" => pb::UpdateContactsRequest {
            contacts: crate::support::full_contacts(&o),
            organisation_id: o,
            effective_on: Some(crate::support::today(app)),
        }
        .encode_to_vec(),
        "RegistryService.RegisterCertificate" => {
            let (cert, _) = app
                .pki()
                .authority()
                .unwrap()
                .issue_client(target, "scope test")
                .unwrap();
            pb::RegisterCertificateRequest {
                organisation_id: o,
                certificate_pem: cert,
            }
            .encode_to_vec()
        }
        "RegistryService.RevokeCertificate" => {
            let (cert, _) = app
                .pki()
                .authority()
                .unwrap()
                .issue_client(target, "scope test")
                .unwrap();
            let registered = app
                .client("miit")
                .await
                .registry()
                .register_certificate(pb::RegisterCertificateRequest {
                    organisation_id: o,
                    certificate_pem: cert,
                })
                .await
                .unwrap()
                .into_inner();
            pb::RevokeCertificateRequest {
                fingerprint: registered.fingerprint,
                reason: "scope test".into(),
            }
            .encode_to_vec()
        }
        "RegistryService.ListCertificates" => pb::ListCertificatesRequest {
            organisation_id: o,
            ..Default::default()
        }
        .encode_to_vec(),
        "RegistryService.RegisterOfficer" => pb::RegisterOfficerRequest {
            organisation_id: o,
            name: format!("officer-{n}"),
            display_name: "Scope test".into(),
        }
        .encode_to_vec(),
        "RegistryService.SetOfficerEnabled" => pb::SetOfficerEnabledRequest {
            organisation_id: o,
            name: "duty-officer".into(),
            enabled: true,
            reason: String::new(),
        }
        .encode_to_vec(),
        "RegistryService.ListOfficers" => pb::ListOfficersRequest {
            organisation_id: o,
            ..Default::default()
        }
        .encode_to_vec(),
        "RegistryService.RegisterOfficerKey" => pb::RegisterOfficerKeyRequest {
            organisation_id: o,
            kid: format!("kid-{n}"),
            algorithm: "EdDSA".into(),
            public_key_pem: fenghuo::pki::dev::generate_token_key().unwrap().1,
        }
        .encode_to_vec(),
        "RegistryService.RevokeOfficerKey" => pb::RevokeOfficerKeyRequest {
            organisation_id: o,
            kid: "no-such-kid".into(),
            reason: "scope test".into(),
        }
        .encode_to_vec(),
        "RegistryService.ListOfficerKeys" => pb::ListOfficerKeysRequest {
            organisation_id: o,
            ..Default::default()
        }
        .encode_to_vec(),
        "RegistryService.ImportOwnershipEntries" => pb::ImportOwnershipEntriesRequest {
            entries: vec![pb::OwnershipEntry {
                kind: pb::OwnershipKind::IpPrefix as i32,
                value: format!("11.{}.{}.0/24", n / 250, n % 250),
                owner_organisation_id: o,
                ..Default::default()
            }],
            replace_owner_entries: false,
        }
        .encode_to_vec(),
        "RegistryService.ListOwnershipEntries" => pb::ListOwnershipEntriesRequest {
            owner_organisation_id: o,
            ..Default::default()
        }
        .encode_to_vec(),
        "DisposalService.ListNotices" => pb::ListNoticesRequest {
            addressee_organisation_id: o,
            ..Default::default()
        }
        .encode_to_vec(),
        "DisposalService.ListNonCompliance" => pb::ListNonComplianceRequest {
            organisation_id: o,
            ..Default::default()
        }
        .encode_to_vec(),
        "DisposalService.GetComplianceSummary" => pb::GetComplianceSummaryRequest {
            organisation_ids: vec![o],
            ..Default::default()
        }
        .encode_to_vec(),
        "DisposalService.RecordEnforcement" => {
            use chrono::Datelike;
            let today = chrono::Utc::now()
                .with_timezone(&chrono_tz::Asia::Shanghai)
                .date_naive();
            pb::RecordEnforcementRequest {
                enforcement: Some(pb::Enforcement {
                    organisation_id: o,
                    kind: pb::EnforcementKind::Interview as i32,
                    decided_on: Some(pb::Date {
                        year: today.year(),
                        month: today.month() as i32,
                        day: today.day() as i32,
                    }),
                    description: "scope test".into(),
                    legal_basis: "Art. 12 of the 2017 Measures".into(),
                    ..Default::default()
                }),
                resolves_review_item_ids: vec![],
            }
            .encode_to_vec()
        }
        "AuditService.QueryAudit" => pb::QueryAuditRequest {
            organisation_id: o,
            ..Default::default()
        }
        .encode_to_vec(),
        _ => return None,
    })
}

async fn scoped_cells(
    app: &TestApp,
    rows: &[Row],
    channels: &HashMap<&str, (&str, Channel, String)>,
) -> Vec<String> {
    let mut failures = Vec::new();
    let mut n = 0;
    let mut checked = 0;
    for row in rows {
        for (role, org, province) in ROLE_ORGS {
            let cell = row.cells[role].as_str();
            if cell != "own" && cell != "province" {
                continue;
            }
            // Outside: an organisation of another province that is not the caller's.
            let (outside, outside_province) = if province == "110000" {
                ("telecom-gd", "440000")
            } else {
                ("vendor-bj", "110000")
            };
            // Inside: the caller itself, and for province cells another organisation of its province.
            let mut inside = vec![(org, province)];
            if cell == "province" && province == "440000" {
                inside.push(("telecom-gd", "440000"));
            }
            let (_, channel, token) = &channels[role];
            let streaming = (false, false);
            n += 1;
            let Some(body) = targeted(app, &row.rpc, outside, outside_province, n).await else {
                continue;
            };
            checked += 1;
            let got = call(channel.clone(), Some(token), &row.rpc, streaming, body).await;
            if got != Code::PermissionDenied {
                failures.push(format!(
                    "{} as {role} on {outside} (outside its {cell}): got {got:?}",
                    row.rpc
                ));
            }
            for (target, target_province) in inside {
                n += 1;
                let body = targeted(app, &row.rpc, target, target_province, n)
                    .await
                    .unwrap();
                let got = call(channel.clone(), Some(token), &row.rpc, streaming, body).await;
                if matches!(
                    got,
                    Code::PermissionDenied
                        | Code::Unauthenticated
                        | Code::InvalidArgument
                        | Code::Internal
                ) {
                    failures.push(format!(
                        "{} as {role} on {target} (inside its {cell}): got {got:?}",
                        row.rpc
                    ));
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} scoped cells were exercised");
    failures
}
