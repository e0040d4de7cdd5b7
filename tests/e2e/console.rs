//! The web console (issue #16) over real HTTPS with the dev PKI's client certificates, on
//! both backends: its pages show what the RPCs answer, its actions are the RPCs, and every
//! route refuses a certificate of a role its RPC's row denies.

use std::sync::Arc;
use std::time::Duration;

use fenghuo_client::pb;
use futures::StreamExt;
use reqwest::StatusCode;

use crate::appeals::{by_party, file, shanghai};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app_configured};
use crate::threats::{ip, report};

on_both_backends!(
    a_regulator_and_the_institution_work_a_threat_from_the_console,
    every_route_refuses_a_certificate_of_a_role_its_rpc_denies,
    bad_forms_are_refused_with_the_field_and_nothing_happens,
    a_unit_lists_views_and_downloads_the_published_bulletins,
);

async fn spawn(backend: Backend) -> Option<TestApp> {
    let app = spawn_app_configured(
        backend,
        Default::default(),
        Arc::new(|s| s.console_listen = Some("127.0.0.1:0".parse().unwrap())),
    )
    .await?;
    // A Monday of a shipped calendar year: appeal deadlines fall on known days.
    app.clock.set(shanghai("2026-06-01", 10));
    Some(app)
}

/// A browser presenting one organisation's certificate; it does not follow redirects, so
/// that a test sees where an action sends it.
struct Browser {
    http: reqwest::Client,
    base: String,
}

fn browser(app: &TestApp, org: &str) -> Browser {
    let pki = app.client_pki(org);
    let identity =
        reqwest::Identity::from_pem(format!("{}\n{}", pki.cert_pem, pki.key_pem).as_bytes())
            .unwrap();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .identity(identity)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let port = app
        .application()
        .console_addr()
        .expect("console_listen")
        .port();
    Browser {
        http,
        base: format!("https://localhost:{port}"),
    }
}

impl Browser {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts a form as the console's own page does; answers the status and the Location
    /// (a redirect) or the page.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        self.post_from(path, form, "same-origin").await
    }

    async fn post_from(
        &self,
        path: &str,
        form: &[(&str, &str)],
        site: &str,
    ) -> (StatusCode, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("sec-fetch-site", site)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        match r.headers().get("location") {
            Some(l) => (status, l.to_str().unwrap().to_owned()),
            None => (status, r.text().await.unwrap()),
        }
    }
}

/// The text of the element with `id` (up to its first child tag).
fn by_id(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id} in:\n{html}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap() + start;
    rest[start..end].trim().to_owned()
}

/// The value of the hidden `name` input.
fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

/// telecom-gd answers for 58.60.0.0/14 and party-gd holds 58.60.1.0/24; vendor-bj reports
/// 58.60.1.1. Returns the unidentified threat's id.
async fn reported_threat(app: &TestApp) -> String {
    use pb::OwnershipKind as O;
    let entry = |value: &str, owner: &str, relation: pb::OwnershipRelation| pb::OwnershipEntry {
        kind: O::IpPrefix as i32,
        value: value.into(),
        owner_organisation_id: owner.into(),
        relation: relation as i32,
        ..Default::default()
    };
    let registry = app.client("miit").await.registry();
    for e in [
        entry(
            "58.60.0.0/14",
            "telecom-gd",
            pb::OwnershipRelation::Unspecified,
        ),
        entry("58.60.1.0/24", "party-gd", pb::OwnershipRelation::Holder),
    ] {
        registry
            .clone()
            .import_ownership_entries(pb::ImportOwnershipEntriesRequest {
                entries: vec![e],
                replace_owner_entries: false,
            })
            .await
            .unwrap();
    }
    app.client("vendor-bj")
        .await
        .unit()
        .submit(
            &uuid::Uuid::new_v4().to_string(),
            report(app, pb::Tlp::Green, ip("58.60.1.1")),
        )
        .await
        .unwrap()
        .threat_id
}

