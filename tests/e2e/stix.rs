//! STIX 2.1 in and out (issue #14): ImportStixBundle through the ordinary intake,
//! ExportStix under the ordinary visibility rule, over mTLS on both backends.

use std::collections::HashMap;

use fenghuo::domain::clock::Clock;
use fenghuo_client::Client;
use fenghuo_client::pb::{self, threat_report::Category as Payload};
use serde_json::{Value, json};
use tonic::Code;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};
use crate::threat_cli::{cli, json_lines};
use crate::threats::{ip, report, ts};

const EXTENSION: &str = "extension-definition--231cbc98-c9e7-5787-a75f-0fecc33e2c3d";
const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const TLP_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const TLP_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

on_both_backends!(
    every_category_round_trips_through_stix_without_loss_and_a_replay_stores_nothing,
    objects_fenghuo_cannot_map_are_refused_with_reasons_and_none_is_dropped,
    an_export_shows_each_caller_exactly_the_sightings_it_may_see,
    a_bundle_exported_by_misp_gets_an_answer_for_every_object,
    the_cli_exports_a_bundle_and_submits_it_back_and_a_rerun_replays,
    an_export_of_every_kind_passes_the_oasis_validator_and_parses_with_stix2,
);

/// One report of every Art. 2 category and every kind of malicious resource.
fn every_kind() -> Vec<Payload> {
    use pb::MaliciousResourceKind as K;
    let resource = |kind: K, value: &str| {
        Payload::MaliciousResource(pb::MaliciousResource {
            kind: kind as i32,
            value: value.into(),
            purpose: pb::MaliciousResourcePurpose::Phishing as i32,
            ..Default::default()
        })
    };
    let asset = |a| Some(pb::AffectedAsset { asset: Some(a) });
    vec![
        ip("45.33.32.156"),
        resource(K::Ip, "2606:4700:4700::1111"),
        resource(K::Domain, "phish-example.com"),
        resource(K::Url, "http://phish-example.com/login?id='7'"),
        resource(K::EmailAddress, "boss@phish-example.com"),
        resource(K::PhoneNumber, "+8613800138000"),
        Payload::MaliciousResource(pb::MaliciousResource {
            kind: K::SmsMessage as i32,
            value: "+8613800138001".into(),
            purpose: pb::MaliciousResourcePurpose::Fraud as i32,
            control_server: None,
            message: Some(pb::MaliciousMessage {
                subject: String::new(),
                content_excerpt: "Your parcel is held".into(),
                content_sha256: "cd".repeat(32),
                recipient_count: 5000,
            }),
        }),
        resource(K::MmsMessage, "+8613800138002"),
        resource(K::InstantMessage, "wx:scammer42"),
        resource(K::EmailMessage, "hr@phish-example.com"),
        Payload::MaliciousProgram(pb::MaliciousProgram {
            sha256: "ab".repeat(32),
            md5: "12".repeat(16),
            sha1: "34".repeat(20),
            family: "Mirai".into(),
            kind: pb::MalwareKind::Bot as i32,
            platform: pb::MalwarePlatform::Linux as i32,
            file_name: "mirai.arm7".into(),
            size_bytes: 81_234,
            distribution_urls: vec!["http://phish-example.com/bins/mirai.arm7".into()],
        }),
        Payload::SecurityHazard(pb::SecurityHazard {
            kind: pb::HazardKind::CodeVulnerability as i32,
            cve_id: "CVE-2017-0144".into(),
            cnvd_id: "CNVD-2017-02833".into(),
            product: "Windows SMBv1".into(),
            vendor: "Microsoft".into(),
            affected_versions: "before MS17-010".into(),
            affected_asset: asset(pb::affected_asset::Asset::SystemName(
                "provincial portal".into(),
            )),
        }),
        Payload::SecurityIncident(pb::SecurityIncident {
            kind: pb::IncidentKind::DataLeak as i32,
            asset: asset(pb::affected_asset::Asset::Domain("shop.example.cn".into())),
            occurred_at: Some(ts_at(-3600)),
            records_affected: 250_000,
        }),
        Payload::Other(pb::OtherThreat {
            title: "Rogue base station".into(),
            description: "SMS spam from a fake base station".into(),
        }),
    ]
}

