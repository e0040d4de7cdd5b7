//! Who sees an appeal and what of it, and that a closed appeal stays closed: rules that were
//! reachable only through a server before they moved here.

use super::*;
use crate::domain::organisation::Role;

fn row(state: AppealState) -> AppealRow {
    AppealRow {
        id: "a-1".into(),
        notice_id: "n-1".into(),
        target_id: "t-1".into(),
        regulator: "ca-guangdong".into(),
        province: "guangdong".into(),
        appellant_kind: pb::AppellantKind::AddresseeForCustomer as i64,
        filer: "telecom-gd".into(),
        appellant_key: "customer:telecom-gd:110101".into(),
        state,
        filed_at: 0,
        answer_due_at: None,
        overdue: 0,
        body: Vec::new(),
    }
}

#[test]
fn the_filer_the_deciding_and_national_regulators_and_the_provinces_regulator_see_an_appeal() {
    let r = row(AppealState::Open);
    let sees = |c: Caller| may_see(&c, &r);
    assert!(sees(Caller::for_test(
        "telecom-gd",
        Role::BasicTelecom,
        "guangdong",
        Scope::OwnOrganisation
    )));
    assert!(sees(Caller::for_test(
        "ca-guangdong",
        Role::ProvincialRegulator,
        "guangdong",
        Scope::OwnProvince
    )));
    assert!(sees(Caller::for_test(
        "miit",
        Role::NationalRegulator,
        "national",
        Scope::Allow
    )));
    assert!(!sees(Caller::for_test(
        "ca-beijing",
        Role::ProvincialRegulator,
        "beijing",
        Scope::OwnProvince
    )));
    assert!(!sees(Caller::for_test(
        "telecom-bj",
        Role::BasicTelecom,
        "guangdong",
        Scope::OwnOrganisation
    )));
}

#[test]
fn a_customers_identity_number_is_shown_only_to_the_filer_and_regulators() {
    let appeal = pb::Appeal {
        filer_organisation_id: "telecom-gd".into(),
        appellant: Some(pb::AppellantIdentity {
            name: "Zhang San".into(),
            identity_number: "110101199003070000".into(),
            contact: "+86 138 0000 0000".into(),
        }),
        ..Default::default()
    };
    let number = |c: Caller| {
        shown(&c, appeal.clone())
            .appellant
            .map(|a| a.identity_number)
            .unwrap_or_default()
    };
    let filer = Caller::for_test(
        "telecom-gd",
        Role::BasicTelecom,
        "guangdong",
        Scope::OwnOrganisation,
    );
    let regulator = Caller::for_test(
        "ca-guangdong",
        Role::ProvincialRegulator,
        "guangdong",
        Scope::OwnProvince,
    );
    let other = Caller::for_test(
        "party-gd",
        Role::AffectedParty,
        "guangdong",
        Scope::OwnOrganisation,
    );
    assert_eq!(number(filer), "110101199003070000");
    assert_eq!(number(regulator), "110101199003070000");
    assert_eq!(number(other), "");
}

#[test]
fn an_answered_or_withdrawn_appeal_cannot_be_answered_or_withdrawn_again() {
    assert_eq!(
        transition(&row(AppealState::Open), AppealEvent::Withdraw).expect("open"),
        AppealState::Withdrawn
    );
    for closed in [AppealState::Answered, AppealState::Withdrawn] {
        for event in [AppealEvent::Answer, AppealEvent::Withdraw] {
            let e = transition(&row(closed), event).expect_err("closed");
            assert_eq!(e.appeal_id, "a-1");
            assert!(e.to_string().contains("answered or withdrawn once"), "{e}");
        }
    }
}
