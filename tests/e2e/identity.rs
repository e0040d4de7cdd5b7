//! Who may connect at all: certificates from the platform CA, registered,
//! not revoked, of an enabled organisation.

use std::time::Duration;

use fenghuo_client::{Client, ClientPki, pb};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

use crate::on_both_backends;
use crate::support::{Backend, code, spawn_app};

#[tokio::test]
async fn the_standard_health_check_answers_serving_over_mtls_with_a_demo_certificate() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let channel = Client::channel(&app.endpoint, &app.client_pki("telecom-gd"))
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    for service in ["", "fenghuo.v1.RegistryService", "fenghuo.v1.ThreatService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }
}

#[tokio::test]
async fn a_load_balancer_reads_health_on_the_plain_port_and_reaches_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut settings = fenghuo::config::Settings::development(
        &data,
        &format!("sqlite://{}?mode=rwc", data.join("fenghuo.db").display()),
    );
    settings.health_listen = Some("127.0.0.1:0".parse().unwrap());
    let app = fenghuo::app::Application::build(
        settings,
        std::sync::Arc::new(fenghuo::domain::clock::SystemClock),
    )
    .await
    .unwrap();
    let plain =
        tonic::transport::Endpoint::from_shared(format!("http://{}", app.health_addr().unwrap()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let status = HealthClient::new(plain.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    // Without a certificate, the plain port serves no platform RPC.
    let refused = pb::registry_service_client::RegistryServiceClient::new(plain)
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_every_fenghuo_service() {
    use tonic_reflection::pb::{v1, v1alpha};
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let channel = Client::channel(&app.endpoint, &app.client_pki("telecom-gd"))
        .await
        .unwrap();
    let expected: Vec<String> = fenghuo::app::SERVICE_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();

    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers.next().await.unwrap().unwrap().message_response
    else {
        panic!("v1 reflection did not list services");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in &expected {
        assert!(names.contains(s), "v1 reflection lacks {s}: {names:?}");
    }
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("fenghuo.v1."))
            .count(),
        expected.len()
    );

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers.next().await.unwrap().unwrap().message_response
    else {
        panic!("v1alpha reflection did not list services");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("fenghuo.v1."))
            .count(),
        expected.len(),
        "{names:?}"
    );
}

async fn who_am_i(endpoint: &str, pki: &ClientPki) -> Result<pb::WhoAmIResponse, String> {
    let client = Client::connect(endpoint, pki)
        .await
        .map_err(|e| format!("{e:#}"))?;
    client
        .registry()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .map(|r| r.into_inner())
        .map_err(|s| s.to_string())
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_at_the_handshake() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let outcome = match app.certificate_less_channel().await {
        None => None,
        Some(channel) => Some(
            pb::registry_service_client::RegistryServiceClient::new(channel)
                .who_am_i(pb::WhoAmIRequest {})
                .await,
        ),
    };
    assert!(
        !matches!(outcome, Some(Ok(_))),
        "a certificate-less client was served"
    );
}

#[tokio::test]
async fn a_client_with_a_certificate_from_another_ca_is_refused() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let (rogue_ca, _) = fenghuo::pki::CertificateAuthority::generate("rogue CA").unwrap();
    let (cert, key) = rogue_ca.issue_client("telecom-gd", "impostor").unwrap();
    let pki = ClientPki {
        ca_pem: app.client_pki("telecom-gd").ca_pem,
        cert_pem: cert,
        key_pem: key,
    };
    assert!(who_am_i(&app.endpoint, &pki).await.is_err());
}

#[tokio::test]
async fn an_unregistered_certificate_from_the_platform_ca_is_refused() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let pki = app.unregistered_pki("telecom-gd");
    let err = who_am_i(&app.endpoint, &pki).await.unwrap_err();
    assert!(err.contains("not registered"), "{err}");
}

#[tokio::test]
async fn the_organisation_comes_from_the_certificate() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let me = who_am_i(&app.endpoint, &app.client_pki("telecom-gd"))
        .await
        .unwrap();
    let org = me.organisation.unwrap();
    assert_eq!(org.id, "telecom-gd");
    assert_eq!(org.province, "440000");
    assert_eq!(org.roles, vec![pb::Role::BasicTelecom as i32]);
    assert_eq!(me.certificate_fingerprint.len(), 64);
    assert!(me.officer.is_empty());
}

