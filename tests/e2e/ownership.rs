//! The ownership registry and routing (Art. 9): who is responsible for X.

use fenghuo::domain::clock::Clock;
use fenghuo_client::{Client, pb};
use tonic::Code;
use tonic_types::StatusExt;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};
use crate::threats::{ip, report};

fn entry(kind: pb::OwnershipKind, value: &str, owner: &str) -> pb::OwnershipEntry {
    pb::OwnershipEntry {
        kind: kind as i32,
        value: value.into(),
        owner_organisation_id: owner.into(),
        ..Default::default()
    }
}

/// A holding: the party uses the resource, the provider stays responsible (Art. 8, 10).
fn holder(kind: pb::OwnershipKind, value: &str, owner: &str) -> pb::OwnershipEntry {
    pb::OwnershipEntry {
        relation: pb::OwnershipRelation::Holder as i32,
        ..entry(kind, value, owner)
    }
}

async fn import(
    client: &Client,
    entries: Vec<pb::OwnershipEntry>,
) -> Result<pb::ImportOwnershipEntriesResponse, tonic::Status> {
    client
        .registry()
        .import_ownership_entries(pb::ImportOwnershipEntriesRequest {
            entries,
            replace_owner_entries: false,
        })
        .await
        .map(|r| r.into_inner())
}

async fn who(client: &Client, resource: &str) -> Result<String, tonic::Status> {
    client
        .registry()
        .lookup_responsible(pb::LookupResponsibleRequest {
            resource: resource.into(),
            at: None,
        })
        .await
        .map(|r| r.into_inner().organisation_id)
}

async fn seed(app: &TestApp) {
    app.add_organisation("cnnic-demo", pb::Role::DomainRegistry, "110000", "")
        .await;
    use pb::OwnershipKind as K;
    let mut prefix_origin = entry(K::PrefixOrigin, "61.140.0.0/14", "telecom-gd");
    prefix_origin.origin_asn = 4134;
    import(
        &app.client("miit").await,
        vec![
            entry(K::IpPrefix, "58.60.0.0/14", "telecom-gd"),
            holder(K::IpPrefix, "58.60.1.0/24", "party-gd"),
            entry(K::IpPrefix, "240e::/20", "telecom-gd"),
            entry(K::Asn, "AS4134", "telecom-gd"),
            prefix_origin,
            entry(K::RegistrySuffix, "cn", "cnnic-demo"),
            entry(K::RegisteredDomain, "example.cn", "registrar-bj"),
            entry(K::MailDomain, "mail-example.cn", "registrar-bj"),
            entry(K::NumberPrefix, "+86138", "telecom-gd"),
        ],
    )
    .await
    .unwrap();
}

on_both_backends!(
    lookups_route_each_kind_of_resource_to_the_responsible_unit,
    amber_reaches_the_units_responsible_for_the_indicator
);