fn ts_at(offset: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: 1_780_000_000 + offset,
        nanos: 0,
    }
}

/// Reports of every kind, with a warning and a self-disposal among them.
fn reports(app: &TestApp, tlp: pb::Tlp) -> Vec<pb::ThreatReport> {
    every_kind()
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            let mut r = report(app, tlp, payload);
            if let Some(Payload::SecurityIncident(inc)) = &mut r.category {
                inc.occurred_at = Some(ts(app));
            }
            if i % 3 == 1 {
                r.kind = pb::SubmissionKind::SelfDisposalReport as i32;
                r.self_disposal = Some(pb::SelfDisposal {
                    measures_taken: "blocked at the border".into(),
                    disposed_at: Some(ts(app)),
                    completed: true,
                });
            }
            if i % 3 == 2 {
                r.information = Some(pb::threat_report::Information::Warning(
                    pb::WarningInformation {
                        colour: pb::WarningColour::Orange as i32,
                        description: "A phishing wave".into(),
                        possible_harm_and_degree: "credential theft".into(),
                        affected_users_and_scope: "bank customers in Guangdong".into(),
                        already_known_to: "none".into(),
                        recommended_countermeasures: "block the resource".into(),
                    },
                ));
            }
            r
        })
        .collect()
}

async fn submit_all(
    client: &Client,
    prefix: &str,
    reports: &[pb::ThreatReport],
) -> Vec<(String, String)> {
    let mut sightings = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let ack = client
            .unit()
            .submit(&format!("{prefix}-{i}"), r.clone())
            .await
            .unwrap();
        sightings.push((ack.threat_id, ack.sighting_id));
    }
    sightings
}

/// Every object of every bundle.
fn objects(bundles: &[String]) -> Vec<Value> {
    bundles
        .iter()
        .flat_map(|b| {
            let v: Value = serde_json::from_str(b).unwrap();
            assert_eq!(v["type"], "bundle");
            v["objects"].as_array().unwrap().clone()
        })
        .collect()
}

fn sightings_of(objects: &[Value]) -> Vec<&Value> {
    objects.iter().filter(|o| o["type"] == "sighting").collect()
}

fn outcome(r: &pb::StixObjectResult) -> pb::StixObjectOutcome {
    pb::StixObjectOutcome::try_from(r.outcome).unwrap()
}

/// The reports of these threats' sightings as the server shows them (GetThreat), by sighting id.
async fn shown(client: &Client, threat_ids: &[String]) -> HashMap<String, pb::ThreatReport> {
    let mut out = HashMap::new();
    for id in threat_ids {
        let t = client.threat(id).await.unwrap();
        for s in t.sightings {
            out.insert(s.id.clone(), s.report.unwrap());
        }
    }
    out
}