/// An open server stream for `client` (telecom-gd), with one record received.
async fn open_audit_stream(client: &Client) -> tonic::Streaming<pb::AuditRecord> {
    // Any date the calendar covers: the change's lateness does not matter here.
    let update = pb::UpdateContactsRequest {
        organisation_id: "telecom-gd".into(),
        contacts: crate::support::full_contacts("telecom-gd"),
        effective_on: Some(pb::Date {
            year: 2026,
            month: 1,
            day: 5,
        }),
    };
    client.registry().update_contacts(update).await.unwrap();
    let mut stream = client
        .audit()
        .stream_audit(pb::StreamAuditRequest { after_seq: 0 })
        .await
        .unwrap()
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a record arrives");
    assert_eq!(first.unwrap().unwrap().action, "registry.contacts.update");
    stream
}

/// The status an open stream ends with.
async fn end_status(stream: &mut tonic::Streaming<pb::AuditRecord>) -> tonic::Status {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => continue,
                Some(Err(status)) => return status,
                None => panic!("the stream closed without a status"),
            }
        }
    })
    .await
    .expect("the open stream ends after revocation")
}

on_both_backends!(
    revoking_a_certificate_refuses_it_and_ends_its_open_stream,
    disabling_an_organisation_refuses_its_calls
);

async fn revoking_a_certificate_refuses_it_and_ends_its_open_stream(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let old_pki = app.client_pki("telecom-gd");
    // A second certificate: revoking it must leave the first one working.
    let leaked = app.issue_certificate("telecom-gd").await;
    let leaked_pki = app.client_pki("telecom-gd");
    let client = Client::connect(&app.endpoint, &leaked_pki).await.unwrap();
    let mut stream = open_audit_stream(&client).await;

    app.client("miit")
        .await
        .registry()
        .revoke_certificate(pb::RevokeCertificateRequest {
            fingerprint: leaked.fingerprint.clone(),
            reason: "key leaked".into(),
        })
        .await
        .unwrap();

    let status = end_status(&mut stream).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");

    let err = client
        .registry()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("revoked"), "{}", err.message());
    // The organisation's other certificate is untouched.
    assert!(who_am_i(&app.endpoint, &old_pki).await.is_ok());
}

async fn disabling_an_organisation_refuses_its_calls(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    assert_eq!(
        code(vendor.registry().who_am_i(pb::WhoAmIRequest {}).await),
        Code::Ok
    );
    let miit = app.officer("miit").await;
    let disable = pb::SetOrganisationEnabledRequest {
        id: "vendor-bj".into(),
        enabled: false,
        reason: "licence suspended".into(),
    };
    miit.registry()
        .set_organisation_enabled(disable)
        .await
        .unwrap();
    let err = vendor
        .registry()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("disabled"), "{}", err.message());
    let enable = pb::SetOrganisationEnabledRequest {
        id: "vendor-bj".into(),
        enabled: true,
        reason: String::new(),
    };
    miit.registry()
        .set_organisation_enabled(enable)
        .await
        .unwrap();
    assert_eq!(
        code(vendor.registry().who_am_i(pb::WhoAmIRequest {}).await),
        Code::Ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_replica_ends_the_stream_held_on_another() {
    let Some(a) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let b = a.spawn_replica().await;
    let leaked = a.issue_certificate("telecom-gd").await;
    let client = Client::connect(&b.endpoint, &b.client_pki("telecom-gd"))
        .await
        .unwrap();
    let mut stream = open_audit_stream(&client).await;
    a.client("miit")
        .await
        .registry()
        .revoke_certificate(pb::RevokeCertificateRequest {
            fingerprint: leaked.fingerprint,
            reason: "key leaked".into(),
        })
        .await
        .unwrap();
    let status = end_status(&mut stream).await;
    assert_eq!(status.code(), Code::Unauthenticated);
    b.stop().await;
}
