//! Officers' tokens: required for decisions, bound to the certificate, checked
//! against the injected clock.

use chrono::Duration;
use fenghuo::domain::clock::Clock;
use fenghuo_client::pb;
use tonic::Code;

use crate::support::{Backend, spawn_app};

fn enable(id: &str) -> pb::SetOrganisationEnabledRequest {
    pb::SetOrganisationEnabledRequest {
        id: id.into(),
        enabled: true,
        reason: String::new(),
    }
}

#[tokio::test]
async fn a_decision_without_an_officer_token_is_refused() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let err = app
        .client("miit")
        .await
        .registry()
        .set_organisation_enabled(enable("vendor-bj"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("officer token"), "{}", err.message());
}

#[tokio::test]
async fn a_valid_token_names_the_officer_in_whoami_and_in_the_audit_log() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let miit = app.officer("miit").await;
    let me = miit
        .registry()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.officer, "duty-officer");
    miit.registry()
        .set_organisation_enabled(enable("vendor-bj"))
        .await
        .unwrap();
    let records = miit
        .audit()
        .query_audit(pb::QueryAuditRequest {
            subject: "organisation:vendor-bj".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    let last = records.last().unwrap();
    assert_eq!(last.action, "registry.organisation.enable");
    assert_eq!(last.officer, "duty-officer");
    assert_eq!(last.organisation_id, "miit");
    assert_eq!(last.certificate_fingerprint, me.certificate_fingerprint);
}

async fn refusal(app: &crate::support::TestApp, token: &str) -> String {
    let client = app.client("miit").await.with_token(token).unwrap();
    let err = client
        .registry()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    err.message().to_owned()
}

#[tokio::test]
async fn a_token_expires_on_the_servers_injected_clock() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let token = app.token("miit", "duty-officer");
    app.clock.advance(Duration::minutes(16));
    assert!(refusal(&app, &token).await.contains("expired"));
}

#[tokio::test]
async fn a_token_claiming_more_than_fifteen_minutes_is_refused() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let token = app.token_with("miit", "duty-officer", app.clock.now(), 16 * 60);
    assert!(refusal(&app, &token).await.contains("at most 900"));
}

#[tokio::test]
async fn a_token_bound_to_another_certificate_is_refused() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    // Signed for miit's first certificate, presented over its second one.
    let token = app.token("miit", "duty-officer");
    app.issue_certificate("miit").await;
    assert!(refusal(&app, &token).await.contains("another certificate"));
}

#[tokio::test]
async fn a_token_for_an_unknown_or_disabled_officer_is_refused() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    assert!(
        refusal(&app, &app.token("miit", "nobody"))
            .await
            .contains("not a registered, enabled officer")
    );
    let miit = app.officer("miit").await;
    miit.registry()
        .set_officer_enabled(pb::SetOfficerEnabledRequest {
            organisation_id: "miit".into(),
            name: "duty-officer".into(),
            enabled: false,
            reason: "left the post".into(),
        })
        .await
        .unwrap();
    assert!(
        refusal(&app, &app.token("miit", "duty-officer"))
            .await
            .contains("not a registered, enabled officer")
    );
}

#[tokio::test]
async fn a_token_signed_by_another_organisations_key_is_refused() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    // telecom-gd's key and kid, presented by miit.
    let token = app.token("telecom-gd", "duty-officer");
    assert!(
        refusal(&app, &token)
            .await
            .contains("not registered for organisation miit")
    );
}

#[tokio::test]
async fn a_revoked_token_key_is_refused() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.client("miit")
        .await
        .registry()
        .revoke_officer_key(pb::RevokeOfficerKeyRequest {
            organisation_id: "miit".into(),
            kid: fenghuo::seed::demo_kid("miit"),
            reason: "rotated".into(),
        })
        .await
        .unwrap();
    assert!(
        refusal(&app, &app.token("miit", "duty-officer"))
            .await
            .contains("revoked")
    );
}

#[tokio::test]
async fn a_malformed_authorization_header_is_refused() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    assert!(refusal(&app, "not-a-jwt").await.contains("malformed"));
}