async fn lookups_route_each_kind_of_resource_to_the_responsible_unit(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    seed(&app).await;
    let gdca = app.client("gdca").await;
    for (resource, owner) in [
        // The party holding 58.60.1.0/24 is not responsible for it: its provider is.
        ("58.60.1.7", "telecom-gd"),
        ("58.61.200.1", "telecom-gd"),
        ("240e:1::1", "telecom-gd"),
        ("61.140.0.9", "telecom-gd"),
        ("www.example.cn", "registrar-bj"),
        ("other.cn", "cnnic-demo"),
        ("https://shop.example.cn/pay?x=1", "registrar-bj"),
        ("phisher@mail-example.cn", "registrar-bj"),
        ("+8613800138000", "telecom-gd"),
    ] {
        assert_eq!(who(&gdca, resource).await.unwrap(), owner, "{resource}");
    }
    let err = who(&gdca, "8.8.8.8").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(
        err.message().contains("national regulator"),
        "{}",
        err.message()
    );

    let holders = |at: Option<chrono::DateTime<chrono::Utc>>| {
        let gdca = gdca.clone();
        async move {
            gdca.registry()
                .lookup_responsible(pb::LookupResponsibleRequest {
                    resource: "58.60.1.7".into(),
                    at: at.map(|t| prost_types::Timestamp {
                        seconds: t.timestamp(),
                        nanos: 0,
                    }),
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let now = holders(None).await;
    assert_eq!(now.matched.unwrap().value, "58.60.0.0/14");
    assert_eq!(
        now.holders
            .iter()
            .map(|h| (h.owner_organisation_id.as_str(), h.value.as_str()))
            .collect::<Vec<_>>(),
        [("party-gd", "58.60.1.0/24")]
    );

    // Removing the holding ends it, and history still answers.
    app.clock.advance(chrono::Duration::minutes(1));
    let before = app.clock.now();
    app.clock.advance(chrono::Duration::minutes(1));
    let party = app.client("party-gd").await;
    let listed = party
        .registry()
        .list_ownership_entries(pb::ListOwnershipEntriesRequest {
            owner_organisation_id: "party-gd".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].relation, pb::OwnershipRelation::Holder as i32);
    party
        .registry()
        .remove_ownership_entry(pb::RemoveOwnershipEntryRequest {
            id: listed[0].id.clone(),
        })
        .await
        .unwrap();
    assert!(holders(None).await.holders.is_empty());
    let then = holders(Some(before)).await;
    assert_eq!(then.organisation_id, "telecom-gd");
    assert_eq!(then.holders.len(), 1);
    assert_eq!(then.holders[0].owner_organisation_id, "party-gd");

    // A unit declares only its own resources, and cannot take another's.
    let telecom = app.client("telecom-gd").await;
    let err = import(
        &telecom,
        vec![entry(
            pb::OwnershipKind::IpPrefix,
            "1.2.3.0/24",
            "vendor-bj",
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = import(
        &telecom,
        vec![entry(
            pb::OwnershipKind::RegisteredDomain,
            "example.cn",
            "telecom-gd",
        )],
    )
    .await
    .unwrap_err();
    // A telecom is not a registrar: it cannot be responsible for a registered domain.
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("domain_registrar"),
        "{}",
        err.message()
    );
    let err = import(
        &telecom,
        vec![entry(
            pb::OwnershipKind::IpPrefix,
            "58.60.0.1/14",
            "telecom-gd",
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "entries[0].value"
    );
    let err = import(&telecom, vec![]).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

async fn amber_reaches_the_units_responsible_for_the_indicator(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    seed(&app).await;
    let vendor = app.client("vendor-bj").await;
    let ack = vendor
        .unit()
        .submit("amber-1", report(&app, pb::Tlp::Amber, ip("58.61.9.9")))
        .await
        .unwrap();
    // The telecom holding 58.60.0.0/14 reads it; a registrar does not.
    let seen = app
        .client("telecom-gd")
        .await
        .threat(&ack.threat_id)
        .await
        .unwrap();
    assert_eq!(seen.sighting_count, 1);
    let err = app
        .client("registrar-bj")
        .await
        .threat(&ack.threat_id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_imports_a_csv_file_and_looks_up_a_resource() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("entries.csv");
    std::fs::write(
        &csv,
        "kind,value,origin_asn,owner,province,relation\nip_prefix,58.60.0.0/14,,telecom-gd,,\nip_prefix,58.60.1.0/24,,party-gd,440000,holder\nasn,4134,,telecom-gd,,responsible\n",
    )
    .unwrap();
    let miit = app.pki().client_dir("miit");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
            .args(args)
            .args(["--endpoint", &app.endpoint, "--pki", miit.to_str().unwrap()])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["ownership", "import", csv.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("imported 3 entries"), "{out}");
    let (ok, out, err) = run(&["ownership", "lookup", "58.60.1.200"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(
            "telecom-gd province=440000 via 58.60.0.0/14 held by party-gd (58.60.1.0/24)"
        ),
        "{out}"
    );
    std::fs::write(
        &csv,
        "kind,value,origin_asn,owner,province\nprefix,58.60.0.0/14,,telecom-gd,\n",
    )
    .unwrap();
    let (ok, _, err) = run(&["ownership", "import", csv.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("line 2") && err.contains("is not an ownership kind"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_csv_line_is_named_and_a_rerun_resumes_without_duplicates() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("entries.csv");
    // 12,000 entries: line n + 2 declares 60.(n / 256).(n % 256).0/24 for telecom-gd.
    let write = |bad_line: Option<(u64, &str)>| {
        let mut text = String::from("kind,value,origin_asn,owner,province\n");
        for n in 0..12_000u64 {
            match bad_line {
                Some((line, row)) if line == n + 2 => text.push_str(row),
                _ => text.push_str(&format!(
                    "ip_prefix,60.{}.{}.0/24,,telecom-gd,\n",
                    n / 256,
                    n % 256
                )),
            }
        }
        std::fs::write(&csv, text).unwrap();
    };
    let miit = app.pki().client_dir("miit");
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
            .args(["ownership", "import", csv.to_str().unwrap()])
            .args(["--endpoint", &app.endpoint, "--pki", miit.to_str().unwrap()])
            .env_remove("FENGHUO_TOKEN")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let current = || async {
        app.client("miit")
            .await
            .registry()
            .list_ownership_entries(pb::ListOwnershipEntriesRequest {
                owner_organisation_id: "telecom-gd".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
    };

    // Wrong in itself: found before anything is sent, named by its line, in ownership terms.
    write(Some((11_002, "ip_prefix,10.1.0.0/16,,telecom-gd,\n")));
    let (ok, _, err) = run();
    assert!(!ok);
    assert!(err.contains("line 11002: value: 10.1.0.0/16"), "{err}");
    assert!(err.contains("private-use"), "{err}");
    assert!(!err.contains("threat"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(current().await.entries.is_empty());

    // Refused by the server (an owner it does not know): the batches before it stay.
    write(Some((11_002, "ip_prefix,61.0.0.0/24,,nobody-here,\n")));
    let (ok, _, err) = run();
    assert!(!ok);
    assert!(err.contains("line 11002:"), "{err}");
    assert!(err.contains("nobody-here is not registered"), "{err}");
    assert!(err.contains("imported 10000 entries"), "{err}");

    // The fixed file, run again: the committed part is recognised, nothing is doubled.
    write(None);
    let (ok, out, err) = run();
    assert!(ok, "{err}");
    assert!(
        out.contains("imported 2000 entries, replaced 0, unchanged 10000"),
        "{out}"
    );
    let (ok, out, err) = run();
    assert!(ok, "{err}");
    assert!(
        out.contains("imported 0 entries, replaced 0, unchanged 12000"),
        "{out}"
    );
}
