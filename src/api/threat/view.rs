//! Stored threats and sightings as the contract shows them.

use prost::Message;

use super::super::timestamp;
use crate::pb;
use crate::store::threats::{SightingRow, SightingStats, ThreatRow};

/// A sighting as shown: its current TLP, and inline evidence replaced by its digest.
pub fn sighting(row: &SightingRow) -> pb::Sighting {
    let mut report = pb::ThreatReport::decode(row.report.as_slice()).unwrap_or_default();
    report.tlp = row.tlp as i32;
    for ev in &mut report.evidence {
        if let Some(pb::evidence_item::Content::Data(d)) = &ev.content {
            use sha2::Digest;
            ev.size_bytes = d.len() as u64;
            ev.content = Some(pb::evidence_item::Content::Sha256(hex::encode(
                sha2::Sha256::digest(d),
            )));
        }
    }
    pb::Sighting {
        id: row.id.clone(),
        threat_id: row.threat_id.clone(),
        reporter_organisation_id: row.reporter_org.clone(),
        received_at: Some(timestamp(row.received_at)),
        report: Some(report),
        report_due: row.report_due.map(timestamp),
        reported_late: row.reported_late != 0,
        report_deadline: row.report_deadline.clone().unwrap_or_default(),
    }
}

/// The TLP the sighting was reported with (the row holds the current one).
pub fn reported_tlp(row: &SightingRow) -> i64 {
    pb::ThreatReport::decode(row.report.as_slice())
        .map(|r| i64::from(r.tlp))
        .unwrap_or(row.tlp)
}

pub fn threat(row: &ThreatRow, stats: SightingStats, sightings: Vec<pb::Sighting>) -> pb::Threat {
    pb::Threat {
        id: row.id.clone(),
        category: row.category as i32,
        dedup_key: row.dedup_key.clone().unwrap_or_default(),
        indicator: row.indicator.clone(),
        status: row.status as i32,
        grade: row.grade as i32,
        sighting_count: stats.count as u64,
        first_seen: (stats.count > 0).then(|| timestamp(stats.first_seen)),
        last_seen: (stats.count > 0).then(|| timestamp(stats.last_seen)),
        sightings,
        identification: row
            .identification_json
            .as_deref()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
            .map(|v| identification_summary(&v)),
    }
}

/// The Art. 7 outcome in brief, from the summary stored on the threat and the feed event.
pub fn identification_summary(v: &serde_json::Value) -> pb::IdentificationSummary {
    pb::IdentificationSummary {
        identification_id: v["identification_id"].as_str().unwrap_or_default().into(),
        outcome: v["outcome"].as_i64().unwrap_or_default() as i32,
        grade: v["grade"].as_i64().unwrap_or_default() as i32,
        institution_organisation_id: v["institution"].as_str().unwrap_or_default().into(),
        identified_at: v["identified_at"].as_i64().map(timestamp),
        reason: v["reason"].as_str().unwrap_or_default().into(),
        threshold_grade: v["threshold_grade"].as_i64().unwrap_or_default() as i32,
        grade_reason: v["grade_reason"].as_str().unwrap_or_default().into(),
    }
}

pub fn encode_cursor(position: i64) -> String {
    crate::store::page::encode_position('p', position)
}

pub fn decode_cursor(cursor: &str) -> Option<i64> {
    crate::store::page::decode_position('p', cursor)
}