async fn every_category_round_trips_through_stix_without_loss_and_a_replay_stores_nothing(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let originals = reports(&app, pb::Tlp::Green);
    let native = submit_all(&vendor, "native", &originals).await;

    let first = vendor.export_stix(None, vec![]).await.unwrap();
    let exported = objects(&first);
    assert_eq!(sightings_of(&exported).len(), originals.len());
    for o in &exported {
        if o["type"] != "marking-definition" {
            assert!(o["object_marking_refs"].is_array(), "unmarked: {o}");
        }
    }
    // Deterministic: the same export twice is the same text.
    assert_eq!(vendor.export_stix(None, vec![]).await.unwrap(), first);

    // The reporter importing its own export back: each report is its stored sighting.
    let bundle = first[0].as_bytes();
    let own = vendor.import_stix(bundle, None).await.unwrap();
    let replayed: Vec<&str> = own
        .iter()
        .filter(|a| outcome(a) == pb::StixObjectOutcome::Replayed)
        .map(|a| a.sighting_id.as_str())
        .collect();
    let native_sightings: Vec<&str> = native.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(replayed, native_sightings, "{own:#?}");

    // Another unit importing it: a new sighting of each threat (a new threat for "other",
    // which is never deduplicated), everything else used by a report, nothing refused.
    let telecom = app.client("telecom-gd").await;
    let miit = app.client("miit").await;
    let acks = telecom.import_stix(bundle, None).await.unwrap();
    assert_eq!(acks.len(), exported.len(), "one answer per object");
    let count = |o: pb::StixObjectOutcome| acks.iter().filter(|a| outcome(a) == o).count();
    assert_eq!(count(pb::StixObjectOutcome::Refused), 0, "{acks:#?}");
    assert_eq!(count(pb::StixObjectOutcome::Sighting), originals.len() - 1);
    assert_eq!(count(pb::StixObjectOutcome::Stored), 1);
    assert_eq!(
        count(pb::StixObjectOutcome::Used),
        exported.len() - originals.len()
    );
    // Lossless: every imported report is the original, field for field.
    let imported: Vec<&pb::StixObjectResult> =
        acks.iter().filter(|a| !a.sighting_id.is_empty()).collect();
    let threat_ids: Vec<String> = imported
        .iter()
        .map(|a| a.threat_id.clone())
        .chain(native.iter().map(|(t, _)| t.clone()))
        .collect();
    let before = shown(&miit, &threat_ids).await;
    let native: Vec<String> = native.into_iter().map(|(_, s)| s).collect();
    for (a, original_id) in imported.iter().zip(&native) {
        assert_eq!(
            before[&a.sighting_id], before[original_id],
            "{}",
            a.object_id
        );
        assert!(
            a.submission_id
                .starts_with(&format!("stix:{}:", a.object_id))
        );
    }

    // The same bundle again stores nothing twice.
    let again = telecom.import_stix(bundle, None).await.unwrap();
    for (a, b) in again.iter().zip(&acks) {
        if !a.sighting_id.is_empty() {
            assert_eq!(outcome(a), pb::StixObjectOutcome::Replayed);
            assert_eq!(a.sighting_id, b.sighting_id);
        }
    }
    let threat = miit
        .threat(
            &acks
                .iter()
                .find(|a| !a.threat_id.is_empty())
                .unwrap()
                .threat_id,
        )
        .await
        .unwrap();
    assert_eq!(threat.sighting_count, 2, "the original and one import");

    // Import -> export -> import: the imported sightings export to the same reports.
    let second = objects(&miit.export_stix(None, vec![]).await.unwrap());
    let by_sighting: HashMap<&str, &Value> = sightings_of(&second)
        .into_iter()
        .map(|s| {
            (
                s["extensions"][EXTENSION]["sighting_id"].as_str().unwrap(),
                s,
            )
        })
        .collect();
    for (a, original_id) in imported.iter().zip(&native) {
        assert_eq!(
            by_sighting[a.sighting_id.as_str()]["extensions"][EXTENSION]["report"],
            by_sighting[original_id.as_str()]["extensions"][EXTENSION]["report"]
        );
    }
}

