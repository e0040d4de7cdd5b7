//! Ordered measures in ExportStix (issue #14): the disposal notices a caller sees as
//! ListNotices shows them, as the courses of action TAXII's ordered-measures collection
//! serves; valid for the OASIS validator; never a threat when imported back.

use fenghuo::domain::clock::Clock;
use fenghuo_client::Client;
use fenghuo_client::pb;
use serde_json::Value;

use crate::disposal::{confirmed_threat, decision, measure, target};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

const EXTENSION: &str = "extension-definition--231cbc98-c9e7-5787-a75f-0fecc33e2c3d";
const TLP_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";

on_both_backends!(
    an_export_carries_the_ordered_measures_each_caller_sees_as_list_notices_shows_them,
    an_export_with_ordered_measures_passes_the_oasis_validator,
    ordered_measures_imported_back_are_used_or_refused_and_never_stored_as_threats,
);

/// vendor-bj reports 58.60.1.1 (TLP:GREEN), cncert confirms, and five minutes later miit
/// orders it blocked: the notice goes to telecom-gd, which the ownership registry makes
/// responsible. Returns the threat id.
pub(crate) async fn ordered(app: &TestApp) -> String {
    let threat = confirmed_threat(app, pb::EventGrade::Serious).await;
    app.clock.advance(chrono::Duration::minutes(5));
    app.officer("miit")
        .await
        .disposal()
        .issue_decision(decision(
            "stix-measure",
            &threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(pb::MeasureTargetKind::Ip, "58.60.1.1")],
            )],
        ))
        .await
        .unwrap();
    threat
}

/// Every bundle of an ExportStix call, with its counts.
async fn export(client: &Client, request: pb::ExportStixRequest) -> Vec<pb::StixBundle> {
    let mut stream = client
        .threats()
        .export_stix(request)
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(b) = stream.message().await.unwrap() {
        out.push(b);
    }
    out
}

fn objects(bundles: &[pb::StixBundle]) -> Vec<Value> {
    bundles
        .iter()
        .flat_map(|b| {
            let v: Value = serde_json::from_str(&b.json).unwrap();
            v["objects"].as_array().unwrap().clone()
        })
        .collect()
}

/// The ordered measures' courses of action among `objects`.
fn measures(objects: &[Value]) -> Vec<&Value> {
    objects
        .iter()
        .filter(|o| {
            o["type"] == "course-of-action" && o["extensions"][EXTENSION]["notice_id"].is_string()
        })
        .collect()
}

