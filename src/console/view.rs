//! Protobuf answers as the words and numbers a page shows: Asia/Shanghai times, dates,
//! enum names in the page's language, charts as images.

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;

use super::labels::Lang;
use crate::pb;

/// An instant as Beijing time, "2026-12-04 09:30"; empty when unset.
pub fn when(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| {
            t.with_timezone(&Shanghai)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

pub fn date(d: Option<&pb::Date>) -> String {
    d.filter(|d| d.year != 0)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default()
}

pub fn naive(d: &pb::Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        d.year,
        u32::try_from(d.month).ok()?,
        u32::try_from(d.day).ok()?,
    )
}

pub fn pb_date(d: NaiveDate) -> pb::Date {
    use chrono::Datelike;
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// A protobuf enum value in words ("NOTICE_STATE_RECEIVED" → "已签收").
macro_rules! enum_words {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(pub fn $name(l: Lang, value: i32) -> String {
            match <$ty>::try_from(value) {
                Ok(v) => l.e(v.as_str_name()),
                Err(_) => value.to_string(),
            }
        })*
    };
}

enum_words! {
    category: pb::ThreatCategory,
    threat_status: pb::ThreatStatus,
    grade: pb::EventGrade,
    tlp: pb::Tlp,
    measure_type: pb::MeasureType,
    target_kind: pb::MeasureTargetKind,
    notice_kind: pb::NoticeKind,
    notice_state: pb::NoticeState,
    disposal_outcome: pb::DisposalOutcome,
    verification_outcome: pb::VerificationOutcome,
    non_compliance_kind: pb::NonComplianceKind,
    appeal_state: pb::AppealState,
    appeal_decision: pb::AppealDecision,
    appellant_kind: pb::AppellantKind,
}

/// A `<select>` option: the enum's wire name as value, its words as label.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The options of an enum, UNSPECIFIED left out.
pub fn choices(l: Lang, names: &[&str], selected: &str) -> Vec<Choice> {
    names
        .iter()
        .map(|n| Choice {
            value: (*n).to_owned(),
            label: l.e(n),
            selected: *n == selected,
        })
        .collect()
}

pub const CATEGORIES: &[&str] = &[
    "THREAT_CATEGORY_MALICIOUS_RESOURCE",
    "THREAT_CATEGORY_MALICIOUS_PROGRAM",
    "THREAT_CATEGORY_SECURITY_HAZARD",
    "THREAT_CATEGORY_SECURITY_INCIDENT",
    "THREAT_CATEGORY_OTHER",
];
pub const THREAT_STATUSES: &[&str] = &[
    "THREAT_STATUS_UNIDENTIFIED",
    "THREAT_STATUS_CONFIRMED",
    "THREAT_STATUS_REJECTED",
];
pub const GRADES: &[&str] = &[
    "EVENT_GRADE_PARTICULARLY_SERIOUS",
    "EVENT_GRADE_SERIOUS",
    "EVENT_GRADE_MAJOR",
    "EVENT_GRADE_GENERAL",
];
pub const OUTCOMES: &[&str] = &[
    "IDENTIFICATION_OUTCOME_CONFIRMED",
    "IDENTIFICATION_OUTCOME_REJECTED",
];
pub const MEASURE_TYPES: &[&str] = &[
    "MEASURE_TYPE_STOP_SERVICE_OR_BLOCK",
    "MEASURE_TYPE_REMOVE_MALWARE",
    "MEASURE_TYPE_RECTIFY",
    "MEASURE_TYPE_OTHER",
];
pub const TARGET_KINDS: &[&str] = &[
    "MEASURE_TARGET_KIND_IP",
    "MEASURE_TARGET_KIND_BROADBAND_ACCOUNT",
    "MEASURE_TARGET_KIND_DOMAIN",
    "MEASURE_TARGET_KIND_URL",
    "MEASURE_TARGET_KIND_EMAIL_ACCOUNT",
    "MEASURE_TARGET_KIND_PHONE_NUMBER",
    "MEASURE_TARGET_KIND_SYSTEM",
];
pub const NOTICE_STATES: &[&str] = &[
    "NOTICE_STATE_ISSUED",
    "NOTICE_STATE_AWAITING_OFFLINE_NOTIFICATION",
    "NOTICE_STATE_NOTIFIED_OFFLINE",
    "NOTICE_STATE_RECEIVED",
    "NOTICE_STATE_RESULTS_REPORTED",
    "NOTICE_STATE_VERIFIED",
    "NOTICE_STATE_REVOKED",
    "NOTICE_STATE_LIFTED",
];
pub const APPEAL_STATES: &[&str] = &[
    "APPEAL_STATE_OPEN",
    "APPEAL_STATE_WITHDRAWN",
    "APPEAL_STATE_ANSWERED",
];
pub const ANSWERS: &[&str] = &["APPEAL_DECISION_UPHELD", "APPEAL_DECISION_REVOKED"];

/// A chart drawn by the bulletin's renderer, as an `<img>` source (a data: URI keeps the
/// page's CSP strict: an image's SVG runs no script and needs no inline style).
pub fn chart(
    kind: crate::bulletin::ChartKind,
    caption: &str,
    unit: &str,
    points: Vec<(String, f64)>,
) -> String {
    let chart = crate::bulletin::Chart {
        kind,
        caption: caption.to_owned(),
        unit: unit.to_owned(),
        points,
    };
    match crate::bulletin::charts::svg(&chart) {
        Ok(svg) => format!(
            "data:image/svg+xml;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(svg)
        ),
        Err(e) => {
            tracing::warn!(error = %e, "console: a chart could not be drawn");
            String::new()
        }
    }
}

/// A notice's signed body, decoded for display (the signature is the addressee's to check).
pub fn notice_body(n: &pb::Notice) -> pb::NoticeBody {
    use prost::Message as _;
    n.signed
        .as_ref()
        .and_then(|s| pb::NoticeBody::decode(s.body.as_slice()).ok())
        .unwrap_or_default()
}