async fn objects_fenghuo_cannot_map_are_refused_with_reasons_and_none_is_dropped(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let t = "2026-01-05T08:00:00.000Z";
    let sdo = |ty: &str, n: u32, extra: Value| {
        let mut o = json!({"type": ty, "spec_version": "2.1", "id": format!("{ty}--00000000-0000-4000-8000-{n:012}"), "created": t, "modified": t});
        o.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        o
    };
    let bundle = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": [
        sdo("indicator", 1, json!({"pattern": "[ipv4-addr:value = '45.33.32.157']", "pattern_type": "stix", "valid_from": t, "object_marking_refs": [TLP_AMBER]})),
        sdo("indicator", 2, json!({"pattern": "[ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '5.6.7.8']", "pattern_type": "stix", "valid_from": t})),
        sdo("indicator", 3, json!({"pattern": "[ipv4-addr:value = '10.0.0.1']", "pattern_type": "stix", "valid_from": t})),
        sdo("indicator", 4, json!({"pattern": "alert tcp any any", "pattern_type": "snort", "valid_from": t})),
        sdo("malware", 5, json!({"name": "Emotet", "is_family": true})),
        sdo("incident", 6, json!({"name": "Breach"})),
        sdo("sighting", 7, json!({"sighting_of_ref": "indicator--00000000-0000-4000-8000-000000000099"})),
        sdo("threat-actor", 8, json!({"name": "APT0"})),
        sdo("indicator", 9, json!({"pattern": "[domain-name:value = 'old-example.com']", "pattern_type": "stix", "valid_from": t, "revoked": true})),
        {"type": "ipv4-addr", "id": "ipv4-addr--00000000-0000-4000-8000-000000000010", "value": "198.51.100.1"},
        json!("not an object"),
    ]});
    let defaults = pb::StixImportDefaults {
        information: report(&app, pb::Tlp::Green, ip("45.33.32.156"))
            .information
            .map(|i| match i {
                pb::threat_report::Information::Event(e) => {
                    pb::stix_import_defaults::Information::Event(e)
                }
                pb::threat_report::Information::Warning(w) => {
                    pb::stix_import_defaults::Information::Warning(w)
                }
            }),
        ..Default::default()
    };
    let acks = vendor
        .import_stix(bundle.to_string().as_bytes(), Some(defaults))
        .await
        .unwrap();
    assert_eq!(acks.len(), 11, "one answer per object, none dropped");
    assert_eq!(outcome(&acks[0]), pb::StixObjectOutcome::Stored);
    let refusal = |i: usize| {
        let r = acks[i]
            .refusal
            .clone()
            .unwrap_or_else(|| panic!("{:?}", acks[i]));
        assert_eq!(outcome(&acks[i]), pb::StixObjectOutcome::Refused);
        (r.field, r.reason)
    };
    assert_eq!(refusal(1).0, "pattern");
    assert!(refusal(1).1.contains("one comparison"), "{:?}", refusal(1));
    assert_eq!(refusal(2).0, "report.malicious_resource.value");
    assert!(refusal(2).1.contains("private-use"), "{:?}", refusal(2));
    assert_eq!(refusal(3).0, "pattern_type");
    assert_eq!(refusal(4).0, "sample_refs");
    assert_eq!(refusal(5).0, "incident");
    assert_eq!(refusal(6).0, "sighting_of_ref");
    assert!(refusal(7).1.contains("threat-actor is not mapped"));
    assert_eq!(refusal(8).0, "revoked");
    assert!(refusal(9).1.contains("only as part of a report"));
    assert_eq!(acks[10].object_id, "objects[10]");
    assert_eq!(refusal(10).0, "type");
    // The marking maps back; no marking is noted.
    let stored = vendor.threat(&acks[0].threat_id).await.unwrap();
    assert_eq!(
        stored.sightings[0].report.as_ref().unwrap().tlp,
        pb::Tlp::Amber as i32
    );
    assert!(acks[0].notes.iter().all(|n| !n.contains("no TLP marking")));

    // Without defaults a foreign object is refused naming them; not a bundle ends the call.
    let acks = vendor
        .import_stix(bundle.to_string().as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(refusal_field(&acks[0]), "defaults.information");
    let err = vendor
        .import_stix(b"{\"type\": \"report\"}", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("not a STIX bundle"),
        "{}",
        err.message()
    );
    let err = vendor.import_stix(b"[1,", None).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

fn refusal_field(r: &pb::StixObjectResult) -> String {
    r.refusal.clone().map(|r| r.field).unwrap_or_default()
}

async fn an_export_shows_each_caller_exactly_the_sightings_it_may_see(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    for (id, tlp, value) in [
        ("g", pb::Tlp::Green, "45.33.32.160"),
        ("a", pb::Tlp::Amber, "45.33.32.161"),
        ("r", pb::Tlp::Red, "45.33.32.162"),
    ] {
        vendor
            .unit()
            .submit(id, report(&app, tlp, ip(value)))
            .await
            .unwrap();
    }
    let markings = |bundles: Vec<String>| -> Vec<String> {
        let mut m: Vec<String> = sightings_of(&objects(&bundles))
            .into_iter()
            .map(|s| s["object_marking_refs"][0].as_str().unwrap().to_owned())
            .collect();
        m.sort();
        m
    };
    let everything = markings(
        app.client("miit")
            .await
            .export_stix(None, vec![])
            .await
            .unwrap(),
    );
    assert_eq!(everything.len(), 3);
    assert!(everything.contains(&TLP_RED.to_owned()));
    // Another unit sees the GREEN sighting only, as SearchThreats would show it.
    let registrar = app.client("registrar-bj").await;
    assert_eq!(
        markings(registrar.export_stix(None, vec![]).await.unwrap()),
        vec![TLP_GREEN.to_owned()]
    );
    // The reporter sees its own; filters narrow.
    assert_eq!(
        markings(vendor.export_stix(None, vec![]).await.unwrap()).len(),
        3
    );
    let none = vendor
        .export_stix(None, vec![pb::ThreatCategory::SecurityHazard])
        .await
        .unwrap();
    assert!(none.is_empty());
    let later = prost_types::Timestamp {
        seconds: app.clock.now().timestamp() + 60,
        nanos: 0,
    };
    assert!(
        vendor
            .export_stix(Some(later), vec![])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_bundle_exported_by_misp_gets_an_answer_for_every_object(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let fixture = include_bytes!("../fixtures/stix/misp/test_event1_stix21.json");
    let defaults = pb::StixImportDefaults {
        information: Some(pb::stix_import_defaults::Information::Warning(
            pb::WarningInformation {
                colour: pb::WarningColour::Blue as i32,
                description: "Imported from a MISP event".into(),
                possible_harm_and_degree: "unknown".into(),
                affected_users_and_scope: "unknown".into(),
                already_known_to: "the MISP community".into(),
                recommended_countermeasures: "review".into(),
            },
        )),
        tlp: pb::Tlp::Green as i32,
        ..Default::default()
    };
    let acks = vendor.import_stix(fixture, Some(defaults)).await.unwrap();
    let by_id: HashMap<&str, &pb::StixObjectResult> =
        acks.iter().map(|a| (a.object_id.as_str(), a)).collect();
    assert_eq!(acks.len(), 9);
    let indicator = by_id["indicator--4bb235a7-7d25-4aef-802f-2c6b45c5eceb"];
    assert_eq!(
        outcome(indicator),
        pb::StixObjectOutcome::Stored,
        "{indicator:?}"
    );
    assert!(
        indicator
            .notes
            .iter()
            .any(|n| n.contains("the import's default TLP:GREEN")),
        "{:?}",
        indicator.notes
    );
    for used in [
        "identity--a0c22599-9e58-4da4-96ac-7051603fa951",
        "domain-name--4bb235a7-7d25-4aef-802f-2c6b45c5eceb",
    ] {
        assert_eq!(outcome(by_id[used]), pb::StixObjectOutcome::Used, "{used}");
        assert_eq!(by_id[used].used_by, indicator.object_id);
    }
    for a in &acks {
        if !matches!(a.r#type.as_str(), "indicator" | "identity" | "domain-name") {
            assert_eq!(outcome(a), pb::StixObjectOutcome::Refused, "{a:?}");
            assert!(!a.refusal.as_ref().unwrap().reason.is_empty());
        }
    }
    let found = vendor.search("circl.lu").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].dedup_key, "domain:circl.lu");
}

async fn the_cli_exports_a_bundle_and_submits_it_back_and_a_rerun_replays(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let originals = reports(&app, pb::Tlp::Amber);
    submit_all(&vendor, "native", &originals[..3]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.json");
    let since = (app.clock.now() - chrono::Duration::days(1)).to_rfc3339();
    let (code, _, err) = cli(
        &app,
        "vendor-bj",
        &[
            "threat",
            "export",
            "--since",
            &since,
            "--format",
            "stix",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("3 sightings"), "{err}");
    let bundle: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(sightings_of(bundle["objects"].as_array().unwrap()).len(), 3);

    let run = |org: &str| {
        let (code, out, err) = cli(
            &app,
            org,
            &["threat", "submit", file.to_str().unwrap(), "--json"],
        );
        assert_eq!(code, 0, "{err}");
        json_lines(&out)
    };
    // The reporter submitting its own export: its sightings, stored already.
    let own = run("vendor-bj");
    let own: Vec<&Value> = own.iter().filter(|l| l["type"] == "sighting").collect();
    assert_eq!(own.len(), 3);
    assert!(own.iter().all(|l| l["outcome"] == "replayed"), "{own:?}");
    // Another unit submitting it: new sightings, then a rerun replays.
    let first = run("telecom-gd");
    let summary = first.last().unwrap();
    assert_eq!(summary["summary"], true);
    assert_eq!(
        summary["objects"],
        bundle["objects"].as_array().unwrap().len()
    );
    assert_eq!(summary["refused"], 0);
    let stored: Vec<&Value> = first.iter().filter(|l| l["type"] == "sighting").collect();
    assert_eq!(stored.len(), 3);
    assert!(
        stored.iter().all(|l| l["outcome"] == "sighting"),
        "{stored:?}"
    );
    let again = run("telecom-gd");
    assert!(
        again
            .iter()
            .filter(|l| l["type"] == "sighting")
            .all(|l| l["outcome"] == "replayed"),
        "{again:?}"
    );
    // Not a bundle: refused before anything is sent.
    let other = dir.path().join("x.json");
    std::fs::write(&other, "{\"type\": \"report\"}").unwrap();
    let (code, _, err) = cli(
        &app,
        "vendor-bj",
        &["threat", "submit", other.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a STIX 2.1 bundle"), "{err}");
}

/// The venv's Python with stix2 and stix2-validator (.ci/run makes `.venv` from
/// scripts/requirements.txt; FENGHUO_STIX_PYTHON overrides). None: skip, unless CI is set.
pub(crate) fn oasis_python() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("FENGHUO_STIX_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
        });
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: .ci/run makes the venv from scripts/requirements.txt",
        path.display()
    );
    None
}

async fn an_export_of_every_kind_passes_the_oasis_validator_and_parses_with_stix2(
    backend: Backend,
) {
    let Some(python) = oasis_python() else {
        return;
    };
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let mut all = reports(&app, pb::Tlp::Green);
    all[0].tlp = pb::Tlp::Red as i32;
    all[1].tlp = pb::Tlp::AmberStrict as i32;
    all[2].tlp = pb::Tlp::Clear as i32;
    all[3].tlp = pb::Tlp::Amber as i32;
    submit_all(&vendor, "kinds", &all).await;
    let bundles = vendor.export_stix(None, vec![]).await.unwrap();
    assert_eq!(bundles.len(), 1);
    assert_valid(&python, &bundles[0]);
}

/// Runs scripts/stix/validate.py (stix2-validator, zero errors; stix2.parse) on a bundle.
pub(crate) fn assert_valid(python: &std::path::Path, bundle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/stix/validate.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("valid (0 errors"), "{stdout}");
}

#[tokio::test]
async fn an_export_request_with_an_unknown_category_or_too_large_bundles_is_refused_naming_the_field()
 {
    use tonic_types::StatusExt;
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let threats = app.client("vendor-bj").await.threats();
    for (request, field, words) in [
        (
            pb::ExportStixRequest {
                categories: vec![99],
                ..Default::default()
            },
            "categories[0]",
            "unknown category",
        ),
        (
            pb::ExportStixRequest {
                max_sightings_per_bundle: 501,
                ..Default::default()
            },
            "max_sightings_per_bundle",
            "at most 500 sightings per bundle",
        ),
    ] {
        let err = threats.clone().export_stix(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        let violation = &err.get_details_bad_request().unwrap().field_violations[0];
        assert_eq!(violation.field, field);
        assert!(violation.description.contains(words), "{violation:?}");
    }
}
