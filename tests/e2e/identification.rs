//! Identification of threats by a professional institution (Art. 7).

use std::time::Duration;

use fenghuo_client::pb;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::on_both_backends;
use crate::support::{Backend, spawn_app};
use crate::threats::{ip, report};

fn confirm(threat_id: &str) -> pb::IdentifyRequest {
    pb::IdentifyRequest {
        threat_id: threat_id.into(),
        outcome: pb::IdentificationOutcome::Confirmed as i32,
        grade: pb::EventGrade::Major as i32,
        reason: String::new(),
        grade_reason: String::new(),
        potential_harm: String::new(),
        recommended_measures: vec![pb::RecommendedMeasure {
            measure_type: pb::MeasureType::StopServiceOrBlock as i32,
            targets: vec![pb::MeasureTarget {
                kind: pb::MeasureTargetKind::Ip as i32,
                value: " 45.33.32.156 ".into(),
            }],
            rationale: "Botnet control server".into(),
        }],
    }
}

fn field(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    status.get_details_bad_request().unwrap().field_violations[0]
        .field
        .clone()
}

on_both_backends!(an_institution_confirms_a_threat_once_and_everyone_who_sees_it_learns_of_it);

async fn an_institution_confirms_a_threat_once_and_everyone_who_sees_it_learns_of_it(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let first = vendor
        .unit()
        .submit("id-1", report(&app, pb::Tlp::Green, ip("45.33.32.156")))
        .await
        .unwrap();
    let second = vendor
        .unit()
        .submit("id-2", report(&app, pb::Tlp::Green, ip("45.33.32.157")))
        .await
        .unwrap();
    let cncert = app.officer("cncert").await;

    // The queue, oldest first.
    let queue = cncert
        .identification()
        .list_unidentified(pb::ListUnidentifiedRequest::default())
        .await
        .unwrap()
        .into_inner()
        .threats;
    assert_eq!(
        queue.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        [first.threat_id.as_str(), second.threat_id.as_str()]
    );

    // Bad requests name their field.
    let mut no_grade = confirm(&first.threat_id);
    no_grade.grade = 0;
    assert_eq!(
        field(
            &cncert
                .identification()
                .identify(no_grade)
                .await
                .unwrap_err()
        ),
        "grade"
    );
    let reject = pb::IdentifyRequest {
        threat_id: first.threat_id.clone(),
        outcome: pb::IdentificationOutcome::Rejected as i32,
        ..Default::default()
    };
    assert_eq!(
        field(&cncert.identification().identify(reject).await.unwrap_err()),
        "reason"
    );
    let mut private_target = confirm(&first.threat_id);
    private_target.recommended_measures[0].targets[0].value = "10.0.0.1".into();
    assert_eq!(
        field(
            &cncert
                .identification()
                .identify(private_target)
                .await
                .unwrap_err()
        ),
        "recommended_measures[0].targets[0].value"
    );

    let done = cncert
        .identification()
        .identify(confirm(&first.threat_id))
        .await
        .unwrap()
        .into_inner()
        .identification
        .unwrap();
    assert_eq!(done.institution_organisation_id, "cncert");
    assert_eq!(done.officer_name, "duty-officer");
    assert_eq!(
        done.recommended_measures[0].targets[0].value,
        "45.33.32.156"
    );
    // An identical retry answers the same; anything else is refused (Art. 7: once).
    let again = cncert
        .identification()
        .identify(confirm(&first.threat_id))
        .await
        .unwrap()
        .into_inner()
        .identification
        .unwrap();
    assert_eq!(again.id, done.id);
    let mut other = confirm(&first.threat_id);
    other.grade = pb::EventGrade::General as i32;
    let err = cncert.identification().identify(other).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("cncert"), "{}", err.message());

    // The threat shows it, the queue drops it, a unit's feed tells it.
    let threat = vendor.threat(&first.threat_id).await.unwrap();
    assert_eq!(threat.status, pb::ThreatStatus::Confirmed as i32);
    assert_eq!(threat.grade, pb::EventGrade::Major as i32);
    assert_eq!(threat.identification.unwrap().identification_id, done.id);
    let queue = cncert
        .identification()
        .list_unidentified(pb::ListUnidentifiedRequest::default())
        .await
        .unwrap()
        .into_inner()
        .threats;
    assert_eq!(queue.len(), 1);
    let mut feed = app.client("telecom-gd").await.feed(None).await.unwrap();
    let identified = loop {
        let e = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Some(pb::feed_event::Event::Identified(i)) = e.event {
            assert_eq!(e.threat_id, first.threat_id);
            break i;
        }
    };
    assert_eq!(
        identified.outcome,
        pb::IdentificationOutcome::Confirmed as i32
    );
    let got = app
        .client("miit")
        .await
        .identification()
        .get_identification(pb::GetIdentificationRequest {
            key: Some(pb::get_identification_request::Key::ThreatId(
                first.threat_id.clone(),
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .identification
        .unwrap();
    assert_eq!(got.id, done.id);
    // On the audit chain, with the officer.
    let audit = app
        .client("miit")
        .await
        .regulator()
        .audit_of(&format!("threat:{}", first.threat_id))
        .await
        .unwrap();
    assert_eq!(audit.last().unwrap().action, "identification.identify");
    assert_eq!(audit.last().unwrap().officer, "duty-officer");
    // Rejecting the other one with a reason.
    let reject = pb::IdentifyRequest {
        threat_id: second.threat_id.clone(),
        outcome: pb::IdentificationOutcome::Rejected as i32,
        reason: "Sinkhole operated by a researcher".into(),
        ..Default::default()
    };
    cncert.identification().identify(reject).await.unwrap();
    assert_eq!(
        vendor.threat(&second.threat_id).await.unwrap().status,
        pb::ThreatStatus::Rejected as i32
    );
}
