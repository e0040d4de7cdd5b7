//! The monthly bulletin delivered on the platform (2009 reporting measures Art. 19):
//! StatisticsService.ListBulletins and GetBulletin for every role over real mTLS, and their
//! refusals. `bulletin_cli` drives the same through `fenghuo bulletin`.

use std::sync::Arc;

use fenghuo::bulletin::figures::MonthFigures;
use fenghuo::bulletin::publish::{self, BulletinVerifyError};
use fenghuo::pki::keyring::SigningKeyring;
use fenghuo::pki::signing::Signature;
use fenghuo::store::audit;
use fenghuo_client::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::authorization::{ROLE_ORGS, setup};
use crate::bulletin::fonts;
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app, spawn_app_configured};

on_both_backends!(
    every_role_lists_and_fetches_the_published_bulletins_and_they_verify_offline,
    a_bad_month_an_unknown_language_and_an_unpublished_month_are_refused_by_name,
    a_bulletin_larger_than_the_servers_message_limit_is_refused_naming_both_sizes,
    only_registered_enabled_organisations_read_bulletins
);

/// Publishes the bulletin of `month` (`YYYY-MM`) in both languages as cncert, from a small
/// set of figures. False when no Chinese font is installed (outside CI): the caller skips.
pub(crate) async fn publish(app: &TestApp, month: &str) -> bool {
    let Some(fonts) = fonts() else {
        return false;
    };
    let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").unwrap();
    let figures = MonthFigures {
        month: first,
        publisher_id: "cncert".into(),
        publisher: "国家互联网应急中心".into(),
        published_on: fenghuo::domain::bulletin::next_month(first),
        received_by_category: vec![("恶意程序".into(), 7)],
        ..Default::default()
    };
    publish::publish(
        app.application().store(),
        &SigningKeyring::new(app.data_dir.join("pki").join("clients")),
        fonts,
        &figures,
        &audit::Actor::system(),
        fenghuo::domain::clock::Clock::now(&*app.clock),
    )
    .await
    .unwrap();
    true
}

fn get(month: &str, language: &str) -> pb::GetBulletinRequest {
    pb::GetBulletinRequest {
        month: month.into(),
        language: language.into(),
    }
}

fn listed(r: &pb::ListBulletinsResponse) -> Vec<(String, String)> {
    r.bulletins
        .iter()
        .map(|b| (b.month.clone(), b.language.clone()))
        .collect()
}

fn pair(m: &str, l: &str) -> (String, String) {
    (m.into(), l.into())
}