async fn an_export_carries_the_ordered_measures_each_caller_sees_as_list_notices_shows_them(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = ordered(&app).await;
    let telecom = app.client("telecom-gd").await;
    let bundles = export(&telecom, Default::default()).await;
    // The sightings first, then one bundle with the measure.
    assert_eq!(bundles.len(), 2, "{bundles:#?}");
    assert_eq!(
        (bundles[0].sighting_count, bundles[0].measure_count),
        (1, 0)
    );
    assert_eq!(
        (bundles[1].sighting_count, bundles[1].measure_count),
        (0, 1)
    );
    let all = objects(&bundles);
    let coas = measures(&all);
    assert_eq!(coas.len(), 1);
    let coa = coas[0];
    assert_eq!(coa["extensions"][EXTENSION]["threat_id"], threat.as_str());
    assert_eq!(coa["object_marking_refs"][0], TLP_AMBER_STRICT);
    assert!(
        coa["name"]
            .as_str()
            .unwrap()
            .contains("stop service or block"),
        "{coa}"
    );
    // Its relationship names the report object of the sighting the first bundle carries,
    // and the bundle holds the issuer's identity and the marking it uses.
    let rel = all
        .iter()
        .find(|o| o["type"] == "relationship" && o["source_ref"] == coa["id"])
        .unwrap();
    assert_eq!(rel["relationship_type"], "mitigates");
    let sighting = all.iter().find(|o| o["type"] == "sighting").unwrap();
    assert_eq!(rel["target_ref"], sighting["sighting_of_ref"]);
    let measures_bundle: Value = serde_json::from_str(&bundles[1].json).unwrap();
    let in_bundle = |id: &Value| {
        measures_bundle["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == *id)
    };
    assert!(in_bundle(&coa["created_by_ref"]));
    assert!(in_bundle(&TLP_AMBER_STRICT.into()));
    // Exactly the disposal notices ListNotices shows each organisation (vendor-bj, the
    // reporter, is no addressee: none; the affected party's role may list its own: none).
    for org in [
        "miit",
        "gdca",
        "cncert",
        "telecom-gd",
        "vendor-bj",
        "party-gd",
    ] {
        let client = app.client(org).await;
        let listed = client
            .disposal()
            .list_notices(pb::ListNoticesRequest {
                kinds: vec![pb::NoticeKind::Disposal as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .notices
            .len();
        let exported = export(&client, Default::default()).await;
        assert_eq!(measures(&objects(&exported)).len(), listed, "{org}");
    }
    // Filters apply: another category, or a `since` after the notice, exports none.
    let hazards = export(
        &telecom,
        pb::ExportStixRequest {
            categories: vec![pb::ThreatCategory::SecurityHazard as i32],
            ..Default::default()
        },
    )
    .await;
    assert!(hazards.is_empty(), "{hazards:#?}");
    let later = prost_types::Timestamp {
        seconds: app.clock.now().timestamp() + 60,
        nanos: 0,
    };
    let after = export(
        &telecom,
        pb::ExportStixRequest {
            since: Some(later),
            ..Default::default()
        },
    )
    .await;
    assert!(after.is_empty(), "{after:#?}");
    // A `since` between the report and the notice: the measure alone, its relationship still
    // naming the report object of the earlier export.
    let between = prost_types::Timestamp {
        seconds: app.clock.now().timestamp() - 60,
        nanos: 0,
    };
    let only = export(
        &telecom,
        pb::ExportStixRequest {
            since: Some(between),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(only.len(), 1, "{only:#?}");
    assert_eq!(only[0].measure_count, 1);
    app.stop().await;
}

async fn an_export_with_ordered_measures_passes_the_oasis_validator(backend: Backend) {
    let Some(python) = crate::stix::oasis_python() else {
        return;
    };
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    ordered(&app).await;
    let bundles = app
        .client("telecom-gd")
        .await
        .export_stix(None, vec![])
        .await
        .unwrap();
    assert_eq!(bundles.len(), 2);
    for bundle in &bundles {
        crate::stix::assert_valid(&python, bundle);
    }
    app.stop().await;
}

async fn ordered_measures_imported_back_are_used_or_refused_and_never_stored_as_threats(
    backend: Backend,
) {
    use pb::StixObjectOutcome as O;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = ordered(&app).await;
    let telecom = app.client("telecom-gd").await;
    let bundles = telecom.export_stix(None, vec![]).await.unwrap();
    let parsed: Vec<Value> = bundles
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let outcome = |r: &pb::StixObjectResult| O::try_from(r.outcome).unwrap();
    // The whole export as one bundle: the measure is part of the report it mitigates, which
    // telecom-gd reports anew as a sighting of the same threat.
    let merged = fenghuo::stix::export::merge(&parsed);
    let results = telecom
        .import_stix(merged.to_string().as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(results.len(), merged["objects"].as_array().unwrap().len());
    let coa_id = measures(merged["objects"].as_array().unwrap())[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let coa = results.iter().find(|r| r.object_id == coa_id).unwrap();
    assert_eq!(outcome(coa), O::Used, "{coa:?}");
    let reports: Vec<_> = results
        .iter()
        .filter(|r| matches!(outcome(r), O::Stored | O::Sighting | O::Replayed))
        .collect();
    assert_eq!(reports.len(), 1, "{results:#?}");
    assert_eq!(reports[0].r#type, "sighting");
    assert_eq!(reports[0].threat_id, threat);
    // The measures' bundle alone: nothing is a report; each object says why.
    let results = telecom
        .import_stix(bundles[1].as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(
        results.len(),
        parsed[1]["objects"].as_array().unwrap().len()
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(outcome(r), O::Refused | O::Used) && r.threat_id.is_empty()),
        "{results:#?}"
    );
    let coa = results.iter().find(|r| r.object_id == coa_id).unwrap();
    assert_eq!(outcome(coa), O::Refused);
    let reason = &coa.refusal.as_ref().unwrap().reason;
    assert!(
        reason.contains("disposal notice") && reason.contains("Art. 8"),
        "{reason}"
    );
    let rel = results.iter().find(|r| r.r#type == "relationship").unwrap();
    assert_eq!(outcome(rel), O::Refused);
    app.stop().await;
}
