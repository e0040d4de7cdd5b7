//! The STIX workflows' unit tests: whose ordered measures an exporter sees, and the import
//! defaults' checks.

use super::*;
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::domain::organisation::Role;
use crate::pb;
use crate::store::taxii::NoticeReader;

fn caller(role: Role) -> Caller {
    Caller {
        organisation_id: "org".into(),
        roles: vec![role],
        province: "440000".into(),
        certificate_fingerprint: String::new(),
        officer: None,
        rpc: "ThreatService.ExportStix".into(),
        scope: Scope::Allow,
    }
}

#[test]
fn an_exporters_ordered_measures_follow_the_list_notices_row_not_export_stixs() {
    assert!(matches!(
        notice_reader_of(&caller(Role::NationalRegulator)),
        Some(NoticeReader::All)
    ));
    assert!(matches!(
        notice_reader_of(&caller(Role::ProvincialRegulator)),
        Some(NoticeReader::Province { province, org }) if province == "440000" && org == "org"
    ));
    assert!(matches!(
        notice_reader_of(&caller(Role::BasicTelecom)),
        Some(NoticeReader::Addressee(org)) if org == "org"
    ));
    // ExportStix allows the platform operator; ListNotices does not.
    assert!(notice_reader_of(&caller(Role::PlatformOperator)).is_none());
}

#[test]
fn import_defaults_name_the_field_the_rule_and_the_article() {
    let field = |d: Option<pb::StixImportDefaults>| ImportDefaults::parse(d).unwrap_err();
    assert_eq!(field(None).field, "defaults");
    let e = field(Some(pb::StixImportDefaults::default()));
    assert_eq!(e.field, "defaults.information");
    assert!(e.reason.contains("Art. 10-11"), "{e:?}");
    let warning = |w: pb::WarningInformation| pb::StixImportDefaults {
        information: Some(pb::stix_import_defaults::Information::Warning(w)),
        ..Default::default()
    };
    let e = field(Some(warning(pb::WarningInformation::default())));
    assert_eq!(e.field, "defaults.warning.colour");
    let mut w = pb::WarningInformation {
        colour: pb::WarningColour::Blue as i32,
        description: "phishing wave".into(),
        ..Default::default()
    };
    let e = field(Some(warning(w.clone())));
    assert_eq!(e.field, "defaults.warning.possible_harm_and_degree");
    assert!(e.reason.contains("Art. 15"), "{e:?}");
    w.possible_harm_and_degree = "credential theft".into();
    w.affected_users_and_scope = "bank customers".into();
    w.already_known_to = "CNCERT".into();
    w.recommended_countermeasures = "block the domains".into();
    let ok = warning(w);
    assert!(ImportDefaults::parse(Some(ok.clone())).is_ok());
    let e = field(Some(pb::StixImportDefaults {
        kind: 9,
        ..ok.clone()
    }));
    assert_eq!(e.field, "defaults.kind");
    let e = field(Some(pb::StixImportDefaults { tlp: 9, ..ok }));
    assert_eq!(e.field, "defaults.tlp");
}
