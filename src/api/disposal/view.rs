//! Stored notices as the contract shows them.

use prost::Message;
use tonic::Status;

use crate::api::{internal, optional_timestamp, timestamp};
use crate::domain::notice::{self, NoticeKind};
use crate::pb;
use crate::store::notices::{NonComplianceRow, NoticeRow, ReviewRow, TargetRow};

pub fn body(row: &NoticeRow) -> Result<pb::NoticeBody, Status> {
    pb::NoticeBody::decode(row.body.as_slice()).map_err(internal)
}

fn decode<M: Message + Default>(bytes: Option<&Vec<u8>>) -> Option<M> {
    bytes.and_then(|b| M::decode(b.as_slice()).ok())
}

pub fn status(row: &NoticeRow, targets: &[TargetRow]) -> pb::NoticeStatus {
    pb::NoticeStatus {
        // The lifecycle's derivation, the one the workflows store.
        state: crate::disposal::facts(row, targets).state() as i32,
        received_at: optional_timestamp(row.received_at),
        targets: targets
            .iter()
            .map(|t| pb::TargetProgress {
                target_id: t.target_id.clone(),
                result: decode(t.result.as_ref()),
                result_reported_at: optional_timestamp(t.result_reported_at),
                verification_due: optional_timestamp(t.verification_due),
                verification: decode(t.verification.as_ref()),
                revocation_notice_id: t.revocation_notice_id.clone().unwrap_or_default(),
                lifted_at: optional_timestamp(t.lifted_at),
            })
            .collect(),
        offline_notification: decode(row.offline.as_ref()),
        open_appeal_ids: Vec::new(),
        result_deadline: if row.kind == NoticeKind::Disposal {
            optional_timestamp(row.deadline)
        } else {
            None
        },
    }
}

pub fn signed(row: &NoticeRow) -> pb::SignedNotice {
    pb::SignedNotice {
        body: row.body.clone(),
        signature: row.signature.clone(),
        key_id: row.key_id.clone(),
        signer_chain_der: vec![row.signer_certificate.clone()],
    }
}

pub fn notice(row: &NoticeRow, targets: &[TargetRow]) -> pb::Notice {
    pb::Notice {
        notice_id: row.id.clone(),
        signed: Some(signed(row)),
        status: Some(status(row, targets)),
    }
}

/// Notices with their targets, in the order given.
pub fn notices(rows: &[NoticeRow], targets: &[TargetRow]) -> Vec<pb::Notice> {
    rows.iter()
        .map(|r| {
            let own: Vec<TargetRow> = targets
                .iter()
                .filter(|t| t.notice_id == r.id)
                .cloned()
                .collect();
            notice(r, &own)
        })
        .collect()
}

pub fn encode_cursor(position: i64) -> String {
    crate::store::page::encode_position('n', position)
}

pub fn decode_cursor(cursor: &str) -> Option<i64> {
    crate::store::page::decode_position('n', cursor)
}

pub fn review_item(row: &ReviewRow) -> Result<pb::ReviewQueueItem, Status> {
    pb::ReviewQueueItem::decode(row.body.as_slice()).map_err(internal)
}

pub fn non_compliance(
    row: &NonComplianceRow,
    enforcement_ids: Vec<String>,
) -> pb::NonComplianceRecord {
    pb::NonComplianceRecord {
        id: row.id.clone(),
        kind: row.kind as i32,
        organisation_id: row.org_id.clone(),
        notice_id: row.notice_id.clone(),
        target_id: row.target_id.clone(),
        due_at: Some(timestamp(row.due_at)),
        recorded_at: Some(timestamp(row.recorded_at)),
        fulfilled_at: optional_timestamp(row.fulfilled_at),
        enforcement_ids,
        art12_breach: notice::is_art12_breach(row.kind),
    }
}