async fn a_regulator_and_the_institution_work_a_threat_from_the_console(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let threat = reported_threat(&app).await;
    let cncert = browser(&app, "cncert");
    let miit = browser(&app, "miit");

    // The Art. 7 queue lists it; the institution's officer confirms it from the console.
    let (status, queue) = cncert.get("/identification").await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert!(queue.contains(&threat), "{queue}");
    let token = app.token("cncert", "duty-officer");
    let (status, location) = cncert
        .post(
            &format!("/threats/{threat}/identify"),
            &[
                ("outcome", "IDENTIFICATION_OUTCOME_CONFIRMED"),
                ("grade", "EVENT_GRADE_SERIOUS"),
                ("reason", "sinkhole data"),
                ("grade_reason", "graded for the scenario under test"),
                ("officer_token", &token),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, page) = cncert.get(&location).await;
    assert_eq!(by_id(&page, "threat-status"), "已确认");
    assert_eq!(by_id(&page, "done"), "认定已记录");
    let stored = app
        .client("cncert")
        .await
        .threats()
        .get_threat(pb::GetThreatRequest {
            threat_id: threat.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .threat
        .unwrap();
    assert_eq!(stored.status, pb::ThreatStatus::Confirmed as i32);

    // The dashboard shows the statistics' figures of this month.
    let month = pb::StatisticsRequest {
        period: Some(pb::StatisticsPeriod {
            span: Some(pb::statistics_period::Span::Month("2026-06".into())),
        }),
        ..Default::default()
    };
    let figures = app
        .client("miit")
        .await
        .statistics()
        .get_threat_statistics(month)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(figures.sightings, 1);
    let (status, dashboard) = miit.get("/").await;
    assert_eq!(status, StatusCode::OK, "{dashboard}");
    assert_eq!(
        by_id(&dashboard, "month-sightings"),
        figures.sightings.to_string()
    );
    assert_eq!(
        by_id(&dashboard, "month-threats"),
        figures.threats.to_string()
    );
    assert_eq!(by_id(&dashboard, "me"), "miit");
    assert!(
        dashboard.contains("data:image/svg+xml;base64,"),
        "charts are drawn"
    );

    // Search finds it by indicator and status; the unfiltered queue no longer lists it.
    let (status, found) = miit
        .get("/threats?indicator=58.60.1.1&status=THREAT_STATUS_CONFIRMED")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert!(
        found.contains(&format!("data-threat=\"{threat}\"")),
        "{found}"
    );
    let (_, queue) = cncert.get("/identification").await;
    assert!(!queue.contains(&threat), "{queue}");

    // The regulator issues a decision from the console; the unit's stream delivers it.
    let telecom = app.client("telecom-gd").await;
    let mut stream = telecom
        .disposal()
        .subscribe_notices(pb::SubscribeNoticesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let (_, page) = miit.get(&format!("/threats/{threat}")).await;
    let request_id = hidden(&page, "request_id");
    let token = app.token("miit", "duty-officer");
    let form = [
        ("request_id", request_id.as_str()),
        ("measure_type", "MEASURE_TYPE_STOP_SERVICE_OR_BLOCK"),
        ("target_kind", "MEASURE_TARGET_KIND_IP"),
        ("target_value", "58.60.1.1"),
        ("legal_basis", "Measures Art. 8"),
        ("instructions", "Block the address"),
        ("time_limit", "24"),
        ("time_unit", "hours"),
        ("addressee", "telecom-gd"),
        ("officer_token", token.as_str()),
    ];
    let (status, location) = miit
        .post(&format!("/threats/{threat}/decision"), &form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let decision = location
        .strip_prefix("/notices?decision_id=")
        .and_then(|r| r.split('&').next())
        .unwrap()
        .to_owned();
    // The form sent twice is one decision (its request_id).
    let (_, again) = miit
        .post(&format!("/threats/{threat}/decision"), &form)
        .await;
    assert!(again.contains(&decision), "{again}");
    let delivered = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the notice arrives on the unit's stream")
        .unwrap()
        .unwrap()
        .notice
        .unwrap();
    let body = crate::disposal::verified_body(&app, &delivered);
    assert_eq!(body.decision_id, decision);
    assert_eq!(body.issuing_officer_name, "duty-officer");
    let (_, notices) = miit.get(&location).await;
    assert!(notices.contains(&delivered.notice_id), "{notices}");
    assert_eq!(by_id(&notices, "done"), "处置决定已下达，通知已签名并送达");

    // The unit acknowledges the body it is shown and reports, from the console.
    let targets: Vec<String> = body.targets.iter().map(|t| t.target_id.clone()).collect();
    let unit = browser(&app, "telecom-gd");
    let notice_page = format!("/notices/{}", delivered.notice_id);
    let (_, page) = unit.get(&notice_page).await;
    let shown = hidden(&page, "body_sha256");
    let received = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(
            &delivered.signed.as_ref().unwrap().body,
        ))
    };
    assert_eq!(
        shown, received,
        "the page acknowledges the signed body as delivered"
    );
    let (status, location) = unit
        .post(
            &format!("{notice_page}/acknowledge"),
            &[("body_sha256", shown.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, page) = unit.get(&location).await;
    assert_eq!(by_id(&page, "notice-state"), "已签收");
    let mut form: Vec<(String, String)> = targets
        .iter()
        .map(|t| {
            (
                format!("outcome:{t}"),
                "DISPOSAL_OUTCOME_DISPOSED".to_owned(),
            )
        })
        .collect();
    form.push(("contact_person".into(), "Duty NOC".into()));
    form.push(("contact_phone".into(), "+86 20 5555 0101".into()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, location) = unit.post(&format!("{notice_page}/result"), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, notice) = miit.get(&notice_page).await;
    assert_eq!(by_id(&notice, "notice-state"), "已反馈结果");

    // The affected party appeals; the console counts the working days left as the calendar.
    let appeal = file(
        &app.client("party-gd").await,
        by_party(&delivered, &targets[0]),
    )
    .await
    .unwrap();
    let due = appeal.answer_due_on.expect("answer due on a known day");
    let left = app
        .client("miit")
        .await
        .calendar()
        .working_days_between(pb::WorkingDaysBetweenRequest {
            from: Some(crate::support::today(&app)),
            to: Some(due),
        })
        .await
        .unwrap()
        .into_inner()
        .working_days;
    assert_eq!(left, 30, "filed today: 30 working days to answer (Art. 10)");
    let (_, page) = miit.get(&format!("/appeals/{}", appeal.id)).await;
    assert_eq!(by_id(&page, "days-left"), left.to_string());
    assert_eq!(
        by_id(&page, "answer-due"),
        format!("{:04}-{:02}-{:02}", due.year, due.month, due.day)
    );
    // Five days on, five working days fewer (2026-06-01 is a Monday).
    app.clock.set(shanghai("2026-06-08", 10));
    let (_, list) = miit.get("/appeals").await;
    assert!(
        list.contains(&format!("<td class=\"days-left\">{}</td>", left - 5)),
        "{list}"
    );

    // Nothing is overdue yet: the non-compliance page is empty but served.
    let (status, page) = miit.get("/compliance").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"non-compliance\""), "{page}");

    // The deciding regulator upholds the measure from the console.
    let token = app.token("miit", "duty-officer");
    let (status, location) = miit
        .post(
            &format!("/appeals/{}/answer", appeal.id),
            &[
                ("decision", "APPEAL_DECISION_UPHELD"),
                ("reasons", "The control server was still active on the 5th"),
                ("officer_token", &token),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let answered = app
        .client("miit")
        .await
        .appeals()
        .get_appeal(pb::GetAppealRequest {
            appeal_id: appeal.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert_eq!(answered.state, pb::AppealState::Answered as i32);
    assert_eq!(answered.answer.unwrap().officer_name, "duty-officer");

    // The institution's officer verifies the results from the console.
    let (_, page) = cncert.get(&notice_page).await;
    assert!(page.contains("id=\"verify-form\""), "{page}");
    let token = app.token("cncert", "duty-officer");
    let mut form: Vec<(String, String)> = targets
        .iter()
        .map(|t| {
            (
                format!("outcome:{t}"),
                "VERIFICATION_OUTCOME_EFFECTIVE".to_owned(),
            )
        })
        .collect();
    form.push(("officer_token".into(), token));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, location) = cncert.post(&format!("{notice_page}/verify"), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, page) = cncert.get(&location).await;
    assert_eq!(by_id(&page, "notice-state"), "已核查");

    // In English on request.
    let (_, english) = miit.get("/lang/en?back=/appeals").await;
    assert!(english.is_empty() || english.contains("appeals"));
    let r = miit
        .http
        .get(format!("{}/appeals", miit.base))
        .header("cookie", "lang=en")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Working days left"));
}

async fn every_route_refuses_a_certificate_of_a_role_its_rpc_denies(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    app.add_organisation("cac-gd", pb::Role::InformationalRecipient, "440000", "")
        .await;
    app.add_organisation("ops-bj", pb::Role::PlatformOperator, "110000", "")
        .await;
    let threat = reported_threat(&app).await;
    let some = "00000000-0000-0000-0000-000000000000";
    // (route, an organisation whose role the route's RPC denies)
    let pages = [
        ("/".to_owned(), "cac-gd"),
        ("/identification".to_owned(), "telecom-gd"),
        ("/notices".to_owned(), "ops-bj"),
        (format!("/notices/{some}"), "ops-bj"),
        ("/compliance".to_owned(), "party-gd"),
        ("/appeals".to_owned(), "cncert"),
        (format!("/appeals/{some}"), "cncert"),
    ];
    for (path, org) in &pages {
        let (status, page) = browser(&app, org).get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{org} {path}: {page}");
        assert!(page.contains("docs/authorization.md"), "{page}");
    }
    // GET /threats and /threats/{id} follow SearchThreats and GetThreat: every role may call
    // them, and the TLP rule decides what each sees.
    for org in ["cac-gd", "ops-bj", "party-gd"] {
        let (status, _) = browser(&app, org).get("/threats").await;
        assert_eq!(status, StatusCode::OK, "{org}");
    }
    // Actions: the wrong role with its own valid officer token.
    let zeros = "0".repeat(64);
    let actions = [
        (
            format!("/threats/{threat}/identify"),
            "miit",
            vec![
                ("outcome", "IDENTIFICATION_OUTCOME_CONFIRMED"),
                ("grade", "EVENT_GRADE_SERIOUS"),
            ],
        ),
        (
            format!("/threats/{threat}/decision"),
            "cncert",
            vec![
                ("request_id", "r-1"),
                ("measure_type", "MEASURE_TYPE_STOP_SERVICE_OR_BLOCK"),
                ("target_kind", "MEASURE_TARGET_KIND_IP"),
                ("target_value", "58.60.1.1"),
            ],
        ),
        (
            format!("/appeals/{some}/answer"),
            "telecom-gd",
            vec![("decision", "APPEAL_DECISION_UPHELD"), ("reasons", "no")],
        ),
        (
            format!("/notices/{some}/acknowledge"),
            "miit",
            vec![("body_sha256", &zeros)],
        ),
        (
            format!("/notices/{some}/result"),
            "party-gd",
            vec![("outcome:t", "DISPOSAL_OUTCOME_DISPOSED")],
        ),
        (
            format!("/notices/{some}/verify"),
            "telecom-gd",
            vec![("outcome:t", "VERIFICATION_OUTCOME_EFFECTIVE")],
        ),
    ];
    for (path, org, form) in &actions {
        let token = app.token(org, "duty-officer");
        let mut form = form.clone();
        form.push(("officer_token", &token));
        let (status, page) = browser(&app, org).post(path, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{org} {path}: {page}");
    }
    let stored = app
        .client("cncert")
        .await
        .threats()
        .get_threat(pb::GetThreatRequest {
            threat_id: threat,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .threat
        .unwrap();
    assert_eq!(stored.status, pb::ThreatStatus::Unidentified as i32);
}

async fn bad_forms_are_refused_with_the_field_and_nothing_happens(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let threat = reported_threat(&app).await;
    let cncert = browser(&app, "cncert");
    let path = format!("/threats/{threat}/identify");
    let token = app.token("cncert", "duty-officer");
    let good = [
        ("outcome", "IDENTIFICATION_OUTCOME_CONFIRMED"),
        ("grade", "EVENT_GRADE_SERIOUS"),
        ("grade_reason", "graded for the scenario under test"),
    ];
    // No officer token: a decision needs one.
    let (status, page) = cncert.post(&path, &good).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("officer token"), "{page}");
    // A token that is not one.
    let mut form = good.to_vec();
    form.push(("officer_token", "not-a-jwt"));
    let (status, page) = cncert.post(&path, &form).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    // A choice that is not one: the field is named.
    let (status, page) = cncert
        .post(
            &path,
            &[
                ("outcome", "MAYBE"),
                ("grade", "EVENT_GRADE_SERIOUS"),
                ("officer_token", &token),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("outcome"), "{page}");
    // The workflow's own refusal, with its message: an unknown threat.
    let (status, page) = cncert
        .post(
            "/threats/no-such-threat/identify",
            &[
                ("outcome", "IDENTIFICATION_OUTCOME_CONFIRMED"),
                ("grade", "EVENT_GRADE_SERIOUS"),
                ("officer_token", &token),
            ],
        )
        .await;
    assert!(status.is_client_error(), "{status} {page}");
    // A form sent from another site is refused before anything is read.
    let mut form = good.to_vec();
    form.push(("officer_token", &token));
    let (status, page) = cncert.post_from(&path, &form, "cross-site").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    // A page that does not exist; a threat that does not exist.
    assert_eq!(cncert.get("/nowhere").await.0, StatusCode::NOT_FOUND);
    assert!(
        cncert
            .get("/threats/no-such-threat")
            .await
            .0
            .is_client_error()
    );
    // Nothing was identified by any of it.
    let stored = app
        .client("cncert")
        .await
        .threats()
        .get_threat(pb::GetThreatRequest {
            threat_id: threat.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .threat
        .unwrap();
    assert_eq!(stored.status, pb::ThreatStatus::Unidentified as i32);
    // The dev PKI's PKCS#12 holds the organisation's certificate and key and the CA.
    let p12 = std::fs::read(app.pki().client_p12("cncert")).unwrap();
    let store = p12_keystore::KeyStore::from_pkcs12(
        &p12,
        fenghuo::pki::dev::DEV_P12_PASSWORD,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .unwrap();
    let (_, chain) = store.private_key_chain().expect("a key with its chain");
    let pem = app.client_pki("cncert").cert_pem;
    use rustls::pki_types::pem::PemObject as _;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    assert_eq!(chain.certs()[0].as_der(), der.as_ref());
    assert_eq!(chain.certs().len(), 2);
}

async fn a_unit_lists_views_and_downloads_the_published_bulletins(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    if !crate::bulletin_rpcs::publish(&app, "2026-05").await {
        return; // no Chinese font outside CI
    }
    let unit = browser(&app, "telecom-gd");
    let (status, page) = unit.get("/bulletins").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for lang in ["zh-CN", "en"] {
        assert!(
            page.contains(&format!("data-bulletin=\"2026-05/{lang}\"")),
            "{page}"
        );
    }
    let published = app
        .client("telecom-gd")
        .await
        .statistics()
        .get_bulletin(pb::GetBulletinRequest {
            month: "2026-05".into(),
            language: "zh-CN".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // The PDF downloads byte for byte as published (its signature covers these bytes).
    let r = unit
        .http
        .get(format!("{}/bulletins/2026-05/zh-CN.pdf", unit.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), published.pdf.as_slice());
    // The HTML page is shown with its own styles and inline charts, nothing else.
    let r = unit
        .http
        .get(format!("{}/bulletins/2026-05/zh-CN.html", unit.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert_eq!(r.bytes().await.unwrap().as_ref(), published.html.as_slice());
    // Refusals by name: a month that is not one, a month not published, a file that is not one.
    let (status, page) = unit.get("/bulletins/2026-13/zh-CN.pdf").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("month"), "{page}");
    let (status, page) = unit.get("/bulletins/2026-04/zh-CN.pdf").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(page.contains("2026-04"), "{page}");
    let (status, _) = unit.get("/bulletins/2026-05/zh-CN.doc").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
