//! The regulator's decisions on ownership claims from the CLI (Art. 9), the binary run as a
//! process over real mTLS: a unit's claim outside its own space waits; the regulator lists,
//! approves one and refuses the other.

use fenghuo_client::pb;
use pb::OwnershipKind as O;

use crate::disposal::confirmed_threat;
use crate::disposal_cli::{cli, json_lines};
use crate::on_both_backends;
use crate::routing_rules::{entry, import};
use crate::support::{Backend, spawn_app};

on_both_backends!(a_regulator_approves_and_refuses_pending_ownership_claims_from_the_cli);

async fn a_regulator_approves_and_refuses_pending_ownership_claims_from_the_cli(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_organisation("telecom-gd2", pb::Role::BasicTelecom, "440000", "")
        .await;
    confirmed_threat(&app, pb::EventGrade::Major).await;
    // Claims on another telecom's space wait for the regulator.
    let answer = import(
        &app.client("telecom-gd2").await,
        vec![
            entry(O::IpPrefix, "58.60.0.0/14", "telecom-gd2"),
            entry(O::IpPrefix, "58.60.0.0/16", "telecom-gd2"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(answer.pending_entry_ids.len(), 2, "{answer:?}");
    let token = app.token("miit", "duty-officer");
    let miit = |args: &[&str]| cli(&app, "miit", Some(&token), args);
    let (ok, out, err) = miit(&["ownership", "pending", "--json"]);
    assert!(ok, "{err}");
    let pending = json_lines(&out);
    assert_eq!(pending.len(), 2, "{out}");
    assert_eq!(pending[0]["approval"], "OWNERSHIP_APPROVAL_PENDING");
    let (first, second) = (
        pending[0]["id"].as_str().unwrap().to_owned(),
        pending[1]["id"].as_str().unwrap().to_owned(),
    );

    // A decision needs its reason; the unit itself cannot decide.
    let (ok, _, err) = miit(&["ownership", "approve", &first, "--reason", " "]);
    assert!(!ok);
    assert!(err.contains("field reason"), "{err}");
    let (ok, _, err) = cli(
        &app,
        "telecom-gd2",
        None,
        &["ownership", "approve", &first, "--reason", "mine"],
    );
    assert!(!ok);
    assert!(err.contains("PermissionDenied"), "{err}");

    let (ok, out, err) = miit(&[
        "ownership",
        "approve",
        &first,
        "--reason",
        "transfer of the block confirmed by both telecoms",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        json_lines(&out)[0]["approval"],
        "OWNERSHIP_APPROVAL_APPROVED"
    );
    let (ok, out, err) = miit(&[
        "ownership",
        "refuse",
        &second,
        "--reason",
        "no contract with the address holder",
        "--json",
    ]);
    assert!(ok, "{err}");
    let refused = &json_lines(&out)[0];
    assert_eq!(refused["approval"], "OWNERSHIP_APPROVAL_REFUSED");
    assert!(refused["valid_until"].is_string(), "{out}");
    let (ok, _, err) = miit(&["ownership", "refuse", &second, "--reason", "again"]);
    assert!(!ok);
    assert!(err.contains("precondition NOT_PENDING"), "{err}");
    let (ok, _, err) = miit(&["ownership", "pending"]);
    assert!(ok);
    assert!(err.contains("no entries wait"), "{err}");
}