async fn every_role_lists_and_fetches_the_published_bulletins_and_they_verify_offline(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    if !publish(&app, "2026-10").await || !publish(&app, "2026-11").await {
        return;
    }
    setup(&app).await;
    let ca = std::fs::read_to_string(app.data_dir.join("pki").join("ca.crt")).unwrap();
    let all = vec![
        pair("2026-11", "zh-CN"),
        pair("2026-11", "en"),
        pair("2026-10", "zh-CN"),
        pair("2026-10", "en"),
    ];

    // Every role: the same list, and a bulletin that verifies against the platform CA.
    for (role, org, _) in ROLE_ORGS {
        let mut statistics = app.client(org).await.statistics();
        let list = statistics
            .list_bulletins(pb::ListBulletinsRequest::default())
            .await
            .unwrap_or_else(|e| panic!("ListBulletins as {role}: {e}"))
            .into_inner();
        assert_eq!(listed(&list), all, "as {role}");
        assert!(list.next_page_token.is_empty());
        let got = statistics
            .get_bulletin(get("2026-11", "zh-CN"))
            .await
            .unwrap_or_else(|e| panic!("GetBulletin as {role}: {e}"))
            .into_inner();
        let signature = Signature {
            signature: got.signature.clone(),
            key_id: got.key_id.clone(),
            chain_der: got.signer_chain_der.clone(),
        };
        let manifest = publish::verify(
            &got.manifest,
            &signature,
            Some(&got.html),
            Some(&got.pdf),
            &ca,
        )
        .unwrap_or_else(|e| panic!("as {role}: {e}"));
        assert_eq!(
            (manifest.month.as_str(), manifest.language.as_str()),
            ("2026-11", "zh-CN")
        );
    }

    // As a unit: the summary matches what was stored, the English one is another document.
    let mut unit = app.client("telecom-gd").await.statistics();
    let zh = unit
        .get_bulletin(get("2026-11", ""))
        .await
        .unwrap()
        .into_inner();
    let summary = zh.summary.clone().unwrap();
    assert_eq!(
        (summary.month.as_str(), summary.language.as_str()),
        ("2026-11", "zh-CN"),
        "an empty language is zh-CN"
    );
    assert_eq!(summary.publisher, "cncert");
    assert_eq!(summary.pdf_bytes, zh.pdf.len() as u64);
    assert_eq!(summary.html_bytes, zh.html.len() as u64);
    assert_eq!(summary.key_id, zh.key_id);
    assert!(zh.pdf.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&zh.html).contains("公共互联网网络安全威胁月报（2026年11月）"));
    let figures: serde_json::Value = serde_json::from_str(&zh.figures_json).unwrap();
    assert_eq!(figures["publisher_id"], "cncert");
    let en = unit
        .get_bulletin(get("2026-11", "en"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(en.pdf, zh.pdf);
    assert!(String::from_utf8_lossy(&en.manifest).contains("\"language\":\"en\""));

    // One altered byte of the fetched PDF is caught offline.
    let mut altered = zh.pdf.clone();
    let at = altered.len() / 2;
    altered[at] ^= 1;
    let signature = Signature {
        signature: zh.signature.clone(),
        key_id: zh.key_id.clone(),
        chain_der: zh.signer_chain_der.clone(),
    };
    assert!(matches!(
        publish::verify(&zh.manifest, &signature, None, Some(&altered), &ca),
        Err(BulletinVerifyError::Altered {
            document: "PDF",
            ..
        })
    ));

    // As a regulator: pages of three, then filters by year and by month range.
    let mut regulator = app.client("gdca").await.statistics();
    let first = regulator
        .list_bulletins(pb::ListBulletinsRequest {
            page: Some(pb::PageRequest {
                page_size: 3,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed(&first), all[..3]);
    assert!(!first.next_page_token.is_empty());
    let second = regulator
        .list_bulletins(pb::ListBulletinsRequest {
            page: Some(pb::PageRequest {
                page_size: 3,
                page_token: first.next_page_token,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed(&second), all[3..]);
    assert!(second.next_page_token.is_empty());
    for (year, from, to, expected) in [
        (2026, "", "", &all[..]),
        (2025, "", "", &[][..]),
        (0, "2026-11", "", &all[..2]),
        (0, "2026-09", "2026-10", &all[2..]),
    ] {
        let request = pb::ListBulletinsRequest {
            year,
            from_month: from.into(),
            to_month: to.into(),
            ..Default::default()
        };
        let got = regulator
            .list_bulletins(request)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed(&got), expected, "{year} {from} {to}");
    }
    app.stop().await;
}

/// The field a refusal names in its BadRequest details.
fn violated_field(status: &tonic::Status) -> String {
    status
        .get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

async fn a_bad_month_an_unknown_language_and_an_unpublished_month_are_refused_by_name(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    if !publish(&app, "2026-11").await {
        return;
    }
    let mut unit = app.client("vendor-bj").await.statistics();
    for (month, language, field, says) in [
        ("2026-13", "zh-CN", "month", "YYYY-MM"),
        ("2026-1", "zh-CN", "month", "YYYY-MM"),
        ("", "zh-CN", "month", "YYYY-MM"),
        ("2026-11", "fr", "language", "\"zh-CN\" or \"en\""),
        ("2026-11", "zh", "language", "\"zh-CN\" or \"en\""),
    ] {
        let err = unit.get_bulletin(get(month, language)).await.unwrap_err();
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "{month} {language}: {err}"
        );
        assert_eq!(violated_field(&err), field, "{err}");
        assert!(err.message().contains(says), "{}", err.message());
    }
    let err = unit.get_bulletin(get("2026-09", "en")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");
    assert!(
        err.message().contains("2026-09") && err.message().contains("in en"),
        "{}",
        err.message()
    );

    let list = |year: i32, from: &str, to: &str, token: &str| pb::ListBulletinsRequest {
        year,
        from_month: from.into(),
        to_month: to.into(),
        page: Some(pb::PageRequest {
            page_size: 0,
            page_token: token.into(),
        }),
    };
    for (request, field) in [
        (list(2026, "2026-01", "", ""), "year"),
        (list(26, "", "", ""), "year"),
        (list(0, "2026-11", "2026-10", ""), "to_month"),
        (list(0, "November", "", ""), "from_month"),
        (list(0, "", "", "not-a-token"), "page.page_token"),
    ] {
        let err = unit.list_bulletins(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        assert_eq!(violated_field(&err), field, "{err}");
    }
    app.stop().await;
}

async fn a_bulletin_larger_than_the_servers_message_limit_is_refused_naming_both_sizes(
    backend: Backend,
) {
    let Some(app) = spawn_app_configured(
        backend,
        fenghuo::timers::TimerHandlers::new(),
        Arc::new(|s: &mut fenghuo::config::Settings| s.limits.max_message_bytes = 64 * 1024),
    )
    .await
    else {
        return;
    };
    if !publish(&app, "2026-11").await {
        return;
    }
    let mut unit = app.client("telecom-gd").await.statistics();
    let listed = unit
        .list_bulletins(pb::ListBulletinsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let pdf_bytes = listed.bulletins[0].pdf_bytes;
    assert!(pdf_bytes > 64 * 1024, "the PDF is {pdf_bytes} bytes");
    let err = unit
        .get_bulletin(get("2026-11", "zh-CN"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(
        err.message().contains("max_message_bytes of 65536"),
        "{}",
        err.message()
    );
    app.stop().await;
}

async fn only_registered_enabled_organisations_read_bulletins(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // A certificate of the platform CA that was never registered.
    let pki = app.unregistered_pki("telecom-gd");
    let unregistered = fenghuo_client::Client::connect(&app.endpoint, &pki)
        .await
        .unwrap();
    let err = unregistered
        .statistics()
        .list_bulletins(pb::ListBulletinsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");

    // A disabled organisation: refused on both RPCs.
    let vendor = app.client("vendor-bj").await;
    assert_eq!(
        crate::support::code(
            vendor
                .statistics()
                .list_bulletins(pb::ListBulletinsRequest::default())
                .await
        ),
        Code::Ok
    );
    app.officer("miit")
        .await
        .registry()
        .set_organisation_enabled(pb::SetOrganisationEnabledRequest {
            id: "vendor-bj".into(),
            enabled: false,
            reason: "licence suspended".into(),
        })
        .await
        .unwrap();
    let err = vendor
        .statistics()
        .get_bulletin(get("2026-11", "zh-CN"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    let err = vendor
        .statistics()
        .list_bulletins(pb::ListBulletinsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");

    // No client certificate: not served at all.
    let served = match app.certificate_less_channel().await {
        None => false,
        Some(channel) => pb::statistics_service_client::StatisticsServiceClient::new(channel)
            .list_bulletins(pb::ListBulletinsRequest::default())
            .await
            .is_ok(),
    };
    assert!(!served, "a certificate-less client was served");
    app.stop().await;
}
